//! The thread's event stream: `GET …/events` read through the `natter_protocol::sse` parser,
//! reconnected with [`Backoff`] from `Last-Event-ID`, and each event's effect (acknowledged
//! sends, typing, deltas, replies, handoff notes, connection state).
//!
//! Invariants: one stream per conversation generation, aborted when it changes; a stream
//! event is handled at most once ([`Seq`]); a refused token (401) stops the stream until a new
//! token is set, a gone thread (404) forgets the thread.

use super::*;

#[wasm_bindgen]
extern "C" {
    pub type AbortController;
    #[wasm_bindgen(constructor)]
    fn new() -> AbortController;
    #[wasm_bindgen(method)]
    pub(super) fn abort(this: &AbortController);
    #[wasm_bindgen(method, getter)]
    fn signal(this: &AbortController) -> JsValue;
}

thread_local! {
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

pub(super) fn start_stream(w: &Rc<Widget>) {
    let gen = {
        let mut st = w.st.borrow_mut();
        if st.thread_id.is_none() {
            return;
        }
        let Some(gen) = st.chat.loops.start_stream() else {
            return;
        };
        gen
    };
    let weak = Rc::downgrade(w);
    spawn_local(async move {
        stream_loop(weak, gen).await;
    });
    kick_sends(w);
}

pub(super) async fn stream_loop(weak: Weak<Widget>, gen: u32) {
    let mut backoff = Backoff::new();
    let mut first = true;
    loop {
        let Some(w) = alive(&weak, gen) else { return };
        let Some(tid) = w.st.borrow().thread_id.clone() else {
            w.st.borrow_mut().chat.loops.stream_stopped();
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
                {
                    let mut st = w.st.borrow_mut();
                    let st = &mut *st;
                    st.chat.loops.stream_refused(st.auth_token.as_deref());
                }
                set_conn(&w, Conn::Unauthorized);
                return;
            }
            Ok(resp) if status(&resp) == 404 => {
                // the thread is gone: forget it; the next send starts a new one
                w.set_thread_id(None);
                w.st.borrow_mut().chat.loops.stream_stopped();
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

/// A new token is in place (from `authTokenNeeded` or `updateAuthToken`): requests that get a
/// 401 for the old one retry with it, and a stream stopped by a refused token starts again
/// unless this is the token it was refused with.
pub(crate) fn token_changed(w: &Rc<Widget>) {
    let stopped = {
        let mut st = w.st.borrow_mut();
        st.auth.token_set();
        st.chat.conn == Some(Conn::Unauthorized)
            && st.chat.loops.resume_for(st.auth_token.as_deref())
    };
    if stopped {
        start_stream(w);
    }
}

pub(super) fn set_conn(w: &Widget, c: Conn) {
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

pub(super) fn handle(w: &Rc<Widget>, data: &str) {
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
            let echo = w.st.borrow().chat.sends.echo(&cmid);
            match echo {
                // the stream's record of our send: acknowledged (`send` before its reply)
                Echo::Ack => acked(w, &cmid, true),
                Echo::Show => {
                    let text = text_of(&m);
                    user_bubble(w, &text, "user");
                    scroll(w);
                }
                Echo::Known => {}
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
            start::stream_delta(w, v, mid);
        }
        Kind::MessageCompleted | Kind::AgentMessage => start::receive(w, get(&v, "message")),
        Kind::RunFailed => {
            // a reply started but not completed in this run is abandoned (protocol §7)
            let run = get(&v, "runId").as_string().unwrap_or_default();
            let mut st = w.st.borrow_mut();
            let st = &mut *st;
            st.chat.live.abandon(&run, |l| l.bubble.remove());
        }
        Kind::HandedOff => note(w, "handedOff", None),
        Kind::AgentJoined => note(w, "agentJoined", get(&v, "agent").as_string()),
        Kind::AgentLeft => note(w, "agentLeft", get(&v, "agent").as_string()),
        Kind::Closed => note(w, "closed", None),
        Kind::MessageStarted | Kind::RunCompleted | Kind::Other => {}
    }
}

pub(super) fn note(w: &Widget, key: &str, who: Option<String>) {
    note_el(w, key, who);
    scroll(w);
}

pub(super) fn note_el(w: &Widget, key: &str, who: Option<String>) {
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

pub(super) fn typing(w: &Widget, on: bool) {
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
