//! The browser shell: everything that touches JS or the DOM, kept thin. It owns one
//! [`Widget`] per `loadChat()` and turns the core's decisions into calls.
//!
//! * [`api`] — the exported `NatterChat` class (the JS surface) and argument checking;
//! * [`run`] — feeds dispatches to the core [`crate::dispatch::Engine`], calls handlers and
//!   awaits promises with a timeout;
//! * `start` — the entry points that start a chain of dispatches (view changes, sends, the
//!   transport's deltas and messages, [`run::Then`]);
//! * [`act`] — acts on each event when its handlers are done (read-back, apply, follow-up);
//! * `chat` — the live conversation, one file per job (threads, stream, sends, streamed text,
//!   transcript, clicks, feedback: the thumbs and the details popup); `render` — message
//!   objects → DOM nodes;
//! * `net` — HTTP to the server (the token, a 401's `authTokenNeeded` and one retry);
//! * `session` — the browser session sent to the server (page, browser, host `context`);
//! * [`dom`] — the shadow-root DOM; [`listener`] — owned DOM listeners;
//! * [`opts`] — JS options → core options; [`js`] — object helpers; [`error`] — JS exceptions.
//!
//! Calls go one way: api → act → chat → {session, net, render, dom} and chat → start → run;
//! run's only call up is handing a finished dispatch to `act::finish` (net uses run too, for
//! `authTokenNeeded`).
//!
//! Invariants: no `RefCell` borrow of a widget is held while JS runs (handlers may call back
//! into the instance); JS callbacks are owned by the value that registered them, except the one
//! module-wide settle callback, which routes by widget id so a promise that settles after
//! `destroy()` finds nothing and does nothing.

mod act;
pub mod api;
mod chat;
mod dom;
pub mod error;
mod js;
mod listener;
mod net;
mod opts;
mod render;
mod run;
mod session;
mod start;

pub use api::Chat;

use crate::bus::Registry;
use crate::dispatch::{Engine, Token};
use crate::options::Options;
use crate::thread::Persistence;
use crate::view::Views;
use js_sys::Function;
use std::cell::{Cell, RefCell};
use std::rc::{Rc, Weak};
use wasm_bindgen::JsValue;
use web_sys::{Element, Storage};

/// One widget instance.
pub struct Widget {
    id: u32,
    st: RefCell<State>,
}

/// Whether the widget has rendered, and who waits for `chat:ready`.
pub(crate) enum Ready {
    NotRendered,
    /// `render()` called; these wait for `chat:ready`.
    Rendering(Vec<Function>),
    Done,
}

/// A message whose deltas are being streamed.
pub(crate) struct Stream {
    id: String,
    /// The message so far, as handlers see it in `event.message`.
    message: JsValue,
    /// Our own handle on `message.content` (a handler may replace the property; we keep
    /// accumulating into the array we made, and never read user objects under a borrow).
    message_content: js_sys::Array,
}

pub(crate) struct State {
    opts: Options,
    container: Option<Element>,
    bus: Registry<Function>,
    engine: Engine<Function, JsValue, run::Job>,
    views: Views,
    dom: Option<dom::Dom>,
    /// The public JS object handlers receive as `instance`; dropped by destroy.
    instance: JsValue,
    ready: Ready,
    /// Handler timeouts in flight: (token, setTimeout id).
    timers: Vec<(Token, i32)>,
    thread_id: Option<String>,
    auth_token: Option<String>,
    streams: Vec<Stream>,
    /// Tokens: the `authTokenNeeded` in flight, how many were put in place.
    pub(crate) auth: net::Auth,
    /// The live conversation (transport and rendering).
    chat: chat::Conv,
    destroyed: bool,
}

thread_local! {
    static LIVE: RefCell<Vec<(u32, Weak<Widget>)>> = const { RefCell::new(Vec::new()) };
    static NEXT_ID: Cell<u32> = const { Cell::new(1) };
}

/// The live widget with that id.
fn find(id: u32) -> Option<Rc<Widget>> {
    LIVE.with(|l| {
        l.borrow()
            .iter()
            .find(|(i, _)| *i == id)
            .and_then(|(_, w)| w.upgrade())
    })
}

fn storage(p: Persistence) -> Option<Storage> {
    let name = match p {
        Persistence::Local => "localStorage",
        Persistence::Session => "sessionStorage",
        Persistence::None => return None,
    };
    let s = js::global(name);
    s.is_object()
        .then(|| wasm_bindgen::JsCast::unchecked_into(s))
}

impl Widget {
    fn new(opts: Options, container: Option<Element>, channel: Option<String>) -> Rc<Widget> {
        let id = NEXT_ID.with(|n| {
            let id = n.get();
            n.set(id.wrapping_add(1).max(1));
            id
        });
        let key = crate::thread::storage_key(&opts.server_url, opts.bot.as_deref());
        let thread_id = storage(opts.persistence).and_then(|s| s.get_item(&key).ok().flatten());
        let mut prefix = String::from("c");
        crate::thread::push_u32(
            &mut prefix,
            (js_sys::Math::random() * 4_294_967_295.0) as u32,
        );
        let mut chat = chat::Conv::default();
        chat.sends = crate::conversation::Sends::new(prefix);
        chat.session.channel = channel;
        let w = Rc::new(Widget {
            id,
            st: RefCell::new(State {
                views: Views::new(opts.show_launcher, opts.open_on_load),
                auth_token: opts.auth_token.clone(),
                opts,
                container,
                bus: Registry::default(),
                engine: Engine::default(),
                dom: None,
                instance: JsValue::UNDEFINED,
                ready: Ready::NotRendered,
                timers: Vec::new(),
                thread_id,
                streams: Vec::new(),
                auth: net::Auth::default(),
                chat,
                destroyed: false,
            }),
        });
        LIVE.with(|l| l.borrow_mut().push((id, Rc::downgrade(&w))));
        w
    }

    /// Keeps the thread id in memory and in the configured storage.
    fn set_thread_id(&self, id: Option<String>) {
        let mut st = self.st.borrow_mut();
        let key = crate::thread::storage_key(&st.opts.server_url, st.opts.bot.as_deref());
        if let Some(s) = storage(st.opts.persistence) {
            let _ = match &id {
                Some(v) => s.set_item(&key, v),
                None => s.remove_item(&key),
            };
        }
        st.thread_id = id;
    }

    /// Tears everything down; idempotent. Nothing is dropped while the state is borrowed.
    /// (Its `LIVE` entry goes when the `Widget` itself is dropped; until then `settle` finds
    /// no run to resume, since the engine is empty.)
    fn destroy(&self) {
        let (dom, jobs, timers, instance, bus, streams, ready, conv) = {
            let mut st = self.st.borrow_mut();
            if st.destroyed {
                return;
            }
            st.destroyed = true;
            (
                st.dom.take(),
                st.engine.cancel_all(),
                std::mem::take(&mut st.timers),
                std::mem::replace(&mut st.instance, JsValue::UNDEFINED),
                std::mem::take(&mut st.bus),
                std::mem::take(&mut st.streams),
                std::mem::replace(&mut st.ready, Ready::NotRendered),
                std::mem::take(&mut st.chat),
            )
        };
        for (_, t) in &timers {
            js::clear_timeout(*t);
        }
        drop((conv, dom, jobs, instance, bus, streams, ready));
    }
}

impl Drop for Widget {
    fn drop(&mut self) {
        let id = self.id;
        let _ = LIVE.try_with(|l| {
            l.try_borrow_mut().map(|mut l| {
                if let Some(i) = l.iter().position(|(i, _)| *i == id) {
                    l.swap_remove(i);
                }
            })
        });
    }
}
