//! The live conversation: the network transport (fetch + the `natter_protocol::sse` parser,
//! reconnect with [`Backoff`] and `Last-Event-ID`, sends retried with their
//! `clientMessageId` until acknowledged — their state is [`Sends`], the pure core in
//! `crate::conversation` — and kept in storage across reloads, 401 → `authTokenNeeded` → one
//! retry) and placing what the server says in the transcript (built by `render`; typing,
//! connection state, handoff notes; the thumbs and popup are `feedback`).
//!
//! Invariants:
//! * every loop (stream, sends, thread creation) holds only a `Weak` to the widget across an
//!   `await` and stops when the widget is destroyed or the conversation generation changed
//!   (restart, another thread loaded);
//! * a stream event is handled at most once ([`Seq`]); its seq is what `Last-Event-ID` resumes
//!   from;
//! * `send` fires at a send's first acknowledgement (its 202 or the stream's `message.created`
//!   with its `clientMessageId`), so always before any event of its reply;
//! * streamed text is appended to the trailing text node of the trailing block, once per
//!   animation frame ([`split_blocks`] caps block size so layout per frame stays flat);
//! * server strings reach the DOM only as text nodes or attribute values (hrefs filtered by
//!   [`md::safe_url`]).

use super::js::{self, call0, get, items, json_parse, json_text, object, set};
use super::listener::Listener;
use super::render::{button, el, read_message, render_blocks, Item, View};
use super::run::{emit, promise, After, Then};
use super::{act, feedback, find, Widget};
use crate::conversation::Sends;
use crate::events::EventType;
use crate::md;
use crate::thread::push_u32;
use crate::transport::{
    split_blocks, verdict, Backoff, Conn, Kind, Seq, Verdict, TYPING_TIMEOUT_MS,
};
use js_sys::{Function, Promise, Uint8Array};
use natter_protocol::sse::SseParser;
use std::rc::{Rc, Weak};
use wasm_bindgen::prelude::*;
use wasm_bindgen::JsCast;
use wasm_bindgen_futures::{spawn_local, JsFuture};
use web_sys::{Element, Event, Text};

#[wasm_bindgen]
extern "C" {
    #[wasm_bindgen(js_name = fetch)]
    fn fetch(url: &str, init: &JsValue) -> Promise;
    #[wasm_bindgen(js_name = requestAnimationFrame)]
    fn request_animation_frame(f: &JsValue) -> i32;
    pub type AbortController;
    #[wasm_bindgen(constructor)]
    fn new() -> AbortController;
    #[wasm_bindgen(method)]
    fn abort(this: &AbortController);
    #[wasm_bindgen(method, getter)]
    fn signal(this: &AbortController) -> JsValue;
    #[wasm_bindgen(js_name = open)]
    fn window_open(url: &str, target: &str, features: &str) -> JsValue;
}

thread_local! {
    /// One forever rAF callback routed by widget id (a destroyed widget finds nothing).
    static FLUSH: Function = Closure::<dyn FnMut(u32)>::new(|id: u32| {
        if let Some(w) = find(id) {
            flush(&w);
        }
    })
    .into_js_value()
    .unchecked_into();
    static TYPING_OFF: Function = Closure::<dyn FnMut(u32, u32)>::new(|id: u32, gen: u32| {
        if let Some(w) = find(id) {
            if w.st.borrow().chat.typing_gen == gen {
                typing(&w, false);
            }
        }
    })
    .into_js_value()
    .unchecked_into();
}

/// The shell's side of a send waiting in [`Sends`].
pub(crate) struct Pending {
    message: JsValue,
    then: Option<Then>,
    bubble: Option<Element>,
    /// The files it carries (`pre:send`'s `attachments`: an array of `{id, name, type, size,
    /// url}`, or `undefined`), kept in storage with it and re-sent with it.
    files: JsValue,
}

/// A reply being streamed into the DOM.
struct Live {
    id: String,
    run: String,
    bubble: Element,
    block: Option<Text>,
    block_len: usize,
    pending: String,
}

/// The elements this module adds to the window.
pub(super) struct Ui {
    root: JsValue,
    pub(super) window: Element,
    status: Element,
    typing: Element,
    pub(super) live: Element,
    pub(super) popup: Option<Element>,
    _keys: Listener,
}

/// Per-widget conversation state.
#[derive(Default)]
pub(crate) struct Conv {
    gen: u32,
    seq: Seq,
    conn: Option<Conn>,
    streaming: bool,
    sending: bool,
    creating: bool,
    pub(crate) sends: Sends<Pending>,
    /// Client message ids of acknowledged sends (their `message.created` is not shown twice).
    mine: Vec<String>,
    /// Rendered bot/agent messages: (id, message as rendered), index = `data-m`.
    msgs: Vec<(String, JsValue)>,
    live: Vec<Live>,
    raf: bool,
    abort: Option<AbortController>,
    typing_gen: u32,
    pub(super) ui: Option<Ui>,
    /// Feedback given: (message id, isPositive).
    pub(super) feedback: Vec<(String, bool)>,
    next_slot: u32,
    auth_wait: Option<Promise>,
    /// Tokens put in place so far (see [`refresh_token`]).
    auth_epoch: u32,
    warned_bot: bool,
    /// The browser session and the listeners that resend it.
    pub(super) session: super::session::Session,
    /// The group the next message goes into, and how many it holds (see [`bubble`]).
    group: Option<Element>,
    group_n: u32,
}

/// Messages per group: the transcript is a column of groups with `content-visibility: auto`,
/// so appending a message lays out one group however long the conversation is.
const GROUP: u32 = 50;

/// A new message bubble (the shell's `Dom::bubble`), moved into the current group.
fn bubble(c: &mut Conv, d: &super::dom::Dom, user: bool) -> Option<Element> {
    let b = d.bubble(user)?;
    place(c, d, &b);
    Some(b)
}

fn place(c: &mut Conv, d: &super::dom::Dom, el: &Element) {
    let full = c.group_n >= GROUP || !c.group.as_ref().is_some_and(|g| g.is_connected());
    if full {
        let doc = d.messages.owner_document();
        if let Some(g) = doc.and_then(|doc| doc.create_element("div").ok()) {
            let _ = g.set_attribute("class", "g");
            let _ = d.messages.append_child(&g);
            c.group = Some(g);
            c.group_n = 0;
        }
    }
    if let Some(g) = &c.group {
        let _ = g.append_child(el);
        c.group_n += 1;
    }
}

impl Drop for Conv {
    fn drop(&mut self) {
        if let Some(a) = &self.abort {
            a.abort();
        }
    }
}

fn alive(weak: &Weak<Widget>, gen: u32) -> Option<Rc<Widget>> {
    let w = weak.upgrade()?;
    let ok = {
        let st = w.st.borrow();
        !st.destroyed && st.chat.gen == gen
    };
    ok.then_some(w)
}

pub(super) fn num(mut s: String, n: u32) -> String {
    push_u32(&mut s, n);
    s
}

/// A timer future (a plain fn, not an `async fn`: no extra state machine around the JsFuture).
pub(super) fn sleep(ms: u32) -> JsFuture {
    JsFuture::from(Promise::new(&mut |res, _| {
        js::set_timeout(&res, ms);
    }))
}

fn base(w: &Widget) -> String {
    w.st.borrow().opts.server_url.clone()
}

pub(super) fn thread_url(w: &Widget, tid: &str, tail: &str) -> String {
    let mut u = base(w);
    u.push_str("/v1/threads/");
    u.push_str(tid);
    u.push_str(tail);
    u
}

// ---- HTTP -------------------------------------------------------------------------------------

/// `authTokenNeeded`, one dispatch at a time: every request that got a 401 meanwhile waits for
/// the same one. Resolves to the new token, or `null` (handlers set none).
pub(crate) fn token_needed(w: &Rc<Widget>) -> Promise {
    if let Some(p) = w.st.borrow().chat.auth_wait.clone() {
        return p;
    }
    let (p, resolve) = promise();
    w.st.borrow_mut().chat.auth_wait = Some(p.clone());
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

/// The `authTokenNeeded` dispatch is over, its token (if any) in place: the next 401 of a
/// request sent after this starts a new one.
pub(super) fn token_settled(w: &Rc<Widget>) {
    w.st.borrow_mut().chat.auth_wait = None;
    token_changed(w);
}

/// [`token_needed`] for a request that got a 401: whether a new token is set. A request sent
/// before a refresh that has finished since (`sent_epoch` is old) retries with that token
/// without asking again: with many requests in flight when the token expires, handlers see
/// one `authTokenNeeded`.
async fn refresh_token(weak: &Weak<Widget>, sent_epoch: u32) -> bool {
    let Some(w) = weak.upgrade() else {
        return false;
    };
    if w.st.borrow().chat.auth_epoch != sent_epoch {
        return w.st.borrow().auth_token.is_some();
    }
    let p = token_needed(&w);
    drop(w);
    let token = JsFuture::from(p).await.unwrap_or(JsValue::NULL);
    token.as_string().is_some()
}

/// A new token is in place (from `authTokenNeeded` or `updateAuthToken`): requests that get a
/// 401 for the old one retry with it, and a stream stopped by a refused token starts again.
pub(crate) fn token_changed(w: &Rc<Widget>) {
    let stopped = {
        let mut st = w.st.borrow_mut();
        st.chat.auth_epoch = st.chat.auth_epoch.wrapping_add(1);
        st.chat.conn == Some(Conn::Unauthorized) && st.auth_token.is_some()
    };
    if stopped {
        start_stream(w);
    }
}

/// One request with the current token; a 401 asks for a new token and retries once.
/// `Err` is a network failure (or abort); `Ok` carries the `Response`.
pub(super) async fn request(
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
        let epoch = w.st.borrow().chat.auth_epoch;
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
pub(super) fn start(
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

pub(super) fn status(resp: &JsValue) -> u16 {
    get(resp, "status").as_f64().unwrap_or(0.0) as u16
}

async fn json(resp: &JsValue) -> JsValue {
    match call0(resp, "json").dyn_into::<Promise>() {
        Ok(p) => JsFuture::from(p).await.unwrap_or(JsValue::UNDEFINED),
        Err(_) => JsValue::UNDEFINED,
    }
}

pub(super) fn rand() -> f64 {
    js_sys::Math::random()
}

// ---- threads ------------------------------------------------------------------------------------

/// Called once the DOM is built: adds this module's elements, then (without delaying
/// `chat:ready`) loads the stored thread, if any.
pub(crate) fn attach(w: &Rc<Widget>) {
    let built = {
        let st = w.st.borrow();
        let Some(d) = &st.dom else { return };
        let Some(root) = d.host.shadow_root() else {
            return;
        };
        let root: JsValue = root.into();
        build_ui(w, &root, &st.opts.strings, &d.messages)
    };
    w.st.borrow_mut().chat.ui = built;
    super::session::watch(w);
    restore_sends(w);
    let tid = w.st.borrow().thread_id.clone();
    if let Some(tid) = tid {
        // a page load on a site of several pages: the thread learns the page
        super::session::sync(w);
        load_thread(w, tid, Then::Nothing);
    }
}

fn build_ui(
    w: &Rc<Widget>,
    root: &JsValue,
    s: &crate::strings::Strings,
    messages: &Element,
) -> Option<Ui> {
    let doc = messages.owner_document()?;
    let window = js::query(root, "[part=window]")?;
    let _ = messages.set_attribute("aria-live", "off");
    let status = doc.create_element("div").ok()?;
    let _ = status.set_attribute("part", "status");
    let _ = status.set_attribute("role", "status");
    let _ = status.set_attribute("hidden", "");
    let _ = messages.before_with_node_1(&status);
    let typing = doc.create_element("div").ok()?;
    let _ = typing.set_attribute("class", "typing");
    let _ = typing.set_attribute("role", "status");
    let _ = typing.set_attribute("aria-label", s.get("typing"));
    let _ = typing.set_attribute("hidden", "");
    super::dom::build(&doc, &typing, "<i></i><i></i><i></i>");
    let _ = messages.after_with_node_1(&typing);
    let live = doc.create_element("div").ok()?;
    let _ = live.set_attribute("class", "sr");
    let _ = live.set_attribute("aria-live", "polite");
    let _ = live.set_attribute("aria-atomic", "true");
    let _ = window.append_child(&live);
    let weak = Rc::downgrade(w);
    let root2 = root.clone();
    let win2 = window.clone();
    let keys = Listener::new(&window, "keydown", move |e: Event| {
        let Some(w) = weak.upgrade() else { return };
        let key = get(&e, "key").as_string().unwrap_or_default();
        if key == "Escape" {
            e.prevent_default();
            if !feedback::close_popup(&w) {
                act::change_view(&w, crate::view::Cause::MinimizeClicked, Then::Nothing);
            }
        } else if key == "Tab" {
            trap(&root2, &win2, &e);
        }
    });
    Some(Ui {
        root: root.clone(),
        window,
        status,
        typing,
        live,
        popup: None,
        _keys: keys,
    })
}

/// Keeps Tab / Shift+Tab inside the open window.
fn trap(root: &JsValue, window: &Element, e: &Event) {
    let Ok(list) = window.query_selector_all("button:not([hidden]),input,textarea,a[href]") else {
        return;
    };
    let mut first = None;
    let mut last = None;
    for i in 0..list.length() {
        if let Some(n) = list.item(i) {
            let el: Element = n.unchecked_into();
            if el.closest("[hidden]").ok().flatten().is_none() {
                if first.is_none() {
                    first = Some(el.clone());
                }
                last = Some(el);
            }
        }
    }
    let (Some(first), Some(last)) = (first, last) else {
        return;
    };
    let active = get(root, "activeElement");
    let shift = get(e, "shiftKey").as_bool() == Some(true);
    let target = if shift && (active == JsValue::from(first.clone()) || active.is_null()) {
        Some(last)
    } else if !shift && active == JsValue::from(last.clone()) {
        Some(first)
    } else {
        None
    };
    if let Some(t) = target {
        e.prevent_default();
        let _ = t.unchecked_into::<web_sys::HtmlElement>().focus();
    }
}

/// The window was opened: make sure there is a thread (the bot's greeting shows).
pub(crate) fn opened(w: &Rc<Widget>) {
    let none = w.st.borrow().thread_id.is_none();
    if none {
        spawn_thread(w);
    }
}

fn spawn_thread(w: &Rc<Widget>) {
    let (weak, gen) = (Rc::downgrade(w), w.st.borrow().chat.gen);
    spawn_local(async move {
        let _ = ensure_thread(&weak, gen).await;
    });
}

/// The thread id, creating the thread first if there is none. `None`: gave up (no bot, or the
/// widget went away).
async fn ensure_thread(weak: &Weak<Widget>, gen: u32) -> Option<String> {
    let mut backoff = Backoff::new();
    loop {
        let w = alive(weak, gen)?;
        if let Some(t) = w.st.borrow().thread_id.clone() {
            return Some(t);
        }
        if w.st.borrow().chat.creating {
            drop(w);
            let _ = sleep(50).await;
            continue;
        }
        let bot = w.st.borrow().opts.bot.clone();
        let Some(bot) = bot else {
            let mut st = w.st.borrow_mut();
            if !st.chat.warned_bot {
                st.chat.warned_bot = true;
                js::console_warn("natter: options.bot is not set, so no conversation can start; pass the bot's slug, e.g. loadChat({serverUrl, bot: \"acme\"})");
            }
            return None;
        };
        let mut url = base(&w);
        url.push_str("/v1/bots/");
        url.push_str(&bot);
        url.push_str("/threads");
        w.st.borrow_mut().chat.creating = true;
        let body = super::session::create_body(&w);
        drop(w);
        let r = request(weak, "POST", &url, Some(&body), 0, None).await;
        let w = weak.upgrade()?;
        w.st.borrow_mut().chat.creating = false;
        if w.st.borrow().chat.gen != gen || w.st.borrow().destroyed {
            return None;
        }
        if let Ok(resp) = r {
            if status(&resp) == 201 {
                let body = json(&resp).await;
                if let Some(tid) = get(&body, "threadId").as_string() {
                    w.set_thread_id(Some(tid.clone()));
                    w.st.borrow_mut().chat.seq = Seq::default();
                    start_stream(&w);
                    return Some(tid);
                }
            } else if verdict(status(&resp)) == Verdict::GiveUp || status(&resp) == 404 {
                js::console_warn("natter: the server refused to start a conversation (check options.bot and the server log)");
                return None;
            }
        }
        drop(w);
        let _ = sleep(backoff.next(rand())).await;
    }
}

/// Loads a thread's history (`pre:threadLoaded` → shown), then streams from its `lastSeq`.
pub(crate) fn load_thread(w: &Rc<Widget>, tid: String, then: Then) {
    let gen = {
        let mut st = w.st.borrow_mut();
        st.chat.gen = st.chat.gen.wrapping_add(1);
        if let Some(a) = st.chat.abort.take() {
            a.abort();
        }
        st.chat.streaming = false;
        // the send loop of the old generation stops; the stream's start kicks a new one
        st.chat.sending = false;
        st.chat.seq = Seq::default();
        st.chat.gen
    };
    let weak = Rc::downgrade(w);
    let url = thread_url(w, &tid, "/messages");
    spawn_local(async move {
        let mut backoff = Backoff::new();
        loop {
            let r = request(&weak, "GET", &url, None, 0, None).await;
            let Some(w) = alive(&weak, gen) else { return };
            let code = r.as_ref().map(status).unwrap_or(0);
            if code == 200 {
                let body = json(&r.unwrap_or(JsValue::NULL)).await;
                let Some(w) = alive(&weak, gen) else { return };
                return history_arrived(&w, tid, &body, then);
            }
            if code != 0 && verdict(code) != Verdict::Retry {
                // gone (404) or not ours: forget it; the next open starts a new thread
                if w.st.borrow().thread_id.as_deref() == Some(tid.as_str()) {
                    w.set_thread_id(None);
                }
                act::run_then(&w, then);
                return;
            }
            drop(w);
            let _ = sleep(backoff.next(rand())).await;
        }
    });
}

/// A thread's history arrived (`{messages, lastSeq, feedback}`, the body of `GET …/messages`):
/// the stream will resume after `lastSeq`; each message gets `sender`, `type` beside each
/// item's `response_type`, and `message_state` (the feedback given); then `pre:threadLoaded`.
pub(crate) fn history_arrived(w: &Rc<Widget>, tid: String, body: &JsValue, then: Then) {
    let last = get(body, "lastSeq").as_f64().unwrap_or(0.0) as u64;
    feedback::remember(w, &get(body, "feedback"));
    w.st.borrow_mut().chat.seq = Seq { last };
    let messages = get(body, "messages");
    for m in items(&messages) {
        let user = get(&m, "role").as_string().as_deref() == Some("user");
        set(
            &m,
            "sender",
            &(if user { "user" } else { "response" }).into(),
        );
        typed(&m);
        // what the visitor did with it: the feedback given, if any
        let id = get(&m, "id").as_string().unwrap_or_default();
        let state = object(&[]);
        let given =
            w.st.borrow()
                .chat
                .feedback
                .iter()
                .find(|f| f.0 == id)
                .map(|f| f.1);
        if let Some(p) = given {
            set(&state, "feedback", &object(&[("isPositive", p.into())]));
        }
        set(&m, "message_state", &state);
    }
    let ev = js::event(EventType::PreThreadLoaded, &[("messages", messages)]);
    emit(
        w,
        EventType::PreThreadLoaded,
        ev,
        None,
        After::ThreadLoaded {
            thread_id: tid,
            then,
        },
    );
}

/// After `pre:threadLoaded`: shows `event.messages`, then opens the stream.
pub(crate) fn history_done(w: &Rc<Widget>, event: &JsValue) {
    let shown = items(&get(event, "messages"));
    let mut views = Vec::new();
    for m in &shown {
        views.push(read_message(m));
    }
    {
        let mut st = w.st.borrow_mut();
        let st = &mut *st;
        st.chat.live.clear();
        st.streams.clear();
        if let Some(d) = &st.dom {
            d.clear_messages();
        }
    }
    let mut custom = Vec::new();
    for (m, v) in shown.into_iter().zip(views) {
        render_message(w, &m, v, false, &mut custom);
    }
    {
        // sends still waiting stay at the end of the transcript, as pending
        let mut st = w.st.borrow_mut();
        let st = &mut *st;
        if let Some(d) = &st.dom {
            let bubbles: Vec<Element> = st
                .chat
                .sends
                .iter_extra()
                .filter_map(|p| p.bubble.clone())
                .collect();
            for b in bubbles {
                place(&mut st.chat, d, &b);
            }
        }
    }
    fire_custom(w, custom);
    scroll(w);
    start_stream(w);
}

/// Closes the current thread on the server and forgets everything about it (restart).
pub(crate) fn reset(w: &Rc<Widget>) {
    let (old, pending) = {
        let mut st = w.st.borrow_mut();
        let c = &mut st.chat;
        c.gen = c.gen.wrapping_add(1);
        if let Some(a) = c.abort.take() {
            a.abort();
        }
        c.streaming = false;
        c.sending = false;
        c.creating = false;
        c.seq = Seq::default();
        c.live.clear();
        c.msgs.clear();
        c.feedback.clear();
        (st.thread_id.clone(), st.chat.sends.take_all())
    };
    persist_sends(w);
    for p in pending {
        if let Some(t) = p.extra.then {
            act::run_then(w, t);
        }
    }
    typing(w, false);
    feedback::close_popup(w);
    set_conn(w, Conn::Idle);
    if let Some(tid) = old {
        let url = thread_url(w, &tid, "/close");
        let weak = Rc::downgrade(w);
        spawn_local(async move {
            let _ = request(&weak, "POST", &url, None, 0, None).await;
        });
    }
}

/// After `restartConversation`: a fresh thread.
pub(crate) fn fresh(w: &Rc<Widget>) {
    spawn_thread(w);
}

// ---- the event stream -----------------------------------------------------------------------------

fn start_stream(w: &Rc<Widget>) {
    let gen = {
        let mut st = w.st.borrow_mut();
        if st.chat.streaming || st.thread_id.is_none() {
            return;
        }
        st.chat.streaming = true;
        st.chat.gen
    };
    let weak = Rc::downgrade(w);
    spawn_local(async move {
        stream_loop(weak, gen).await;
    });
    kick_sends(w);
}

async fn stream_loop(weak: Weak<Widget>, gen: u32) {
    let mut backoff = Backoff::new();
    let mut first = true;
    loop {
        let Some(w) = alive(&weak, gen) else { return };
        let Some(tid) = w.st.borrow().thread_id.clone() else {
            w.st.borrow_mut().chat.streaming = false;
            return;
        };
        set_conn(
            &w,
            if first {
                Conn::Connecting
            } else {
                Conn::Reconnecting
            },
        );
        let ctrl = AbortController::new();
        let signal = ctrl.signal();
        let after = {
            let mut st = w.st.borrow_mut();
            st.chat.abort = Some(ctrl);
            st.chat.seq.last
        };
        let url = thread_url(&w, &tid, "/events");
        drop(w);
        let r = request(&weak, "GET", &url, None, after, Some(signal)).await;
        let Some(w) = alive(&weak, gen) else { return };
        match r {
            Ok(resp) if status(&resp) == 200 => {
                set_conn(&w, Conn::Online);
                drop(w);
                let reader = call0(&get(&resp, "body"), "getReader");
                let mut parser = SseParser::new();
                loop {
                    let Ok(p) = call0(&reader, "read").dyn_into::<Promise>() else {
                        break;
                    };
                    let Ok(chunk) = JsFuture::from(p).await else {
                        break;
                    };
                    let Some(w) = alive(&weak, gen) else {
                        call0(&reader, "cancel");
                        return;
                    };
                    if get(&chunk, "done").as_bool() == Some(true) {
                        break;
                    }
                    let bytes = Uint8Array::new(&get(&chunk, "value")).to_vec();
                    let got = !bytes.is_empty();
                    for ev in parser.feed(&bytes) {
                        handle(&w, &ev.data);
                    }
                    if got {
                        backoff.reset();
                    }
                }
            }
            Ok(resp) if status(&resp) == 401 => {
                // refused even after authTokenNeeded: stop instead of looping on requests and
                // events, and say so; a new token (updateAuthToken) starts the stream again
                w.st.borrow_mut().chat.streaming = false;
                set_conn(&w, Conn::Unauthorized);
                return;
            }
            Ok(resp) if status(&resp) == 404 => {
                // the thread is gone: forget it; the next send starts a new one
                w.set_thread_id(None);
                w.st.borrow_mut().chat.streaming = false;
                set_conn(&w, Conn::Idle);
                return;
            }
            _ => {}
        }
        first = false;
        let Some(w) = alive(&weak, gen) else { return };
        set_conn(&w, Conn::Reconnecting);
        typing(&w, false);
        drop(w);
        let _ = sleep(backoff.next(rand())).await;
    }
}

fn set_conn(w: &Widget, c: Conn) {
    let mut st = w.st.borrow_mut();
    if st.chat.conn == Some(c) {
        return;
    }
    st.chat.conn = Some(c);
    let label = c.label().map(|k| st.opts.strings.get(k).to_string());
    if let Some(ui) = &st.chat.ui {
        let _ = ui
            .status
            .toggle_attribute_with_force("hidden", label.is_none());
        ui.status.set_text_content(label.as_deref());
    }
    if let Some(d) = &st.dom {
        let _ = d.host.set_attribute(
            "data-connection",
            match c {
                Conn::Idle => "idle",
                Conn::Connecting => "connecting",
                Conn::Online => "online",
                Conn::Reconnecting => "reconnecting",
                Conn::Unauthorized => "unauthorized",
            },
        );
    }
}

/// Internal (tests, benchmarks): handle one event's `data` as if it came from the stream.
pub(crate) fn feed(w: &Rc<Widget>, data: &str) {
    handle(w, data);
}

fn handle(w: &Rc<Widget>, data: &str) {
    let Ok(v) = json_parse(data) else { return };
    let seq = get(&v, "seq").as_f64().unwrap_or(0.0) as u64;
    if !w.st.borrow_mut().chat.seq.accept(seq) {
        return;
    }
    let kind = Kind::parse(&get(&v, "type").as_string().unwrap_or_default());
    if kind.ends_typing() {
        typing(w, false);
    }
    match kind {
        Kind::MessageCreated => {
            let m = get(&v, "message");
            let cmid = get(&m, "client_message_id").as_string().unwrap_or_default();
            let (waiting, seen) = {
                let c = &w.st.borrow().chat;
                (c.sends.waiting(&cmid), c.mine.contains(&cmid))
            };
            if waiting {
                // the stream's record of our send: acknowledged (`send` before its reply)
                acked(w, &cmid, true);
            } else if !seen {
                let text = text_of(&m);
                user_bubble(w, &text, "user");
                scroll(w);
            }
        }
        Kind::RunStarted => typing(w, true),
        Kind::AgentTyping => typing(w, get(&v, "typing").as_bool() == Some(true)),
        Kind::MessageDelta => {
            // the stream event itself becomes the `pre:stream:delta` event (fewer JS calls per
            // delta): it already carries messageId, threadId, runId and delta
            let mid = get(&v, "messageId").as_string().unwrap_or_default();
            let run = get(&v, "runId").as_string().unwrap_or_default();
            // the bubble takes its place in the transcript now, whatever handlers do
            ensure_live(w, mid.clone(), run);
            act::stream_delta(w, v, mid);
        }
        Kind::MessageCompleted | Kind::AgentMessage => act::receive(w, get(&v, "message")),
        Kind::RunFailed => {
            // a reply started but not completed in this run is abandoned (protocol §7)
            let run = get(&v, "runId").as_string().unwrap_or_default();
            let mut st = w.st.borrow_mut();
            let st = &mut *st;
            st.chat.live.retain(|l| {
                if l.run == run {
                    l.bubble.remove();
                    false
                } else {
                    true
                }
            });
        }
        Kind::HandedOff => note(w, "handedOff", None),
        Kind::AgentJoined => note(w, "agentJoined", get(&v, "agent").as_string()),
        Kind::AgentLeft => note(w, "agentLeft", get(&v, "agent").as_string()),
        Kind::Closed => note(w, "closed", None),
        Kind::MessageStarted | Kind::RunCompleted | Kind::Other => {}
    }
}

fn note(w: &Widget, key: &str, who: Option<String>) {
    note_el(w, key, who);
    scroll(w);
}

fn note_el(w: &Widget, key: &str, who: Option<String>) {
    let mut st = w.st.borrow_mut();
    let st = &mut *st;
    let Some(d) = &st.dom else { return };
    let Some(doc) = d.messages.owner_document() else {
        return;
    };
    if let Ok(el) = doc.create_element("div") {
        let _ = el.set_attribute("class", "note");
        let _ = el.set_attribute("role", "note");
        let mut t = String::new();
        if let Some(n) = who.filter(|n| !n.is_empty()) {
            t.push_str(&n);
            t.push_str(": ");
        }
        t.push_str(st.opts.strings.get(key));
        el.set_text_content(Some(&t));
        place(&mut st.chat, d, &el);
    }
}

fn typing(w: &Widget, on: bool) {
    let (gen, id) = {
        let mut st = w.st.borrow_mut();
        st.chat.typing_gen = st.chat.typing_gen.wrapping_add(1);
        if let Some(ui) = &st.chat.ui {
            let _ = ui.typing.toggle_attribute_with_force("hidden", !on);
        }
        (st.chat.typing_gen, w.id)
    };
    if on {
        // it can never stick: taken down after a while without news
        TYPING_OFF.with(|f| {
            let b = f.bind2(&JsValue::NULL, &id.into(), &gen.into());
            js::set_timeout(&b, TYPING_TIMEOUT_MS);
        });
    }
}

// ---- sending ------------------------------------------------------------------------------------

/// `pre:send` handlers are done and there is text or a file to send: show it (or `label`
/// instead), keep it (in memory and in storage, so a reload re-sends it) and send it. `files`:
/// the attachments left in `pre:send` (objects with an `id`).
pub(crate) fn queued(
    w: &Rc<Widget>,
    content: String,
    files: JsValue,
    silent: bool,
    label: Option<String>,
    message: JsValue,
    then: Then,
) {
    if w.st.borrow().chat.sends.len() >= crate::conversation::LIMIT {
        // tell the visitor (not only the console): the message was not taken
        js::console_warn(&crate::thread::Error::OutboxFull.msg());
        note(w, "queueFull", None);
        return act::run_then(w, then);
    }
    let bubble = if silent {
        None
    } else {
        user_bubble(w, label.as_deref().unwrap_or(&content), "user pending")
    };
    scroll(w);
    let extra = Pending {
        message,
        then: Some(then),
        bubble,
        files,
    };
    let _ = w.st.borrow_mut().chat.sends.queue(content, extra);
    persist_sends(w);
    kick_sends(w);
}

fn sends_key(w: &Widget) -> String {
    let st = w.st.borrow();
    let mut k = crate::thread::storage_key(&st.opts.server_url, st.opts.bot.as_deref());
    k.push_str(":sends");
    k
}

/// The ids of the files of a send, as its POST names them.
pub(super) fn file_ids(files: &JsValue) -> js_sys::Array {
    let ids = js_sys::Array::new();
    for f in items(files) {
        let id = get(&f, "id");
        if id.is_string() {
            ids.push(&id);
        }
    }
    ids
}

/// Keeps the unacknowledged sends beside the thread id
/// (`[[clientMessageId, content, [file, …]], …]`).
fn persist_sends(w: &Widget) {
    let Some(s) = super::storage(w.st.borrow().opts.persistence) else {
        return;
    };
    let key = sends_key(w);
    let list = js_sys::Array::new();
    for s in w.st.borrow().chat.sends.stored() {
        list.push(&js_sys::Array::of3(
            &s.cmid.as_str().into(),
            &s.content.as_str().into(),
            &s.extra.files,
        ));
    }
    let _ = if list.length() == 0 {
        s.remove_item(&key)
    } else {
        s.set_item(&key, &json_text(&list))
    };
}

/// Takes back the sends an earlier page kept (reload, crashed tab): shown as pending and
/// re-sent with their own client message ids, so the server keeps each once.
fn restore_sends(w: &Rc<Widget>) {
    let Some(s) = super::storage(w.st.borrow().opts.persistence) else {
        return;
    };
    let Some(raw) = s.get_item(&sends_key(w)).ok().flatten() else {
        return;
    };
    for pair in items(&json_parse(&raw).unwrap_or(JsValue::NULL)) {
        let (Some(cmid), Some(content)) =
            (get(&pair, "0").as_string(), get(&pair, "1").as_string())
        else {
            continue;
        };
        let files = get(&pair, "2");
        let bubble = user_bubble(w, &content, "user pending");
        let inner = object(&[("content", content.as_str().into())]);
        if files.is_object() {
            set(&inner, "attachments", &files);
        }
        let extra = Pending {
            message: object(&[("message", inner)]),
            then: None,
            bubble,
            files,
        };
        w.st.borrow_mut().chat.sends.restore(cmid, content, extra);
    }
    kick_sends(w);
}

fn kick_sends(w: &Rc<Widget>) {
    let gen = {
        let mut st = w.st.borrow_mut();
        if st.chat.sending || st.chat.sends.is_empty() {
            return;
        }
        st.chat.sending = true;
        st.chat.gen
    };
    let weak = Rc::downgrade(w);
    spawn_local(async move { send_loop(weak, gen).await });
}

async fn send_loop(weak: Weak<Widget>, gen: u32) {
    let mut backoff = Backoff::new();
    loop {
        let Some(w) = alive(&weak, gen) else { return };
        let next =
            w.st.borrow()
                .chat
                .sends
                .next()
                .map(|(c, t)| (c.to_string(), t.to_string()));
        let Some((cmid, content)) = next else {
            w.st.borrow_mut().chat.sending = false;
            return;
        };
        drop(w);
        let Some(tid) = ensure_thread(&weak, gen).await else {
            // no conversation can start (no `bot` option, or the server refuses it): the
            // waiting messages are marked failed and their send() promises resolve, no `send`
            if let Some(w) = alive(&weak, gen) {
                w.st.borrow_mut().chat.sending = false;
                let ids: Vec<String> =
                    w.st.borrow()
                        .chat
                        .sends
                        .stored()
                        .iter()
                        .map(|s| s.cmid.clone())
                        .collect();
                for id in ids {
                    acked(&w, &id, false);
                }
            }
            return;
        };
        let Some(w) = alive(&weak, gen) else { return };
        let url = thread_url(&w, &tid, "/messages");
        // the host's context, as `pre:send` handlers left it (`undefined`: not sent), and the
        // files
        let (context, files) = match w.st.borrow().chat.sends.iter_extra().next() {
            Some(p) => (get(&p.message, "context"), p.files.clone()),
            None => (JsValue::UNDEFINED, JsValue::UNDEFINED),
        };
        let context = if context.is_object() {
            context
        } else {
            JsValue::UNDEFINED
        };
        let body = json_text(&object(&[
            ("clientMessageId", cmid.as_str().into()),
            ("content", content.as_str().into()),
            ("context", context),
            ("attachments", file_ids(&files).into()),
        ]));
        drop(w);
        let r = request(&weak, "POST", &url, Some(&body), 0, None).await;
        let Some(w) = alive(&weak, gen) else { return };
        let code = r.as_ref().map(status).unwrap_or(0);
        match verdict(code) {
            Verdict::Done => {
                backoff.reset();
                acked(&w, &cmid, true);
            }
            Verdict::Retry => {
                drop(w);
                let _ = sleep(backoff.next(rand())).await;
            }
            Verdict::NewThread => {
                // closed or gone: the message goes to a new thread
                let mut st = w.st.borrow_mut();
                st.chat.gen = st.chat.gen.wrapping_add(1);
                if let Some(a) = st.chat.abort.take() {
                    a.abort();
                }
                st.chat.streaming = false;
                st.chat.sending = false;
                drop(st);
                w.set_thread_id(None);
                spawn_thread(&w);
                kick_sends(&w);
                return;
            }
            Verdict::GiveUp => acked(&w, &cmid, false),
        }
    }
}

/// The server acknowledged (its 202, or the stream's record of the message) or refused for
/// good a send: `send` fires at the first acknowledgement, before any event of its reply.
fn acked(w: &Rc<Widget>, cmid: &str, ok: bool) {
    let p = {
        let mut st = w.st.borrow_mut();
        let p = st.chat.sends.settle(cmid);
        if p.is_some() {
            st.chat.mine.push(cmid.to_string());
        }
        p
    };
    let Some(p) = p else { return };
    persist_sends(w);
    let mut p = p.extra;
    if let Some(b) = &p.bubble {
        let _ = b.set_attribute("class", if ok { "user" } else { "user failed" });
        if !ok {
            let t = w.st.borrow().opts.strings.get("sendFailed").to_string();
            let _ = b.set_attribute("title", &t);
        }
    }
    let then = p.then.take().unwrap_or(Then::Nothing);
    if ok {
        let ev = js::event(EventType::Send, &[("message", p.message.clone())]);
        emit(w, EventType::Send, ev, None, After::Finally(then));
    } else {
        js::console_warn("natter: a message was not sent: the server refused it, or no conversation could start (see the warning before)");
        act::run_then(w, then);
    }
}

fn user_bubble(w: &Widget, text: &str, class: &str) -> Option<Element> {
    let mut st = w.st.borrow_mut();
    let st = &mut *st;
    let d = st.dom.as_ref()?;
    let b = bubble(&mut st.chat, d, true)?;
    let _ = b.set_attribute("class", class);
    d.append_text(&b, text);
    Some(b)
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

fn text_of(m: &JsValue) -> String {
    let mut s = String::new();
    for it in items(&get(m, "content")) {
        if let Some(t) = get(&it, "text").as_string() {
            if !s.is_empty() {
                s.push('\n');
            }
            s.push_str(&t);
        }
    }
    s
}

// ---- streaming ---------------------------------------------------------------------------------

fn ensure_live(w: &Widget, mid: String, run: String) {
    let mut st = w.st.borrow_mut();
    if !st.chat.live.iter().any(|l| l.id == mid) {
        live_bubble(&mut st, mid, run);
    }
}

/// A hidden bubble for a reply whose deltas are coming (shown at its first text).
fn live_bubble(st: &mut super::State, id: String, run: String) {
    if let Some(b) = st.dom.as_ref().and_then(|d| bubble(&mut st.chat, d, false)) {
        let _ = b.set_attribute("hidden", "");
        // a fixed width while streaming: no intrinsic sizing over the whole reply per frame
        let _ = b.set_attribute("class", "bot live");
        st.chat.live.push(Live {
            id,
            run,
            bubble: b,
            block: None,
            block_len: 0,
            pending: String::new(),
        });
    }
}

/// `pre:stream:delta` handlers are done: queue the text they left for the next frame. A
/// string `event.delta.text` replaces the chunk's text; otherwise the text items of
/// `event.delta.content` are rendered (`[]` suppresses the chunk).
pub(crate) fn delta_done(w: &Rc<Widget>, event: &JsValue) {
    let mid = get(event, "messageId").as_string().unwrap_or_default();
    let run = get(event, "runId").as_string().unwrap_or_default();
    let delta = get(event, "delta");
    let mut texts = Vec::new();
    let rewritten = get(&delta, "text").as_string();
    for item in items(&get(&delta, "content")) {
        let kind = get(&item, "response_type").as_string();
        let text = match kind.as_deref() {
            None | Some("text") => get(&item, "text").as_string(),
            _ => None,
        };
        texts.push((text, item));
    }
    let schedule = {
        let mut st = w.st.borrow_mut();
        let st = &mut *st;
        if let Some(s) = st.streams.iter().find(|s| s.id == mid) {
            for (_, item) in &texts {
                s.message_content.push(item);
            }
        }
        if !st.chat.live.iter().any(|l| l.id == mid) {
            live_bubble(st, mid.clone(), run);
        }
        let Some(l) = st.chat.live.iter_mut().find(|l| l.id == mid) else {
            return;
        };
        match rewritten {
            Some(t) => l.pending.push_str(&t),
            None => {
                for (t, _) in texts {
                    if let Some(t) = t {
                        l.pending.push_str(&t);
                    }
                }
            }
        }
        !std::mem::replace(&mut st.chat.raf, true)
    };
    if schedule {
        FLUSH.with(|f| request_animation_frame(&f.bind1(&JsValue::NULL, &w.id.into())));
    }
}

/// Appends every pending streamed text (one animation frame's worth).
pub(crate) fn flush(w: &Rc<Widget>) {
    let mut any = false;
    {
        let mut st = w.st.borrow_mut();
        st.chat.raf = false;
        for l in st.chat.live.iter_mut() {
            if l.pending.is_empty() {
                continue;
            }
            let Some(doc) = l.bubble.owner_document() else {
                continue;
            };
            let text = std::mem::take(&mut l.pending);
            for (new, piece) in split_blocks(l.block_len, &text) {
                if new || l.block.is_none() {
                    let Ok(p) = doc.create_element("div") else {
                        continue;
                    };
                    let t = doc.create_text_node("");
                    let _ = p.append_child(&t);
                    let _ = l.bubble.append_child(&p);
                    l.block = Some(t);
                    l.block_len = 0;
                }
                if let Some(t) = &l.block {
                    let _ = t.append_data(piece);
                    l.block_len += piece.len();
                }
            }
            let _ = l.bubble.remove_attribute("hidden");
            any = true;
        }
    }
    if any {
        scroll(w);
    }
}

/// Keeps the newest message in view.
fn scroll(w: &Widget) {
    let st = w.st.borrow();
    if let Some(d) = &st.dom {
        d.messages.set_scroll_top(d.messages.scroll_height());
    }
}

// ---- messages -----------------------------------------------------------------------------------

/// `pre:receive` handlers are done: render `event.message`, announce it, then
/// `userDefinedResponse` for its custom items and `receive`.
pub(crate) fn receive_done(w: &Rc<Widget>, event: JsValue) {
    let message = get(&event, "message");
    let view = read_message(&message);
    let mut custom = Vec::new();
    let announce = render_message(w, &message, view, true, &mut custom);
    if let Some(text) = announce {
        let st = w.st.borrow();
        if let Some(ui) = &st.chat.ui {
            ui.live.set_text_content(Some(&text));
        }
    }
    scroll(w);
    fire_custom(w, custom);
    emit(
        w,
        EventType::Receive,
        js::event(EventType::Receive, &[("message", message)]),
        None,
        After::Nothing,
    );
}

fn fire_custom(w: &Rc<Widget>, custom: Vec<(JsValue, JsValue, Element)>) {
    for (item, message, host) in custom {
        let ev = js::event(
            EventType::UserDefinedResponse,
            &[
                ("contentItem", item),
                ("message", message),
                ("hostElement", host.into()),
            ],
        );
        emit(w, EventType::UserDefinedResponse, ev, None, After::Nothing);
    }
}

/// Renders one bot/agent/user message (reusing its streamed bubble); returns the text to
/// announce. Custom items get a host element each, collected in `custom`.
fn render_message(
    w: &Rc<Widget>,
    message: &JsValue,
    view: View,
    live: bool,
    custom: &mut Vec<(JsValue, JsValue, Element)>,
) -> Option<String> {
    let mut st = w.st.borrow_mut();
    let st = &mut *st;
    let d = st.dom.as_ref()?;
    if view.role == "user" {
        let mut t = String::new();
        for it in &view.items {
            if let Item::Text(b) = it {
                md::plain(b, &mut t);
            }
        }
        let b = bubble(&mut st.chat, d, true)?;
        d.append_text(&b, &t);
        return None;
    }
    let streamed = st
        .chat
        .live
        .iter()
        .position(|l| l.id == view.id)
        .map(|i| st.chat.live.remove(i).bubble);
    if let Some(i) = st.streams.iter().position(|s| s.id == view.id) {
        st.streams.remove(i);
    }
    let bubble = match streamed {
        Some(b) => {
            b.set_text_content(None);
            let _ = b.remove_attribute("hidden");
            b
        }
        None => bubble(&mut st.chat, d, false)?,
    };
    let doc = bubble.owner_document()?;
    let _ = bubble.set_attribute("class", if view.role == "agent" { "agent" } else { "bot" });
    let m = st.chat.msgs.len() as u32;
    st.chat.msgs.push((view.id.clone(), message.clone()));
    let mut said = String::new();
    let mut wide = false;
    for (i, it) in view.items.iter().enumerate() {
        let i = i as u32;
        let text = match it {
            Item::Text(b) => Some(b),
            Item::Buttons(t, _) | Item::Cards(t, _) | Item::Custom(t, _) => t.as_ref(),
        };
        if let Some(b) = text {
            render_blocks(&doc, &bubble, b);
            md::plain(b, &mut said);
        }
        match it {
            Item::Buttons(_, labels) => {
                if let Some(row) = el(&doc, "div", &bubble, Some("btns")) {
                    for (b, l) in labels.iter().enumerate() {
                        button(&doc, &row, l, m, i, None, b as u32);
                    }
                }
            }
            Item::Cards(_, cards) => {
                wide = true;
                if let Some(row) = el(&doc, "div", &bubble, Some("cards")) {
                    let _ = row.set_attribute("role", "list");
                    for (c, card) in cards.iter().enumerate() {
                        let Some(ce) = el(&doc, "div", &row, None) else {
                            continue;
                        };
                        let _ = ce.set_attribute("part", "card");
                        let _ = ce.set_attribute("role", "listitem");
                        if let Some(src) =
                            card.image.as_deref().and_then(md::safe_url).filter(|u| {
                                !u.get(..7)
                                    .is_some_and(|p| p.eq_ignore_ascii_case("mailto:"))
                            })
                        {
                            if let Some(img) = el(&doc, "img", &ce, None) {
                                let _ = img.set_attribute("src", src);
                                let _ = img.set_attribute("alt", &card.title);
                                let _ = img.set_attribute("loading", "lazy");
                            }
                        }
                        if let Some(t) = el(&doc, "strong", &ce, None) {
                            t.set_text_content(Some(&card.title));
                        }
                        if let Some(p) = card
                            .desc
                            .as_deref()
                            .and_then(|x| el(&doc, "p", &ce, None).map(|p| (p, x)))
                        {
                            p.0.set_text_content(Some(p.1));
                        }
                        if let Some(row2) = el(&doc, "div", &ce, Some("btns")) {
                            for (b, l) in card.buttons.iter().enumerate() {
                                button(&doc, &row2, l, m, i, Some(c as u32), b as u32);
                            }
                        }
                    }
                }
            }
            Item::Custom(_, item) => {
                let n = st.chat.next_slot;
                st.chat.next_slot = n.wrapping_add(1);
                let name = num(String::from("n"), n);
                if let (Some(slot), Ok(host)) =
                    (el(&doc, "slot", &bubble, None), doc.create_element("div"))
                {
                    let _ = slot.set_attribute("name", &name);
                    let _ = host.set_attribute("slot", &name);
                    let _ = d.host.append_child(&host);
                    custom.push((item.clone(), message.clone(), host));
                }
                wide = true;
            }
            Item::Text(_) => {}
        }
    }
    if wide {
        let _ = bubble.set_attribute(
            "class",
            if view.role == "agent" {
                "agent x"
            } else {
                "bot x"
            },
        );
    }
    if view.feedback && !view.id.is_empty() {
        let given = st
            .chat
            .feedback
            .iter()
            .find(|f| f.0 == view.id)
            .map(|f| f.1);
        if let Some(row) = el(&doc, "div", &bubble, Some("fb")) {
            let _ = row.set_attribute("part", "feedback");
            for (positive, key) in [(true, "feedbackPositive"), (false, "feedbackNegative")] {
                if let Some(b) = el(&doc, "button", &row, None) {
                    let _ = b.set_attribute("type", "button");
                    let _ = b.set_attribute("data-a", if positive { "up" } else { "down" });
                    let _ = b.set_attribute("data-m", &num(String::new(), m));
                    let _ = b.set_attribute("aria-label", st.opts.strings.get(key));
                    let _ = b.set_attribute("title", st.opts.strings.get(key));
                    let _ = b.set_attribute(
                        "aria-pressed",
                        if given == Some(positive) {
                            "true"
                        } else {
                            "false"
                        },
                    );
                    b.set_text_content(Some("\u{1f44d}\u{fe0e}"));
                }
            }
        }
    }
    (live && !said.is_empty()).then_some(said)
}

// ---- clicks ---------------------------------------------------------------------------------------

pub(super) fn attr_u32(e: &Element, name: &str) -> Option<u32> {
    // our own decimal attributes (data-m, …): a byte fold, not `str::parse`'s machinery
    let v = e.get_attribute(name)?;
    (!v.is_empty() && v.bytes().all(|b| b.is_ascii_digit())).then(|| {
        v.bytes().fold(0u32, |n, d| {
            n.wrapping_mul(10).wrapping_add(u32::from(d - b'0'))
        })
    })
}

/// A click on an element with a `data-a` the view layer does not handle.
pub(crate) fn click(w: &Rc<Widget>, e: Element) {
    let action = e.get_attribute("data-a").unwrap_or_default();
    match action.as_str() {
        "btn" => button_click(w, &e),
        "up" | "down" => feedback::thumbs(w, &e, action == "up"),
        "fbsend" => feedback::details_submit(w),
        "fbclose" => {
            feedback::close_popup(w);
        }
        _ => {}
    }
}

pub(super) fn message_at(w: &Widget, m: u32) -> Option<JsValue> {
    w.st.borrow().chat.msgs.get(m as usize).map(|x| x.1.clone())
}

fn button_click(w: &Rc<Widget>, e: &Element) {
    let (Some(m), Some(i), Some(b)) = (
        attr_u32(e, "data-m"),
        attr_u32(e, "data-i"),
        attr_u32(e, "data-b"),
    ) else {
        return;
    };
    let Some(message) = message_at(w, m) else {
        return;
    };
    let item = js_sys::Array::from(&get(&message, "content")).get(i);
    let button = match attr_u32(e, "data-c") {
        Some(c) => js_sys::Array::from(&get(
            &js_sys::Array::from(&get(&item, "cards")).get(c),
            "buttons",
        ))
        .get(b),
        None => js_sys::Array::from(&get(&item, "options")).get(b),
    };
    let ev = js::event(
        EventType::CustomEvent,
        &[
            ("customEventName", "buttonItemClicked".into()),
            ("contentItem", item),
            ("message", message),
            ("button", button.clone()),
        ],
    );
    // the default runs after the handlers
    emit(w, EventType::CustomEvent, ev, None, After::Nothing);
    let url = get(&button, "url").as_string();
    match url {
        Some(u) => {
            if let Some(safe) = md::safe_url(&u) {
                window_open(safe, "_blank", "noopener,noreferrer");
            }
        }
        None => {
            // the value (IBM's option items: `value.input.text`) goes to the bot; the visitor
            // sees the label they clicked
            let label = get(&button, "label").as_string();
            let value = get(&button, "value");
            let v = value
                .as_string()
                .or_else(|| get(&get(&value, "input"), "text").as_string())
                .or_else(|| label.clone());
            if let Some(v) = v.filter(|v| !v.trim().is_empty()) {
                act::send(
                    w,
                    v,
                    false,
                    label,
                    JsValue::UNDEFINED,
                    JsValue::UNDEFINED,
                    Then::Nothing,
                );
            }
        }
    }
}

/// The root of the shadow DOM (tests).
#[allow(dead_code)]
pub(crate) fn root(w: &Widget) -> JsValue {
    w.st.borrow()
        .chat
        .ui
        .as_ref()
        .map(|u| u.root.clone())
        .unwrap_or(JsValue::UNDEFINED)
}
