//! What the widget does with an event once its handlers are done: read back what `pre:*`
//! handlers changed, apply it (view state, transcript, outbox, thread id, auth token) and fire
//! the follow-up event. (The entry points that start those chains are [`super::start`]'s.)
//! Calls go one way, act → chat → start → run; [`super::run`] calls [`finish`] when a
//! dispatch's handlers are done.
//!
//! Invariant: values handlers could have replaced with getters are read before any widget
//! borrow is taken; only DOM calls that run no page script happen under a borrow.

use super::js::{self, get, object};
use super::run::{emit, resolve, After, Job};
use super::start::{run_then, view_obj};
use super::{Ready, Widget};
use crate::events::EventType;
use crate::view::ViewState;
use std::rc::Rc;
use wasm_bindgen::prelude::*;

/// Reads `{launcher, mainWindow}` back; fields that are not booleans keep `fallback`.
fn read_view(v: &JsValue, fallback: ViewState) -> ViewState {
    ViewState {
        launcher: get(v, "launcher").as_bool().unwrap_or(fallback.launcher),
        main_window: get(v, "mainWindow")
            .as_bool()
            .unwrap_or(fallback.main_window),
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
            super::net::token_settled(w);
            super::chat::token_changed(w);
            resolve(&done, &value);
        }
    }
}
