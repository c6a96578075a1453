//! Feedback on a bot message: the thumbs (aria-pressed, `feedback` event, `POST …/feedback`
//! retried on network errors) and the details popup (categories, text), plus what history says
//! this visitor already rated. Called by the click handling ([`super::clicks`]) and history
//! loading; it never starts conversation work itself. What was given is the pure core's
//! [`Given`].
//!
//! Invariant: the popup is the only element this module adds; it is removed on close, Escape,
//! restart and destroy (it lives in the window, which the `Dom` owns).

use super::*;

fn feedback_event(
    message: &JsValue,
    positive: bool,
    kind: &str,
    extra: &[(&str, JsValue)],
) -> JsValue {
    let item = js_sys::Array::from(&get(message, "content")).get(0);
    let ev = js::event(
        EventType::Feedback,
        &[
            ("messageItem", item),
            ("message", message.clone()),
            ("isPositive", positive.into()),
            ("interactionType", kind.into()),
        ],
    );
    for (k, v) in extra {
        set(&ev, k, v);
    }
    ev
}

fn post_feedback(w: &Rc<Widget>, body: JsValue) {
    let Some(tid) = w.st.borrow().thread_id.clone() else {
        return;
    };
    let url = thread_url(w, &tid, "/feedback");
    let body = json_text(&body);
    let weak = Rc::downgrade(w);
    spawn_local(async move {
        let mut backoff = Backoff::new();
        for _ in 0..5 {
            let r = request(&weak, "POST", &url, Some(&body), 0, None).await;
            if verdict(r.as_ref().map(status).unwrap_or(0)) != Verdict::Retry {
                return;
            }
            let _ = sleep(backoff.next(rand())).await;
        }
    });
}

pub(super) fn thumbs(w: &Rc<Widget>, e: &Element, positive: bool) {
    let Some(m) = attr_u32(e, "data-m") else {
        return;
    };
    let Some(message) = message_at(w, m) else {
        return;
    };
    let mid = get(&message, "id").as_string().unwrap_or_default();
    if let Some(row) = e.parent_element() {
        if let Ok(list) = row.query_selector_all("button") {
            for k in 0..list.length() {
                if let Some(b) = list.item(k) {
                    let b: Element = b.unchecked_into();
                    let _ = b.set_attribute("aria-pressed", if b == *e { "true" } else { "false" });
                }
            }
        }
    }
    {
        let mut st = w.st.borrow_mut();
        st.chat.feedback.choose(mid.clone(), positive);
    }
    emit(
        w,
        EventType::Feedback,
        feedback_event(&message, positive, "button", &[]),
        None,
        After::Nothing,
    );
    post_feedback(
        w,
        object(&[
            ("messageId", mid.as_str().into()),
            ("isPositive", positive.into()),
            ("interactionType", "button".into()),
        ]),
    );
    open_popup(w, m, &message, positive);
}

fn open_popup(w: &Rc<Widget>, m: u32, message: &JsValue, positive: bool) {
    close_popup(w);
    let fb = get(&get(message, "message_options"), "feedback");
    let cats: Vec<String> = items(&get(
        &fb,
        if positive {
            "positive_categories"
        } else {
            "negative_categories"
        },
    ))
    .iter()
    .filter_map(|c| c.as_string())
    .collect();
    let mut st = w.st.borrow_mut();
    let s = st.opts.strings.clone();
    let Some(ui) = &mut st.chat.ui else { return };
    let Some(doc) = ui.window.owner_document() else {
        return;
    };
    let Some(pop) = el(&doc, "div", &ui.window, Some("pop")) else {
        return;
    };
    let _ = pop.set_attribute("part", "feedback-details");
    let _ = pop.set_attribute("role", "dialog");
    let _ = pop.set_attribute("aria-label", s.get("feedbackTitle"));
    let _ = pop.set_attribute("data-m", &num(String::new(), m));
    let _ = pop.set_attribute("data-v", if positive { "1" } else { "0" });
    if let Some(h) = el(&doc, "h2", &pop, None) {
        h.set_text_content(Some(s.get("feedbackTitle")));
    }
    for c in &cats {
        if let Some(l) = el(&doc, "label", &pop, None) {
            if let Some(i) = el(&doc, "input", &l, None) {
                let _ = i.set_attribute("type", "checkbox");
                let _ = i.set_attribute("value", c);
            }
            let _ = l.append_child(&doc.create_text_node(c));
        }
    }
    if let Some(t) = el(&doc, "textarea", &pop, None) {
        let _ = t.set_attribute("aria-label", s.get("feedbackText"));
        let _ = t.set_attribute("placeholder", s.get("feedbackText"));
        let _ = t.set_attribute("maxlength", "2000");
    }
    if let Some(row) = el(&doc, "div", &pop, Some("row")) {
        for (a, key) in [("fbclose", "close"), ("fbsend", "feedbackSubmit")] {
            if let Some(b) = el(&doc, "button", &row, None) {
                let _ = b.set_attribute("type", "button");
                let _ = b.set_attribute("data-a", a);
                b.set_text_content(Some(s.get(key)));
            }
        }
    }
    let first = js::query(&pop.clone().into(), "input,textarea");
    ui.popup = Some(pop);
    drop(st);
    if let Some(f) = first {
        let _ = f.unchecked_into::<web_sys::HtmlElement>().focus();
    }
}

/// Closes the details popup; whether one was open.
pub(super) fn close_popup(w: &Widget) -> bool {
    let pop =
        w.st.borrow_mut()
            .chat
            .ui
            .as_mut()
            .and_then(|u| u.popup.take());
    match pop {
        Some(p) => {
            p.remove();
            true
        }
        None => false,
    }
}

pub(super) fn details_submit(w: &Rc<Widget>) {
    let pop = w.st.borrow().chat.ui.as_ref().and_then(|u| u.popup.clone());
    let Some(pop) = pop else { return };
    let (Some(m), positive) = (
        attr_u32(&pop, "data-m"),
        pop.get_attribute("data-v").as_deref() == Some("1"),
    ) else {
        return;
    };
    let Some(message) = message_at(w, m) else {
        return;
    };
    let cats = js_sys::Array::new();
    if let Ok(list) = pop.query_selector_all("input:checked") {
        for k in 0..list.length() {
            if let Some(n) = list.item(k) {
                cats.push(&get(&n, "value"));
            }
        }
    }
    let text = js::query(&pop.clone().into(), "textarea")
        .map(|t| get(&t, "value"))
        .unwrap_or(JsValue::UNDEFINED);
    let text = if text.as_string().is_some() {
        text
    } else {
        JsValue::from_str("")
    };
    let mid = get(&message, "id");
    emit(
        w,
        EventType::Feedback,
        feedback_event(
            &message,
            positive,
            "details",
            &[("text", text.clone()), ("categories", cats.clone().into())],
        ),
        None,
        After::Nothing,
    );
    let body = object(&[
        ("messageId", mid),
        ("isPositive", positive.into()),
        ("interactionType", "details".into()),
        ("categories", cats.into()),
    ]);
    if text.as_string().is_some_and(|t| !t.is_empty()) {
        set(&body, "text", &text);
    }
    post_feedback(w, body);
    close_popup(w);
    let thanks = w.st.borrow().opts.strings.get("feedbackThanks").to_string();
    let st = w.st.borrow();
    if let Some(ui) = &st.chat.ui {
        ui.live.set_text_content(Some(&thanks));
    }
}

/// History says which feedback this visitor gave (server `feedback` list): remembered so the
/// thumbs show pressed.
pub(crate) fn remember(w: &Widget, list: &JsValue) {
    let mut st = w.st.borrow_mut();
    for f in items(list) {
        if let (Some(id), Some(p)) = (
            get(&f, "messageId").as_string(),
            get(&f, "isPositive").as_bool(),
        ) {
            st.chat.feedback.choose(id, p);
        }
    }
}
