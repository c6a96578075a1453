//! Runs dispatches: snapshot → [`Engine`](crate::dispatch::Engine) → call handlers one by one →
//! await promises (with `handlerTimeoutMs`) → hand the event to [`super::act::finish`]. That
//! completion is the shell's one call back up: the rest goes down (api / act → chat → start →
//! run), so nothing below act acts on an event's outcome.
//!
//! Invariants: a handler is called with no widget borrow held; a handler that throws or
//! rejects is reported with `console.error` and the next one runs; a handler that outlives the
//! timeout is reported with `console.warn` and abandoned for this dispatch; the widget acts on
//! an event only after its last handler is done.

use super::js;
use super::{find, Widget};
use crate::dispatch::{RunId, Step};
use crate::events::EventType;
use crate::view::ViewState;
use js_sys::{Function, Promise};
use std::rc::Rc;
use wasm_bindgen::prelude::*;
use wasm_bindgen::JsCast;

/// What to do once a chain of dispatches is finished.
pub enum Then {
    Nothing,
    /// Fire `chat:ready` (first render).
    Ready,
    /// Focus the input (the launcher was clicked).
    Focus,
    /// Resolve the promise an API call returned.
    Resolve(Function),
}

/// What the widget does when a dispatch's handlers are done.
pub enum After {
    Nothing,
    View {
        proposed: ViewState,
        then: Then,
    },
    Props {
        proposed: bool,
        then: Then,
    },
    Finally(Then),
    Ready,
    /// `label`: shown in the transcript instead of the text sent (an option button's label).
    Send {
        silent: bool,
        label: Option<String>,
        then: Then,
    },
    Delta,
    Receive,
    Restart(Then),
    ThreadLoaded {
        thread_id: String,
        then: Then,
    },
    Auth(Function),
}

/// A dispatch's payload in the engine.
pub struct Job {
    pub(crate) ty: EventType,
    pub(crate) after: After,
}

const FULFILLED: u32 = 0;
const REJECTED: u32 = 1;
const TIMED_OUT: u32 = 2;

thread_local! {
    /// The one forever callback: `(widgetId, token, outcome, value)`, bound per pending
    /// handler. It looks the widget up by id, so calls after destroy are no-ops.
    static SETTLE: Function = Closure::<dyn FnMut(u32, u32, u32, JsValue)>::new(settle)
        .into_js_value()
        .unchecked_into();
}

/// A new promise and its resolve function.
pub fn promise() -> (Promise, Function) {
    let mut resolve = None;
    let p = Promise::new(&mut |res, _rej| resolve = Some(res));
    (
        p,
        resolve.unwrap_or_else(|| JsValue::UNDEFINED.unchecked_into()),
    )
}

pub(crate) fn resolve(f: &Function, v: &JsValue) {
    let _ = f.call1(&JsValue::UNDEFINED, v);
}

fn say(prefix: &str, ty: EventType, suffix: &str) -> String {
    let mut s = String::from(prefix);
    s.push_str(ty.name());
    s.push_str(suffix);
    s
}

/// Dispatches `event` (a fresh object carrying `type`) and acts when its handlers are done.
///
/// Laneless dispatches take a fast path: handlers are called straight from the snapshot, and
/// only if one returns a promise does the rest of the snapshot go to the engine, parked on
/// it. (A laneless run never waits for another, so this is the engine's order exactly.)
pub fn emit(w: &Rc<Widget>, ty: EventType, event: JsValue, lane: Option<String>, after: After) {
    if lane.is_some() {
        let id = {
            let mut st = w.st.borrow_mut();
            if st.destroyed {
                return;
            }
            let handlers = st.bus.snapshot(ty);
            st.engine.submit(lane, handlers, event, Job { ty, after })
        };
        return drive(w, id);
    }
    let (handlers, instance) = {
        let mut st = w.st.borrow_mut();
        if st.destroyed {
            return;
        }
        (st.bus.snapshot(ty), st.instance.clone())
    };
    let mut rest = handlers.into_iter();
    while let Some(h) = rest.next() {
        match h.call2(&instance, &event, &instance) {
            Ok(r) if js::is_thenable(&r) => {
                let (ms, parked) = {
                    let mut st = w.st.borrow_mut();
                    if st.destroyed {
                        return;
                    }
                    let id = st
                        .engine
                        .submit(None, rest.collect(), event, Job { ty, after });
                    (st.opts.handler_timeout_ms, st.engine.suspend(id))
                };
                if let Some(token) = parked {
                    arm(w, token, ms, &r);
                }
                return;
            }
            Ok(_) => {}
            Err(e) => js::console_error(
                &say(
                    "natter: a \"",
                    ty,
                    "\" handler threw; the next handler runs:",
                ),
                &e,
            ),
        }
        if w.st.borrow().destroyed {
            return;
        }
    }
    super::act::finish(w, event, Job { ty, after });
}

fn drive(w: &Rc<Widget>, mut id: RunId) {
    loop {
        let step = w.st.borrow_mut().engine.step(id);
        match step {
            Step::Call { handler, event } => {
                let instance = w.st.borrow().instance.clone();
                match handler.call2(&instance, &event, &instance) {
                    Ok(r) if js::is_thenable(&r) => {
                        let (ms, token) = {
                            let mut st = w.st.borrow_mut();
                            (st.opts.handler_timeout_ms, st.engine.suspend(id))
                        };
                        if let Some(token) = token {
                            arm(w, token, ms, &r);
                        }
                        return;
                    }
                    Ok(_) => {}
                    Err(e) => {
                        let ty =
                            w.st.borrow()
                                .engine
                                .payload(id)
                                .map_or(EventType::ChatReady, |j| j.ty);
                        js::console_error(
                            &say(
                                "natter: a \"",
                                ty,
                                "\" handler threw; the next handler runs:",
                            ),
                            &e,
                        );
                    }
                }
            }
            Step::Done {
                event,
                payload,
                next,
            } => {
                super::act::finish(w, event, payload);
                match next {
                    Some(n) => id = n,
                    None => return,
                }
            }
            Step::Wait | Step::Gone => return,
        }
    }
}

/// Awaits a handler's promise, racing it against the timeout.
fn arm(w: &Widget, token: u32, ms: u32, r: &JsValue) {
    SETTLE.with(|f| {
        let bind = |outcome: u32| -> JsValue {
            f.bind3(&JsValue::NULL, &w.id.into(), &token.into(), &outcome.into())
                .into()
        };
        let _ = js::promise_resolve(r).then2(&bind(FULFILLED), &bind(REJECTED));
        let timer = js::set_timeout(&bind(TIMED_OUT), ms);
        w.st.borrow_mut().timers.push((token, timer));
    });
}

fn settle(widget: u32, token: u32, outcome: u32, value: JsValue) {
    let Some(w) = find(widget) else { return };
    let (run, ty, timer) = {
        let mut st = w.st.borrow_mut();
        let Some(run) = st.engine.waiting_on(token) else {
            return;
        };
        let ty = st
            .engine
            .payload(run)
            .map_or(EventType::ChatReady, |j| j.ty);
        st.engine.settle(token);
        let timer = st
            .timers
            .iter()
            .position(|(t, _)| *t == token)
            .map(|i| st.timers.swap_remove(i).1);
        (run, ty, timer)
    };
    if let Some(t) = timer {
        if outcome != TIMED_OUT {
            js::clear_timeout(t);
        }
    }
    match outcome {
        REJECTED => js::console_error(
            &say(
                "natter: a \"",
                ty,
                "\" handler rejected; the next handler runs:",
            ),
            &value,
        ),
        TIMED_OUT => js::console_warn(&say(
            "natter: a \"",
            ty,
            "\" handler took longer than handlerTimeoutMs; it is abandoned for this dispatch",
        )),
        _ => {}
    }
    drive(&w, run);
}
