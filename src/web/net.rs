//! HTTP to the server, for the conversation, the feedback and the browser session: one
//! `fetch` with the current token, and the 401 → `authTokenNeeded` → one retry path shared by
//! every request (URLs, status, timers too). It calls nothing of the conversation: when a new
//! token is in place, the conversation decides what to start again (`chat::token_changed`).
//!
//! Invariants: one `authTokenNeeded` dispatch at a time (every request refused meanwhile
//! waits for it); a request retries at most once after a 401; nothing here holds a widget
//! across an `await`.

use super::js::{self, call0, get, num, object, set};
use super::run::{emit, promise, After};
use super::Widget;
use crate::events::EventType;
use js_sys::Promise;
use std::rc::{Rc, Weak};
use wasm_bindgen::prelude::*;
use wasm_bindgen::JsCast;
use wasm_bindgen_futures::JsFuture;

/// Where the widget stands with tokens (beside `State::auth_token`).
#[derive(Default)]
pub(crate) struct Auth {
    /// The `authTokenNeeded` dispatch in flight: every 401 meanwhile waits for it.
    wait: Option<Promise>,
    /// Tokens put in place so far (see [`refresh_token`]).
    epoch: u32,
}

#[wasm_bindgen]
extern "C" {
    #[wasm_bindgen(js_name = fetch)]
    fn fetch(url: &str, init: &JsValue) -> Promise;
}

/// A timer future (a plain fn, not an `async fn`: no extra state machine around the JsFuture).
pub(in crate::web) fn sleep(ms: u32) -> JsFuture {
    JsFuture::from(Promise::new(&mut |res, _| {
        js::set_timeout(&res, ms);
    }))
}

pub(in crate::web) fn base(w: &Widget) -> String {
    w.st.borrow().opts.server_url.clone()
}

pub(in crate::web) fn thread_url(w: &Widget, tid: &str, tail: &str) -> String {
    let mut u = base(w);
    u.push_str("/v1/threads/");
    u.push_str(tid);
    u.push_str(tail);
    u
}

/// `authTokenNeeded`, one dispatch at a time: every request that got a 401 meanwhile waits for
/// the same one. Resolves to the new token, or `null` (handlers set none).
pub(crate) fn token_needed(w: &Rc<Widget>) -> Promise {
    if let Some(p) = w.st.borrow().auth.wait.clone() {
        return p;
    }
    let (p, resolve) = promise();
    w.st.borrow_mut().auth.wait = Some(p.clone());
    let current: JsValue =
        w.st.borrow()
            .auth_token
            .as_deref()
            .map_or(JsValue::NULL, JsValue::from_str);
    let ev = js::event(EventType::AuthTokenNeeded, &[("authToken", current)]);
    emit(
        w,
        EventType::AuthTokenNeeded,
        ev,
        None,
        After::Auth(resolve),
    );
    p
}

/// The `authTokenNeeded` dispatch is over: the next 401 of a request sent after this starts a
/// new one.
pub(in crate::web) fn token_settled(w: &Widget) {
    w.st.borrow_mut().auth.wait = None;
}

impl Auth {
    /// A new token is in place (from `authTokenNeeded` or `updateAuthToken`): requests that
    /// get a 401 for the old one retry with it.
    pub(in crate::web) fn token_set(&mut self) {
        self.epoch = self.epoch.wrapping_add(1);
    }
}

/// [`token_needed`] for a request that got a 401: whether a new token is set. A request sent
/// before a refresh that has finished since (`sent_epoch` is old) retries with that token
/// without asking again: with many requests in flight when the token expires, handlers see
/// one `authTokenNeeded`.
async fn refresh_token(weak: &Weak<Widget>, sent_epoch: u32) -> bool {
    let Some(w) = weak.upgrade() else {
        return false;
    };
    if w.st.borrow().auth.epoch != sent_epoch {
        return w.st.borrow().auth_token.is_some();
    }
    let p = token_needed(&w);
    drop(w);
    let token = JsFuture::from(p).await.unwrap_or(JsValue::NULL);
    token.as_string().is_some()
}

/// One request with the current token; a 401 asks for a new token and retries once.
/// `Err` is a network failure (or abort); `Ok` carries the `Response`.
pub(in crate::web) async fn request(
    weak: &Weak<Widget>,
    method: &str,
    url: &str,
    body: Option<&str>,
    last_event_id: u64,
    signal: Option<JsValue>,
) -> Result<JsValue, JsValue> {
    let mut refreshed = false;
    loop {
        let w = weak.upgrade().ok_or(JsValue::NULL)?;
        let epoch = w.st.borrow().auth.epoch;
        let p = start(&w, method, url, body, last_event_id, signal.as_ref());
        drop(w);
        let resp = JsFuture::from(p).await?;
        if status(&resp) == 401 && !refreshed {
            refreshed = true;
            if refresh_token(weak, epoch).await {
                continue;
            }
        }
        return Ok(resp);
    }
}

/// Starts one `fetch` with the current token (a plain fn: kept out of the state machines of
/// the loops that await it).
pub(in crate::web) fn start(
    w: &Widget,
    method: &str,
    url: &str,
    body: Option<&str>,
    last_event_id: u64,
    signal: Option<&JsValue>,
) -> Promise {
    let h = object(&[]);
    if body.is_some() {
        set(&h, "content-type", &"application/json".into());
    }
    if let Some(t) = &w.st.borrow().auth_token {
        let mut v = String::from("Bearer ");
        v.push_str(t);
        set(&h, "authorization", &v.into());
    }
    if last_event_id > 0 {
        set(
            &h,
            "last-event-id",
            &num(String::new(), last_event_id as u32).into(),
        );
    }
    let init = object(&[
        ("method", method.into()),
        ("headers", h),
        ("cache", "no-store".into()),
    ]);
    if let Some(b) = body {
        set(&init, "body", &b.into());
    }
    if let Some(s) = signal {
        set(&init, "signal", s);
    }
    fetch(url, &init)
}

pub(in crate::web) fn status(resp: &JsValue) -> u16 {
    get(resp, "status").as_f64().unwrap_or(0.0) as u16
}

pub(in crate::web) async fn json(resp: &JsValue) -> JsValue {
    match call0(resp, "json").dyn_into::<Promise>() {
        Ok(p) => JsFuture::from(p).await.unwrap_or(JsValue::UNDEFINED),
        Err(_) => JsValue::UNDEFINED,
    }
}

pub(in crate::web) fn rand() -> f64 {
    js_sys::Math::random()
}
