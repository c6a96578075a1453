//! What the widget does with an event once its handlers are done: read back what `pre:*`
//! handlers changed, apply it (view state, transcript, outbox, thread id, auth token) and fire
//! the follow-up event. Also the entry points that start those chains (`changeView`, clicks,
//! `send`, the transport's deltas and messages).
//!
//! Invariant: values handlers could have replaced with getters are read before any widget
//! borrow is taken; only DOM calls that run no page script happen under a borrow.

use super::js::{self, get, object, set};
use super::run::{emit, resolve, After, Job, Then};
use super::{Ready, Stream, Widget};
use crate::events::EventType;
use crate::view::{Cause, ViewState};
use std::rc::Rc;
use wasm_bindgen::prelude::*;

fn view_obj(v: ViewState) -> JsValue {
    object(&[
        ("launcher", v.launcher.into()),
        ("mainWindow", v.main_window.into()),
    ])
}

/// Reads `{launcher, mainWindow}` back; fields that are not booleans keep `fallback`.
fn read_view(v: &JsValue, fallback: ViewState) -> ViewState {
    ViewState {
        launcher: get(v, "launcher").as_bool().unwrap_or(fallback.launcher),
        main_window: get(v, "mainWindow")
            .as_bool()
            .unwrap_or(fallback.main_window),
    }
}

/// Proposes a view change and offers it to `view:pre:change`.
pub fn change_view(w: &Rc<Widget>, cause: Cause, then: Then) {
    let change = w.st.borrow().views.propose(cause);
    let ev = js::event(
        EventType::ViewPreChange,
        &[
            ("reason", change.reason.name().into()),
            ("oldViewState", view_obj(change.old)),
            ("newViewState", view_obj(change.new)),
        ],
    );
    let after = After::View {
        proposed: change.new,
        then,
    };
    emit(w, EventType::ViewPreChange, ev, None, after);
}

/// Offers `{maximized}` to `view:properties:pre:change`.
pub fn change_props(w: &Rc<Widget>, maximized: bool, then: Then) {
    let ev = js::event(
        EventType::ViewPropertiesPreChange,
        &[("newViewState", object(&[("maximized", maximized.into())]))],
    );
    emit(
        w,
        EventType::ViewPropertiesPreChange,
        ev,
        None,
        After::Props {
            proposed: maximized,
            then,
        },
    );
}

/// Offers a message to `pre:send`.
/// `context`: an object that goes to the bot with the message (`event.message.context` for
/// `pre:send` handlers), or `undefined`. `files`: an array of uploaded files
/// (`event.message.message.attachments`), or `undefined`.
pub fn send(
    w: &Rc<Widget>,
    text: String,
    silent: bool,
    label: Option<String>,
    context: JsValue,
    files: JsValue,
    then: Then,
) {
    let inner = object(&[("content", text.into())]);
    if files.is_object() {
        set(&inner, "attachments", &files);
    }
    let message = object(&[("message", inner)]);
    if context.is_object() {
        set(&message, "context", &context);
    }
    let ev = js::event(
        EventType::PreSend,
        &[("message", message), ("silent", silent.into())],
    );
    emit(
        w,
        EventType::PreSend,
        ev,
        None,
        After::Send {
            silent,
            label,
            then,
        },
    );
}

/// A streamed delta from the transport: `{messageId, threadId, runId, delta: {role, content}}`
/// (the stream event itself, re-typed).
pub fn stream_delta(w: &Rc<Widget>, ev: JsValue, mid: String) {
    let message = {
        let mut st = w.st.borrow_mut();
        match st.streams.iter().find(|s| s.id == mid) {
            Some(s) => s.message.clone(),
            None => {
                let content = js_sys::Array::new();
                let message = object(&[
                    ("id", mid.as_str().into()),
                    ("content", content.clone().into()),
                ]);
                st.streams.push(Stream {
                    id: mid.clone(),
                    message: message.clone(),
                    message_content: content,
                });
                message
            }
        }
    };
    set(&ev, "type", &EventType::PreStreamDelta.name().into());
    set(&ev, "message", &message);
    emit(w, EventType::PreStreamDelta, ev, Some(mid), After::Delta);
}

/// A complete message from the transport; queued behind that message's deltas.
pub fn receive(w: &Rc<Widget>, message: JsValue) {
    let mid = get(&message, "id").as_string().unwrap_or_default();
    super::chat::typed(&message);
    let ev = js::event(EventType::PreReceive, &[("message", message)]);
    emit(w, EventType::PreReceive, ev, Some(mid), After::Receive);
}

pub(crate) fn run_then(w: &Rc<Widget>, then: Then) {
    match then {
        Then::Nothing => {}
        Then::Ready => {
            let first = matches!(w.st.borrow().ready, Ready::Rendering(_));
            if first {
                emit(
                    w,
                    EventType::ChatReady,
                    js::event(EventType::ChatReady, &[]),
                    None,
                    After::Ready,
                );
            }
        }
        Then::Focus => {
            // focus() fires focus events synchronously: no borrow may be held while it runs
            let input = w.st.borrow().dom.as_ref().map(|d| d.input.clone());
            if let Some(i) = input {
                let _ = i.focus();
            }
        }
        Then::Resolve(f) => resolve(&f, &JsValue::UNDEFINED),
    }
}

fn show(w: &Widget) {
    let st = w.st.borrow();
    if let Some(d) = &st.dom {
        d.show(st.views.state(), st.views.maximized());
    }
}

pub(crate) fn finish(w: &Rc<Widget>, event: JsValue, job: Job) {
    match job.after {
        After::Nothing => {}
        After::View { proposed, then } => {
            let new = read_view(&get(&event, "newViewState"), proposed);
            let reason = get(&event, "reason");
            let old = w.st.borrow_mut().views.apply(new);
            show(w);
            if new.main_window {
                super::chat::opened(w);
            }
            match old {
                Some(old) => {
                    let ev = js::event(
                        EventType::ViewChange,
                        &[
                            ("reason", reason),
                            ("oldViewState", view_obj(old)),
                            ("newViewState", view_obj(new)),
                        ],
                    );
                    emit(w, EventType::ViewChange, ev, None, After::Finally(then));
                }
                None => run_then(w, then),
            }
        }
        After::Props { proposed, then } => {
            let m = get(&get(&event, "newViewState"), "maximized")
                .as_bool()
                .unwrap_or(proposed);
            let changed = w.st.borrow_mut().views.apply_maximized(m);
            show(w);
            if changed {
                let ev = js::event(
                    EventType::ViewPropertiesChange,
                    &[("newViewState", object(&[("maximized", m.into())]))],
                );
                emit(
                    w,
                    EventType::ViewPropertiesChange,
                    ev,
                    None,
                    After::Finally(then),
                );
            } else {
                run_then(w, then);
            }
        }
        After::Finally(then) => run_then(w, then),
        After::Ready => {
            let waiters = std::mem::replace(&mut w.st.borrow_mut().ready, Ready::Done);
            if let Ready::Rendering(ws) = waiters {
                for f in ws {
                    resolve(&f, &JsValue::UNDEFINED);
                }
            }
        }
        After::Send {
            silent,
            label,
            then,
        } => {
            let message = get(&event, "message");
            let inner = get(&message, "message");
            let content = get(&inner, "content").as_string().unwrap_or_default();
            let files = get(&inner, "attachments");
            if content.trim().is_empty() && !js::has_items(&files) {
                return run_then(w, then); // pre:send handlers left nothing to send
            }
            // the transport sends it (retrying until acknowledged); `send` fires at the ack
            super::chat::queued(w, content, files, silent, label, message, then);
        }
        After::Delta => super::chat::delta_done(w, &event),
        After::Receive => super::chat::receive_done(w, event),
        After::Restart(then) => {
            super::chat::reset(w);
            {
                let mut st = w.st.borrow_mut();
                st.streams.clear();
                if let Some(d) = &st.dom {
                    d.clear_messages();
                }
            }
            w.set_thread_id(None);
            let ev = js::event(EventType::RestartConversation, &[]);
            emit(
                w,
                EventType::RestartConversation,
                ev,
                None,
                After::Finally(then),
            );
            super::chat::fresh(w);
        }
        After::ThreadLoaded { thread_id, then } => {
            w.set_thread_id(Some(thread_id));
            super::chat::history_done(w, &event);
            run_then(w, then);
        }
        After::Auth(done) => {
            let token = get(&event, "authToken");
            let token = token.as_string();
            let value: JsValue = token.as_deref().map_or(JsValue::NULL, JsValue::from_str);
            if token.is_some() {
                w.st.borrow_mut().auth_token = token;
            }
            super::chat::token_settled(w);
            resolve(&done, &value);
        }
    }
}
