//! What a message looks like: reading a message object (after its handlers, getters and all)
//! into a plain [`View`] before any widget borrow, and building markdown blocks, inline runs and
//! buttons as DOM nodes (`createElement` and text nodes only: server text never becomes HTML).
//! Pure DOM building with no widget state; the conversation (`chat`) places the result.

use super::js::num;
use super::js::{get, items};
use crate::md::{self, Block, Inline};
use wasm_bindgen::JsValue;
use web_sys::{Document, Element};

/// What the widget renders of one content item, read before any borrow (getters run JS).
pub(super) enum Item {
    Text(Vec<Block>),
    Buttons(Option<Vec<Block>>, Vec<String>),
    Cards(Option<Vec<Block>>, Vec<Card>),
    Custom(Option<Vec<Block>>, JsValue),
}

pub(super) struct Card {
    pub(super) title: String,
    pub(super) desc: Option<String>,
    pub(super) image: Option<String>,
    pub(super) buttons: Vec<String>,
}

pub(super) struct View {
    pub(super) role: String,
    pub(super) id: String,
    pub(super) items: Vec<Item>,
    pub(super) feedback: bool,
}

fn labels(v: &JsValue) -> Vec<String> {
    items(v)
        .iter()
        .map(|b| get(b, "label").as_string().unwrap_or_default())
        .collect()
}

pub(super) fn read_message(m: &JsValue) -> View {
    let role = get(m, "role")
        .as_string()
        .or_else(|| {
            get(m, "sender")
                .as_string()
                .map(|s| if s == "user" { s } else { "assistant".into() })
        })
        .unwrap_or_else(|| "assistant".into());
    let mut out = Vec::new();
    for it in items(&get(m, "content")) {
        let kind = get(&it, "response_type")
            .as_string()
            .or_else(|| get(&it, "type").as_string());
        let text = get(&it, "text")
            .as_string()
            .filter(|t| !t.is_empty())
            .map(|t| md::parse(&t));
        out.push(match kind.as_deref() {
            None | Some("text") => Item::Text(text.unwrap_or_default()),
            Some("option") => Item::Buttons(text, labels(&get(&it, "options"))),
            Some("carousel") => {
                let mut cards = Vec::new();
                for c in items(&get(&it, "cards")) {
                    cards.push(Card {
                        title: get(&c, "title").as_string().unwrap_or_default(),
                        desc: get(&c, "description").as_string(),
                        image: get(&c, "image_url").as_string(),
                        buttons: labels(&get(&c, "buttons")),
                    });
                }
                Item::Cards(text, cards)
            }
            _ => Item::Custom(text, it.clone()),
        });
    }
    let fb = get(&get(m, "message_options"), "feedback");
    View {
        role,
        id: get(m, "id").as_string().unwrap_or_default(),
        items: out,
        feedback: get(&fb, "enabled").as_bool() == Some(true),
    }
}

pub(super) fn el(
    doc: &Document,
    tag: &str,
    parent: &Element,
    class: Option<&str>,
) -> Option<Element> {
    let e = doc.create_element(tag).ok()?;
    if let Some(c) = class {
        let _ = e.set_attribute("class", c);
    }
    let _ = parent.append_child(&e);
    Some(e)
}

pub(super) fn render_inline(doc: &Document, parent: &Element, v: &[Inline]) {
    for n in v {
        match n {
            Inline::Text(t) => {
                let _ = parent.append_child(&doc.create_text_node(t));
            }
            Inline::Break => {
                el(doc, "br", parent, None);
            }
            Inline::Code(t) => {
                if let Some(c) = el(doc, "code", parent, None) {
                    c.set_text_content(Some(t));
                }
            }
            Inline::Bold(c) | Inline::Italic(c) => {
                let tag = if matches!(n, Inline::Bold(_)) {
                    "strong"
                } else {
                    "em"
                };
                if let Some(e) = el(doc, tag, parent, None) {
                    render_inline(doc, &e, c);
                }
            }
            Inline::Link { href, children } => {
                if let Some(a) = el(doc, "a", parent, None) {
                    let _ = a.set_attribute("href", href);
                    let _ = a.set_attribute("target", "_blank");
                    let _ = a.set_attribute("rel", "noopener noreferrer");
                    render_inline(doc, &a, children);
                }
            }
        }
    }
}

pub(super) fn render_blocks(doc: &Document, parent: &Element, blocks: &[Block]) {
    for b in blocks {
        match b {
            Block::Para(v) => {
                if let Some(p) = el(doc, "p", parent, None) {
                    render_inline(doc, &p, v);
                }
            }
            Block::List { ordered, items } => {
                if let Some(l) = el(doc, if *ordered { "ol" } else { "ul" }, parent, None) {
                    for it in items {
                        if let Some(li) = el(doc, "li", &l, None) {
                            render_inline(doc, &li, it);
                        }
                    }
                }
            }
            Block::Code(c) => {
                if let Some(p) = el(doc, "pre", parent, None) {
                    if let Some(code) = el(doc, "code", &p, None) {
                        code.set_text_content(Some(c));
                    }
                }
            }
        }
    }
}

pub(super) fn button(
    doc: &Document,
    parent: &Element,
    label: &str,
    m: u32,
    i: u32,
    c: Option<u32>,
    b: u32,
) {
    if let Some(e) = el(doc, "button", parent, None) {
        let _ = e.set_attribute("type", "button");
        let _ = e.set_attribute("part", "button");
        let _ = e.set_attribute("data-a", "btn");
        let _ = e.set_attribute("data-m", &num(String::new(), m));
        let _ = e.set_attribute("data-i", &num(String::new(), i));
        if let Some(c) = c {
            let _ = e.set_attribute("data-c", &num(String::new(), c));
        }
        let _ = e.set_attribute("data-b", &num(String::new(), b));
        e.set_text_content(Some(label));
    }
}
