//! The visitor's browser session: what the widget tells the server about the page, so Python
//! actions and event handlers get it as `context["browser_session"]` — page URL and title,
//! referrer, user agent, language, time zone, screen size, and the host's `context` option.
//! js/page.js reads the page (plain JS does it in fewer bytes); this module decides when to
//! send it.
//!
//! It goes with the thread's creation (beside the channel the conversation comes through), and
//! again (`PUT …/browser-session`) whenever it differs from the one last sent: on SPA
//! navigation (the Navigation API's `currententrychange`, which `history.pushState`,
//! `replaceState` and back/forward fire) and when a page load finds a stored thread (a site of
//! several pages).
//!
//! Invariants: the listener is owned by [`Session`] (kept in the conversation's state, so
//! dropped with it on destroy) and unregistered when it is dropped; the same session is never sent twice in a row. An
//! update is sent once, not retried: a lost one (offline, an expired token) is repaired by the
//! next change.

use super::js::{global, Thenable};
use super::listener::Listener;
use super::net::{start, thread_url};
use super::Widget;
use js_sys::Function;
use std::rc::{Rc, Weak};
use wasm_bindgen::{JsCast, JsValue};

/// Per-widget session state.
#[derive(Default)]
pub(crate) struct Session {
    /// Gives the page now, as JSON (js/page.js); `None`: the widget was created without it.
    pub page: Option<Function>,
    /// `_channel` (the IBM loaders name theirs); `web` when not given.
    pub channel: Option<String>,
    /// The session last sent.
    sent: String,
    _watch: Option<Listener>,
}

impl Session {
    /// The page now, as JSON.
    fn now(&self) -> Option<String> {
        self.page.as_ref()?.call0(&JsValue::NULL).ok()?.as_string()
    }
}

/// The body of the thread's creation: `{channel, browserSession}`; the session counts as sent.
pub(super) fn create_body(w: &Widget) -> String {
    let mut st = w.st.borrow_mut();
    let s = &mut st.chat.session;
    let mut body = String::from("{\"channel\":\"");
    body.push_str(s.channel.as_deref().unwrap_or("web"));
    body.push('"');
    if let Some(page) = s.now() {
        body.push_str(",\"browserSession\":");
        body.push_str(&page);
        s.sent = page;
    }
    body.push('}');
    body
}

/// Sends the session again if the page changed since it was last sent (and there is a thread
/// to keep it on).
pub(super) fn sync(w: &Rc<Widget>) {
    let body = {
        let mut st = w.st.borrow_mut();
        let st = &mut *st;
        let Some(tid) = st.thread_id.clone() else {
            return;
        };
        let s = &mut st.chat.session;
        match s.now() {
            Some(page) if page != s.sent => s.sent = page.clone(),
            _ => return,
        }
        (tid, s.sent.clone())
    };
    let url = thread_url(w, &body.0, "/browser-session");
    // Nothing waits for the answer (a lost update is repaired by the next page change); the
    // built-in `Boolean` takes a failure, so none is left unhandled.
    let p: Thenable = start(w, "PUT", &url, Some(&body.1), 0, None).unchecked_into();
    p.then2(&JsValue::UNDEFINED, &global("Boolean"));
}

/// Watches the page for SPA navigation (once rendered): the Navigation API's
/// `currententrychange` fires for `history.pushState`, `replaceState` and traversals alike.
pub(super) fn watch(w: &Rc<Widget>) {
    let nav = global("navigation");
    if nav.is_object() {
        let weak: Weak<Widget> = Rc::downgrade(w);
        let l = Listener::new(nav.unchecked_ref(), "currententrychange", move |_| {
            if let Some(w) = weak.upgrade() {
                sync(&w);
            }
        });
        w.st.borrow_mut().chat.session._watch = Some(l);
    }
}
