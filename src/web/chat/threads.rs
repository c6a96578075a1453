//! The thread's life: loading the stored thread at start (history → `pre:threadLoaded` →
//! shown → streamed), creating one when the window opens or a send needs it, restart.
//!
//! Invariant: loading another thread or restarting bumps the conversation generation, so
//! every loop of the old one stops at its next step.

use super::*;

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
    crate::web::session::watch(w);
    restore_sends(w);
    let tid = w.st.borrow().thread_id.clone();
    if let Some(tid) = tid {
        // a page load on a site of several pages: the thread learns the page
        crate::web::session::sync(w);
        load_thread(w, tid, Then::Nothing);
    }
}

/// The window was opened: make sure there is a thread (the bot's greeting shows).
pub(crate) fn opened(w: &Rc<Widget>) {
    let none = w.st.borrow().thread_id.is_none();
    if none {
        spawn_thread(w);
    }
}

pub(super) fn spawn_thread(w: &Rc<Widget>) {
    let (weak, gen) = (Rc::downgrade(w), w.st.borrow().chat.loops.gen());
    spawn_local(async move {
        let _ = ensure_thread(&weak, gen).await;
    });
}

/// The thread id, creating the thread first if there is none. `None`: gave up (no bot, or the
/// widget went away).
pub(super) async fn ensure_thread(weak: &Weak<Widget>, gen: u32) -> Option<String> {
    let mut backoff = Backoff::new();
    loop {
        let w = alive(weak, gen)?;
        if let Some(t) = w.st.borrow().thread_id.clone() {
            return Some(t);
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
        if !w.st.borrow_mut().chat.loops.start_creating() {
            drop(w);
            let _ = sleep(50).await;
            continue;
        }
        let mut url = base(&w);
        url.push_str("/v1/bots/");
        url.push_str(&bot);
        url.push_str("/threads");
        let body = crate::web::session::create_body(&w);
        drop(w);
        let r = request(weak, "POST", &url, Some(&body), 0, None).await;
        // The body is read before the creation counts as ended: whoever waits for it must
        // find the thread id set, not a gap in which it creates a second thread.
        let made = match &r {
            Ok(resp) if status(resp) == 201 => get(&json(resp).await, "threadId").as_string(),
            _ => None,
        };
        let w = weak.upgrade()?;
        w.st.borrow_mut().chat.loops.created(gen);
        if !w.st.borrow().chat.loops.current(gen) || w.st.borrow().destroyed {
            return None;
        }
        if let Some(tid) = made {
            w.set_thread_id(Some(tid.clone()));
            w.st.borrow_mut().chat.seq = Seq::default();
            start_stream(&w);
            return Some(tid);
        }
        let code = r.as_ref().map(status).unwrap_or(0);
        if code == 404 || verdict(code) == Verdict::GiveUp {
            js::console_warn("natter: the server refused to start a conversation (check options.bot and the server log)");
            return None;
        }
        drop(w);
        let _ = sleep(backoff.next(rand())).await;
    }
}

/// Loads a thread's history (`pre:threadLoaded` → shown), then streams from its `lastSeq`.
pub(crate) fn load_thread(w: &Rc<Widget>, tid: String, then: Then) {
    let gen = {
        let mut st = w.st.borrow_mut();
        st.chat.seq = Seq::default();
        // the send loop of the old generation stops; the stream's start kicks a new one
        st.chat.restart()
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
                start::run_then(&w, then);
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
        start::typed(&m);
        // what the visitor did with it: the feedback given, if any
        let id = get(&m, "id").as_string().unwrap_or_default();
        let state = object(&[]);
        let given = w.st.borrow().chat.feedback.of(&id);
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
        c.restart();
        c.seq = Seq::default();
        c.live.clear();
        c.msgs.clear();
        c.feedback.clear();
        (st.thread_id.clone(), st.chat.sends.take_all())
    };
    persist_sends(w);
    for p in pending {
        if let Some(t) = p.extra.then {
            start::run_then(w, t);
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
