//! What the widget does with an event once its handlers are done: read back what `pre:*`
//! handlers changed, apply it (view state, transcript, outbox, thread id, auth token) and fire
//! the follow-up event. Also the entry points that start those chains (`changeView`, clicks,
//! `send`, the transport's deltas and messages).
//!
//! Invariant: values handlers could have replaced with getters are read before any widget
//! borrow is taken; only DOM calls that run no page script happen under a borrow.

use super::js::{self, get, items, object, set};
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
pub fn send(w: &Rc<Widget>, text: String, silent: bool, then: Then) {
    let message = object(&[("message", object(&[("content", text.into())]))]);
    let ev = js::event(
        EventType::PreSend,
        &[("message", message), ("silent", silent.into())],
    );
    emit(
        w,
        EventType::PreSend,
        ev,
        None,
        After::Send { silent, then },
    );
}

/// A streamed delta from the transport: `{messageId, threadId, runId, delta: {role, content}}`.
pub fn stream_delta(w: &Rc<Widget>, ev: JsValue) {
    let mid = get(&ev, "messageId").as_string().unwrap_or_default();
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
                    bubble: None,
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
    let ev = js::event(EventType::PreReceive, &[("message", message)]);
    emit(w, EventType::PreReceive, ev, Some(mid), After::Receive);
}

/// A content item as the widget renders it.
enum Piece {
    /// A text item (`response_type` "text" or none) and its text.
    Text(String),
    /// A text item without text.
    Empty,
    /// Any other item (`userDefinedResponse` for now).
    Other,
}

/// Reads content items (running any getters a handler left) before anything is borrowed.
fn pieces(content: &JsValue) -> Vec<(Piece, JsValue)> {
    let mut out = Vec::new();
    for item in items(content) {
        let kind = get(&item, "response_type")
            .as_string()
            .or_else(|| get(&item, "type").as_string());
        let piece = match kind.as_deref() {
            None | Some("text") => get(&item, "text")
                .as_string()
                .map_or(Piece::Empty, Piece::Text),
            // TODO(issue 4+): render option/carousel natively; until then every non-text
            // item goes to userDefinedResponse with a host element.
            Some(_) => Piece::Other,
        };
        out.push((piece, item));
    }
    out
}

fn run_then(w: &Rc<Widget>, then: Then) {
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
        After::Send { silent, then } => {
            let message = get(&event, "message");
            let content = get(&get(&message, "message"), "content")
                .as_string()
                .unwrap_or_default();
            if content.trim().is_empty() {
                return run_then(w, then); // a pre:send handler emptied it: not sent
            }
            let queued = {
                let mut st = w.st.borrow_mut();
                // TODO(issue 4): the network transport drains the outbox (POST /messages).
                let queued = st.outbox.push(content.clone(), silent);
                if let (Ok(_), false, Some(d)) = (&queued, silent, &st.dom) {
                    if let Some(b) = d.bubble(true) {
                        d.append_text(&b, &content);
                    }
                }
                queued
            };
            if let Err(e) = queued {
                js::console_warn(&e.to_string());
                return run_then(w, then);
            }
            let ev = js::event(EventType::Send, &[("message", message)]);
            emit(w, EventType::Send, ev, None, After::Finally(then));
        }
        After::Delta => {
            // read everything handlers may have changed (getters run JS) before borrowing
            let mid = get(&event, "messageId").as_string().unwrap_or_default();
            let content = pieces(&get(&get(&event, "delta"), "content"));
            let mut st = w.st.borrow_mut();
            let st = &mut *st;
            let Some(s) = st.streams.iter_mut().find(|s| s.id == mid) else {
                return;
            };
            let acc: js_sys::Array = s.message_content.clone();
            for (piece, item) in content {
                if let (Piece::Text(t), Some(d)) = (piece, &st.dom) {
                    if s.bubble.is_none() {
                        s.bubble = d.bubble(false);
                    }
                    if let Some(b) = &s.bubble {
                        d.append_text(b, &t);
                    }
                }
                acc.push(&item);
            }
        }
        After::Receive => {
            let message = get(&event, "message");
            let mid = get(&message, "id").as_string().unwrap_or_default();
            let content = pieces(&get(&message, "content"));
            let mut custom = Vec::new();
            {
                let mut st = w.st.borrow_mut();
                let pos = st.streams.iter().position(|s| s.id == mid);
                let streamed = pos.and_then(|i| st.streams.remove(i).bubble);
                if let Some(d) = &st.dom {
                    let bubble = streamed.or_else(|| d.bubble(false));
                    if let Some(b) = &bubble {
                        b.set_text_content(None);
                    }
                    let mut any_text = false;
                    for (piece, item) in content {
                        match piece {
                            Piece::Text(t) => {
                                if let Some(b) = &bubble {
                                    d.append_text(b, &t);
                                    any_text = true;
                                }
                            }
                            Piece::Other => {
                                if let Some(host) = d.bubble(false) {
                                    let _ = host.set_attribute("part", "card");
                                    custom.push((item, host));
                                }
                            }
                            Piece::Empty => {}
                        }
                    }
                    if let (Some(b), false) = (&bubble, any_text) {
                        b.remove();
                    }
                }
            }
            for (item, host) in custom {
                let ev = js::event(
                    EventType::UserDefinedResponse,
                    &[
                        ("contentItem", item),
                        ("message", message.clone()),
                        ("hostElement", host.into()),
                    ],
                );
                emit(w, EventType::UserDefinedResponse, ev, None, After::Nothing);
            }
            emit(
                w,
                EventType::Receive,
                js::event(EventType::Receive, &[("message", message)]),
                None,
                After::Nothing,
            );
        }
        After::Restart(then) => {
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
        }
        After::ThreadLoaded { thread_id, then } => {
            // (from the user?, its text items joined)
            let mut shown: Vec<(bool, String)> = Vec::new();
            for m in items(&get(&event, "messages")) {
                let who = get(&m, "sender")
                    .as_string()
                    .or_else(|| get(&m, "role").as_string());
                let mut text = String::new();
                for (piece, _) in pieces(&get(&m, "content")) {
                    if let Piece::Text(t) = piece {
                        text.push_str(&t);
                    }
                }
                shown.push((who.as_deref() == Some("user"), text));
            }
            {
                let st = w.st.borrow();
                if let Some(d) = &st.dom {
                    d.clear_messages();
                    for (user, text) in shown {
                        if let Some(b) = d.bubble(user) {
                            d.append_text(&b, &text);
                        }
                    }
                }
            }
            w.set_thread_id(Some(thread_id));
            run_then(w, then);
        }
        After::Auth(done) => {
            let token = get(&event, "authToken");
            let token = token.as_string();
            let value: JsValue = token.as_deref().map_or(JsValue::NULL, JsValue::from_str);
            if token.is_some() {
                w.st.borrow_mut().auth_token = token;
            }
            resolve(&done, &value);
        }
    }
}
