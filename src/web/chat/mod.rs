//! The live conversation, by job: [`threads`] (load, create, restart), [`stream`] (the event
//! stream, what each event does, a new token), [`sends`] (the visitor's sends until
//! acknowledged; their state is [`Sends`], the pure core in `crate::conversation`), [`live`]
//! (streamed text, per animation frame), [`transcript`] (placing and rendering messages),
//! [`clicks`] (message buttons), [`feedback`] (the thumbs and the details popup) and [`ui`]
//! (the window's parts). HTTP is `web::net`'s, the browser session `web::session`'s: neither
//! calls back in here. This file holds the per-widget state the jobs share ([`Conv`]); each
//! submodule sees it and its siblings through `super::*`.
//! The decisions that need no JS are the pure core's, in `crate::conversation`: [`Sends`]
//! (what waits, what an acknowledgement or the stream's [`Echo`] of a send means), [`Loops`]
//! (the generation, which loops run), [`Replies`] (the replies being streamed) and [`Given`]
//! (the feedback given).
//!
//! Invariants:
//! * every loop (stream, sends, thread creation) holds only a `Weak` to the widget across an
//!   `await` and stops when the widget is destroyed or the conversation generation changed
//!   (restart, another thread loaded): [`alive`];
//! * no `RefCell` borrow of the widget is held while JS runs.

use super::js::{self, call0, get, items, json_parse, json_text, num, object, set};
use super::listener::Listener;
use super::net::{base, json, rand, request, sleep, status, thread_url};
use super::render::{button, el, read_message, render_blocks, Item, View};
use super::run::{emit, After, Then};
use super::{find, start, Widget};
use crate::conversation::{Echo, Given, Loops, Replies, Sends};
use crate::events::EventType;
use crate::md;
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

mod clicks;
mod feedback;
mod live;
mod sends;
mod stream;
mod threads;
mod transcript;
mod ui;

use self::ui::*;
pub(crate) use self::{clicks::*, live::*, sends::*, stream::*, threads::*, transcript::*};

/// The shell's side of a send waiting in [`Sends`].
pub(crate) struct Pending {
    message: JsValue,
    then: Option<Then>,
    bubble: Option<Element>,
    /// The files it carries (`pre:send`'s `attachments`: an array of `{id, name, type, size,
    /// url}`, or `undefined`), kept in storage with it and re-sent with it.
    files: JsValue,
}

/// The shell's side of a reply being streamed ([`Replies`]): its bubble and trailing block.
struct Live {
    bubble: Element,
    block: Option<Text>,
    block_len: usize,
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
    /// The generation and which loops run.
    loops: Loops,
    seq: Seq,
    conn: Option<Conn>,
    pub(crate) sends: Sends<Pending>,
    /// Rendered bot/agent messages: (id, message as rendered), index = `data-m`.
    msgs: Vec<(String, JsValue)>,
    live: Replies<Live>,
    raf: bool,
    abort: Option<AbortController>,
    typing_gen: u32,
    pub(super) ui: Option<Ui>,
    /// The feedback the visitor gave (history and thumb clicks).
    pub(super) feedback: Given,
    next_slot: u32,
    warned_bot: bool,
    /// The browser session and the listener that resends it (`session`'s; kept here so it
    /// goes with the conversation on destroy).
    pub(super) session: crate::web::session::Session,
    /// The group the next message goes into, and how many it holds (see [`bubble`]).
    group: Option<Element>,
    group_n: u32,
}

impl Conv {
    /// A new generation: the stream is aborted, the loops of the old one stop.
    fn restart(&mut self) -> u32 {
        if let Some(a) = self.abort.take() {
            a.abort();
        }
        self.loops.restart()
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
        !st.destroyed && st.chat.loops.current(gen)
    };
    ok.then_some(w)
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
