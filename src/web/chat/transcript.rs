//! The transcript: message bubbles placed in groups, user bubbles, finished bot/agent messages
//! rendered from their view (`render`), `receive` and `userDefinedResponse`.
//!
//! Invariants: server strings reach the DOM only as text nodes or attribute values (hrefs
//! and image sources filtered by [`md::safe_url`]); a group holds at most [`GROUP`] messages;
//! a streamed reply's bubble is reused for its final message.

use super::*;

/// Messages per group: the transcript is a column of groups with `content-visibility: auto`,
/// so appending a message lays out one group however long the conversation is.
pub(super) const GROUP: u32 = 50;

/// A new message bubble (the shell's `Dom::bubble`), moved into the current group.
pub(super) fn bubble(c: &mut Conv, d: &crate::web::dom::Dom, user: bool) -> Option<Element> {
    let b = d.bubble(user)?;
    place(c, d, &b);
    Some(b)
}

pub(super) fn place(c: &mut Conv, d: &crate::web::dom::Dom, el: &Element) {
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

pub(super) fn user_bubble(w: &Widget, text: &str, class: &str) -> Option<Element> {
    let mut st = w.st.borrow_mut();
    let st = &mut *st;
    let d = st.dom.as_ref()?;
    let b = bubble(&mut st.chat, d, true)?;
    let _ = b.set_attribute("class", class);
    d.append_text(&b, text);
    Some(b)
}

pub(super) fn text_of(m: &JsValue) -> String {
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

/// Keeps the newest message in view.
pub(super) fn scroll(w: &Widget) {
    let st = w.st.borrow();
    if let Some(d) = &st.dom {
        d.messages.set_scroll_top(d.messages.scroll_height());
    }
}

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

pub(super) fn fire_custom(w: &Rc<Widget>, custom: Vec<(JsValue, JsValue, Element)>) {
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
pub(super) fn render_message(
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
    let streamed = st.chat.live.finish(&view.id).map(|l| l.extra.bubble);
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
        let given = st.chat.feedback.of(&view.id);
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
