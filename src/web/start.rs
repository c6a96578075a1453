//! The entry points that start a chain of dispatches: view changes, sends, the transport's
//! deltas and messages, and what to do when a chain is over ([`Then`]). They build the event
//! and hand it to [`super::run`]; what happens when its handlers are done is
//! [`super::act`]'s.
//!
//! Invariant: nothing here acts on an event's outcome (calls go api / act / chat → start →
//! run, never back).

use super::js::{self, get, items, object, set};
use super::run::{emit, resolve, After, Then};
use super::{Ready, Stream, Widget};
use crate::events::EventType;
use crate::view::{Cause, ViewState};
use std::rc::Rc;
use wasm_bindgen::prelude::*;

pub(super) fn view_obj(v: ViewState) -> JsValue {
    object(&[
        ("launcher", v.launcher.into()),
        ("mainWindow", v.main_window.into()),
    ])
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
    typed(&message);
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

/// Gives each content item a `type` beside its `response_type` (the event tables name `type`).
pub(crate) fn typed(m: &JsValue) {
    for it in items(&get(m, "content")) {
        let t = get(&it, "response_type");
        if !t.is_undefined() && get(&it, "type").is_undefined() {
            set(&it, "type", &t);
        }
    }
}
