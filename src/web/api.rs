//! The JS surface: the `NatterChat` class (`loadChat` in js/natter.js creates it). Each method
//! checks its arguments, turns mistakes into a `TypeError` (see [`super::error`]), and hands
//! the work to [`super::run`]. Method names are camelCase through `js_name`.

use super::error::{Error, Result};
use super::js::{self, get, items, object};
use super::run::{self, After, Then};
use super::{chat, dom, opts, start, Ready, Widget};
use crate::events::{EventType, Topic};
use crate::thread;
use crate::view::{self, Cause};
use js_sys::{Function, Promise};
use std::rc::{Rc, Weak};
use wasm_bindgen::prelude::*;
use wasm_bindgen::JsCast;

/// One chat widget. Create it with `loadChat(options)`. Clones are handles to the same widget.
///
/// `destroy()` drops this handle's strong reference, so the widget's memory is freed at once,
/// not when the JS wrapper is garbage-collected.
#[wasm_bindgen(js_name = NatterChat)]
pub struct Chat {
    w: std::cell::RefCell<Option<Rc<Widget>>>,
}

impl Clone for Chat {
    fn clone(&self) -> Chat {
        Chat {
            w: std::cell::RefCell::new(self.w.borrow().clone()),
        }
    }
}

/// How a registration call adds or removes.
#[derive(Clone, Copy)]
enum Mode {
    On,
    Once,
    Off,
}

impl Mode {
    fn name(self) -> &'static str {
        match self {
            Mode::On => "on",
            Mode::Once => "once",
            Mode::Off => "off",
        }
    }
}

fn topic(method: &'static str, v: &JsValue) -> Result<Topic> {
    let name = v.as_string().ok_or(Error::BadRegistration(method))?;
    Topic::parse(&name).map_err(|e| Error::Event(method, e))
}

fn handler(mode: Mode, t: &JsValue, h: JsValue) -> Result<Option<Function>> {
    if matches!(mode, Mode::Off) && h.is_undefined() {
        return Ok(None);
    }
    match h.dyn_into::<Function>() {
        Ok(f) => Ok(Some(f)),
        Err(h) => Err(Error::NotAFunction {
            method: mode.name(),
            event: t.as_string().unwrap_or_default(),
            got: js::type_name(&h),
        }),
    }
}

/// `(type, fn)`, `{type, handler}` or an array of those → (topic, handler) pairs.
fn registrations(mode: Mode, a: &JsValue, b: JsValue) -> Result<Vec<(Topic, Option<Function>)>> {
    let method = mode.name();
    if a.as_string().is_some() {
        return Ok(vec![(topic(method, a)?, handler(mode, a, b)?)]);
    }
    let list = if js_sys::Array::is_array(a) {
        items(a)
    } else if a.is_object() {
        vec![a.clone()]
    } else {
        vec![]
    };
    if list.is_empty() {
        return Err(Error::BadRegistration(method));
    }
    let mut out = Vec::new();
    for r in &list {
        let t = get(r, "type");
        out.push((topic(method, &t)?, handler(mode, &t, get(r, "handler"))?));
    }
    Ok(out)
}

impl Chat {
    fn live(&self, method: &'static str) -> Result<Rc<Widget>> {
        match &*self.w.borrow() {
            Some(w) if !w.st.borrow().destroyed => Ok(w.clone()),
            _ => Err(Error::Destroyed(method)),
        }
    }

    fn register(&self, mode: Mode, a: JsValue, b: JsValue) -> Result<JsValue> {
        let w = self.live(mode.name())?;
        let regs = registrations(mode, &a, b)?; // all checked before any change
        let mut st = w.st.borrow_mut();
        for (t, h) in regs {
            match (mode, h) {
                (Mode::Off, h) => {
                    st.bus.remove(t, h.as_ref());
                }
                (m, Some(h)) => st.bus.add(t, h, matches!(m, Mode::Once)),
                (_, None) => {}
            }
        }
        Ok(st.instance.clone())
    }
}

#[wasm_bindgen(js_class = NatterChat)]
impl Chat {
    /// Validates options and creates the (unrendered) widget. Called by `loadChat`.
    #[wasm_bindgen(js_name = _create)]
    pub fn create(options: JsValue) -> core::result::Result<Chat, JsValue> {
        let p = opts::parse(&options)?;
        Ok(Chat {
            w: std::cell::RefCell::new(Some(Widget::new(p.options, p.element, p.channel))),
        })
    }

    /// Gives the widget the JS object handlers receive as `instance`, and the function that
    /// reads the page (`natterPage(options)` of js/page.js). Called by `loadChat`.
    #[wasm_bindgen(js_name = _attach)]
    pub fn attach(&self, instance: JsValue, page: JsValue) {
        if let Some(w) = &*self.w.borrow() {
            let mut st = w.st.borrow_mut();
            st.instance = instance;
            st.chat.session.page = page.dyn_into().ok();
        }
    }

    /// `on(type, handler)`, `on({type, handler})` or `on([...])`; returns the instance.
    pub fn on(&self, a: JsValue, b: JsValue) -> core::result::Result<JsValue, JsValue> {
        Ok(self.register(Mode::On, a, b)?)
    }

    /// Like `on`, but the handler is removed before its first call.
    pub fn once(&self, a: JsValue, b: JsValue) -> core::result::Result<JsValue, JsValue> {
        Ok(self.register(Mode::Once, a, b)?)
    }

    /// `off(type, handler)` removes that handler; `off(type)` every handler of `type`.
    pub fn off(&self, a: JsValue, b: JsValue) -> core::result::Result<JsValue, JsValue> {
        Ok(self.register(Mode::Off, a, b)?)
    }

    /// Renders the widget; resolves after `chat:ready` handlers ran. Idempotent.
    pub fn render(&self) -> core::result::Result<Promise, JsValue> {
        let w = &self.live("render")?;
        let (p, resolve) = run::promise();
        {
            let mut st = w.st.borrow_mut();
            match &mut st.ready {
                Ready::Done => return Ok(js::resolved(&JsValue::UNDEFINED)),
                Ready::Rendering(ws) => {
                    ws.push(resolve);
                    return Ok(p);
                }
                Ready::NotRendered => st.ready = Ready::Rendering(vec![resolve]),
            }
        }
        let doc = js::document().ok_or(Error::NoDocument)?;
        let weak: Weak<Widget> = Rc::downgrade(w);
        let on_action = move |a: dom::Action| {
            let Some(w) = weak.upgrade() else { return };
            match a {
                dom::Action::Open => start::change_view(&w, Cause::LauncherClicked, Then::Focus),
                dom::Action::Minimize => {
                    start::change_view(&w, Cause::MinimizeClicked, Then::Nothing)
                }
                dom::Action::ToggleMaximize => {
                    let m = !w.st.borrow().views.maximized();
                    start::change_props(&w, m, Then::Nothing)
                }
                dom::Action::Restart => restart(&w, Then::Nothing),
                dom::Action::Submit(text) => start::send(
                    &w,
                    text,
                    false,
                    None,
                    JsValue::UNDEFINED,
                    JsValue::UNDEFINED,
                    Then::Nothing,
                ),
                dom::Action::Click(el) => chat::click(&w, el),
            }
        };
        let built = {
            let st = w.st.borrow();
            dom::Dom::build(&doc, st.container.as_ref(), &st.opts, on_action)
        };
        w.st.borrow_mut().dom = Some(built?);
        chat::attach(w);
        start::change_view(w, Cause::Loaded, Then::Ready);
        Ok(p)
    }

    /// Sends a message through `pre:send` and `send`; `{silent: true}` keeps it out of the
    /// transcript, `{label}` shows that text instead of the one sent, `{context}` (an object)
    /// goes to the bot with it, `{attachments}` (files uploaded to the thread, each with its
    /// `id`) go with it — the text may then be blank. Resolves after the `send` handlers ran.
    pub fn send(&self, text: JsValue, options: JsValue) -> core::result::Result<Promise, JsValue> {
        let w = &self.live("send")?;
        let text = text.as_string().ok_or(Error::BadText)?;
        let (silent, label, context, files) = match options {
            o if o.is_undefined() || o.is_null() => {
                (false, None, JsValue::UNDEFINED, JsValue::UNDEFINED)
            }
            o if o.is_object() => {
                let (s, l, c) = (get(&o, "silent"), get(&o, "label"), get(&o, "context"));
                let f = get(&o, "attachments");
                if !(s.is_undefined() || s.as_bool().is_some())
                    || !(l.is_undefined() || l.as_string().is_some())
                    || !(c.is_undefined() || c.is_object() && !js_sys::Array::is_array(&c))
                    || !(f.is_undefined() || js_sys::Array::is_array(&f))
                {
                    return Err(Error::BadSendOptions.into());
                }
                (s.as_bool() == Some(true), l.as_string(), c, f)
            }
            _ => return Err(Error::BadSendOptions.into()),
        };
        if text.trim().is_empty() && !js::has_items(&files) {
            return Err(Error::BadText.into());
        }
        let (p, resolve) = run::promise();
        start::send(
            w,
            text,
            silent,
            label,
            context,
            files,
            Then::Resolve(resolve),
        );
        Ok(p)
    }

    /// `changeView("launcher" | "mainWindow" | {launcher, mainWindow})`.
    #[wasm_bindgen(js_name = changeView)]
    pub fn change_view(&self, v: JsValue) -> core::result::Result<Promise, JsValue> {
        let w = &self.live("changeView")?;
        let cause = match v.as_string() {
            Some(name) => view::parse_view_name(&name).map_err(Error::from)?,
            None if v.is_object() => {
                let (l, m) = (get(&v, "launcher"), get(&v, "mainWindow"));
                let ok = |x: &JsValue| x.is_undefined() || x.as_bool().is_some();
                if !ok(&l) || !ok(&m) || (l.is_undefined() && m.is_undefined()) {
                    return Err(Error::from(view::Error::BadViewArgument).into());
                }
                Cause::Called {
                    launcher: l.as_bool(),
                    main_window: m.as_bool(),
                }
            }
            None => return Err(Error::from(view::Error::BadViewArgument).into()),
        };
        let (p, resolve) = run::promise();
        start::change_view(w, cause, Then::Resolve(resolve));
        Ok(p)
    }

    /// `changeViewProperties({maximized})`.
    #[wasm_bindgen(js_name = changeViewProperties)]
    pub fn change_view_properties(&self, v: JsValue) -> core::result::Result<Promise, JsValue> {
        let w = &self.live("changeViewProperties")?;
        let m = get(&v, "maximized")
            .as_bool()
            .ok_or(Error::from(view::Error::BadProperties))?;
        let (p, resolve) = run::promise();
        start::change_props(w, m, Then::Resolve(resolve));
        Ok(p)
    }

    /// Clears the transcript and forgets the thread, through `pre:restartConversation` and
    /// `restartConversation`.
    #[wasm_bindgen(js_name = restartConversation)]
    pub fn restart_conversation(&self) -> core::result::Result<Promise, JsValue> {
        let w = &self.live("restartConversation")?;
        let (p, resolve) = run::promise();
        restart(w, Then::Resolve(resolve));
        Ok(p)
    }

    /// Loads a thread's history through `pre:threadLoaded`.
    #[wasm_bindgen(js_name = loadThreadById)]
    pub fn load_thread_by_id(&self, id: JsValue) -> core::result::Result<Promise, JsValue> {
        let w = &self.live("loadThreadById")?;
        let id = id
            .as_string()
            .ok_or(Error::Thread(thread::Error::BadThreadId))?;
        thread::check_thread_id(&id).map_err(Error::from)?;
        let (p, resolve) = run::promise();
        chat::load_thread(w, id, Then::Resolve(resolve));
        Ok(p)
    }

    /// Replaces the auth token (kept in memory only).
    #[wasm_bindgen(js_name = updateAuthToken)]
    pub fn update_auth_token(&self, token: JsValue) -> core::result::Result<(), JsValue> {
        let w = &self.live("updateAuthToken")?;
        if !(token.is_null() || token.is_undefined() || token.as_string().is_some()) {
            return Err(Error::BadToken.into());
        }
        w.st.borrow_mut().auth_token = token.as_string();
        chat::token_changed(w);
        Ok(())
    }

    /// Changes the locale (the `lang` of the window).
    #[wasm_bindgen(js_name = updateLocale)]
    pub fn update_locale(&self, locale: JsValue) -> core::result::Result<(), JsValue> {
        let w = &self.live("updateLocale")?;
        let l = locale
            .as_string()
            .and_then(|l| crate::options::locale(&l).ok())
            .ok_or(Error::BadLocale)?;
        let mut st = w.st.borrow_mut();
        if let Some(d) = &st.dom {
            d.set_locale(&l);
        }
        st.opts.locale = l;
        Ok(())
    }

    /// `{view: {launcher, mainWindow, maximized}, threadId, locale, ready}`, and for the attach
    /// module (js/attach.js), internal: `_host`, the host element whose shadow root holds the
    /// window (once rendered), and `_token`, the auth token its uploads carry.
    #[wasm_bindgen(js_name = getState)]
    pub fn get_state(&self) -> core::result::Result<JsValue, JsValue> {
        let w = &self.live("getState")?;
        let st = w.st.borrow();
        let v = st.views.state();
        let view = object(&[
            ("launcher", v.launcher.into()),
            ("mainWindow", v.main_window.into()),
            ("maximized", st.views.maximized().into()),
        ]);
        let thread: JsValue = st
            .thread_id
            .as_deref()
            .map_or(JsValue::NULL, JsValue::from_str);
        Ok(object(&[
            ("view", view),
            ("threadId", thread),
            ("locale", st.opts.locale.as_str().into()),
            ("ready", matches!(st.ready, Ready::Done).into()),
            (
                "_host",
                st.dom
                    .as_ref()
                    .map_or(JsValue::UNDEFINED, |d| d.host.clone().into()),
            ),
            (
                "_token",
                st.auth_token
                    .as_deref()
                    .map_or(JsValue::UNDEFINED, Into::into),
            ),
        ]))
    }

    /// Removes every node, listener, timer and handler. Idempotent; afterwards every other
    /// method throws.
    pub fn destroy(&self) {
        let w = self.w.borrow_mut().take();
        if let Some(w) = w {
            w.destroy();
        }
    }

    /// Internal (tests and benchmarks): handles `data` (one stream event's JSON) as if it came
    /// from the server's event stream.
    #[wasm_bindgen(js_name = _feed)]
    pub fn feed_raw(&self, data: JsValue) -> core::result::Result<(), JsValue> {
        let w = &self.live("_feed")?;
        chat::feed(w, &data.as_string().unwrap_or_default());
        Ok(())
    }

    /// Internal (benchmarks): renders pending streamed text now instead of at the next frame.
    #[wasm_bindgen(js_name = _flush)]
    pub fn flush_raw(&self) -> core::result::Result<(), JsValue> {
        chat::flush(&self.live("_flush")?);
        Ok(())
    }
}

/// Test builds only (feature `test-hooks`, which scripts/test-widget-browser turns on): the
/// shipped widget does not carry it.
#[cfg(feature = "test-hooks")]
#[wasm_bindgen(js_class = NatterChat)]
impl Chat {
    /// Dispatches `event` to the handlers of `type` with no widget action attached.
    #[wasm_bindgen(js_name = _emit)]
    pub fn emit_raw(&self, ty: JsValue, event: JsValue) -> core::result::Result<(), JsValue> {
        let w = &self.live("_emit")?;
        let t = match topic("_emit", &ty)? {
            Topic::One(t) => t,
            Topic::Any => return Err(Error::BadRegistration("_emit").into()),
        };
        let ev = if event.is_object() {
            event
        } else {
            js::event(t, &[])
        };
        run::emit(w, t, ev, None, After::Nothing);
        Ok(())
    }
}

fn restart(w: &Rc<Widget>, then: Then) {
    let ev = js::event(EventType::PreRestartConversation, &[]);
    run::emit(
        w,
        EventType::PreRestartConversation,
        ev,
        None,
        After::Restart(then),
    );
}

/// The transport seam: what the widget does with what the network brings (the stream, the
/// history, a 401), minus the fetch; the browser tests drive these. Not exported to JS.
impl Chat {
    fn inner(&self) -> Option<Rc<Widget>> {
        self.w.borrow().clone()
    }

    /// A `message.delta` event: `{messageId, threadId, runId, delta: {role, content}}`.
    pub fn stream_delta(&self, event: JsValue) {
        if let Some(w) = self.inner() {
            let mid = js::get(&event, "messageId").as_string().unwrap_or_default();
            start::stream_delta(&w, event, mid);
        }
    }

    /// A `message.completed` message: `{id, role, content: [...]}`.
    pub fn receive_message(&self, message: JsValue) {
        if let Some(w) = self.inner() {
            start::receive(&w, message);
        }
    }

    /// A thread's history as `GET …/messages` answers it (`{messages, lastSeq, feedback}`):
    /// the widget's own handling after the fetch. Resolves when rendered.
    pub fn history_loaded(&self, thread_id: &str, body: JsValue) -> Promise {
        let (p, resolve) = run::promise();
        match self.inner() {
            Some(w) => chat::history_arrived(&w, thread_id.into(), &body, Then::Resolve(resolve)),
            None => return js::resolved(&JsValue::UNDEFINED),
        }
        p
    }

    /// What a request that got a 401 does: `authTokenNeeded` (shared by concurrent 401s);
    /// resolves to the token to retry with.
    pub fn auth_token_needed(&self) -> Promise {
        match self.inner() {
            Some(w) => super::net::token_needed(&w),
            None => js::resolved(&JsValue::NULL),
        }
    }

    /// The current auth token.
    pub fn auth_token(&self) -> Option<String> {
        self.inner().and_then(|w| w.st.borrow().auth_token.clone())
    }

    /// The shadow root's host element, once rendered.
    pub fn host(&self) -> Option<web_sys::HtmlElement> {
        self.inner()
            .and_then(|w| w.st.borrow().dom.as_ref().map(|d| d.host.clone()))
    }
}
