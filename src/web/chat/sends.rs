//! The visitor's sends on the wire: queued after `pre:send`, shown as pending, POSTed oldest
//! first with their `clientMessageId` until acknowledged, kept in storage across reloads.
//! Their state is [`Sends`], the pure core in `crate::conversation`; this is its shell.
//!
//! Invariants: one send loop per conversation generation; `send` fires at a send's first
//! acknowledgement (its 202 or the stream's `message.created`), so before any event of its
//! reply; storage holds exactly the unacknowledged sends.

use super::*;

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
        return start::run_then(w, then);
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

pub(super) fn sends_key(w: &Widget) -> String {
    let st = w.st.borrow();
    let mut k = crate::thread::storage_key(&st.opts.server_url, st.opts.bot.as_deref());
    k.push_str(":sends");
    k
}

/// The ids of the files of a send, as its POST names them.
pub(in crate::web) fn file_ids(files: &JsValue) -> js_sys::Array {
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
pub(super) fn persist_sends(w: &Widget) {
    let Some(s) = crate::web::storage(w.st.borrow().opts.persistence) else {
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
pub(super) fn restore_sends(w: &Rc<Widget>) {
    let Some(s) = crate::web::storage(w.st.borrow().opts.persistence) else {
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

pub(super) fn kick_sends(w: &Rc<Widget>) {
    let gen = {
        let mut st = w.st.borrow_mut();
        if st.chat.sends.is_empty() {
            return;
        }
        let Some(gen) = st.chat.loops.start_sending() else {
            return;
        };
        gen
    };
    let weak = Rc::downgrade(w);
    spawn_local(async move { send_loop(weak, gen).await });
}

pub(super) async fn send_loop(weak: Weak<Widget>, gen: u32) {
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
            w.st.borrow_mut().chat.loops.sending_stopped();
            return;
        };
        drop(w);
        let Some(tid) = ensure_thread(&weak, gen).await else {
            // no conversation can start (no `bot` option, or the server refuses it): the
            // waiting messages are marked failed and their send() promises resolve, no `send`
            if let Some(w) = alive(&weak, gen) {
                w.st.borrow_mut().chat.loops.sending_stopped();
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
                w.st.borrow_mut().chat.restart();
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
pub(super) fn acked(w: &Rc<Widget>, cmid: &str, ok: bool) {
    let p = w.st.borrow_mut().chat.sends.settle(cmid);
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
        start::run_then(w, then);
    }
}
