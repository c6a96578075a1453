//! The widget's DOM: one host `<div>` with an open shadow root holding the launcher and the
//! main window. The skeleton is a static template with no caller data
//! in it, built with `createElement` by [`build`] (no HTML parser: nothing reaches an
//! `innerHTML` sink, so host pages can enforce Trusted Types); every caller- or server-provided
//! string goes in through `textContent` / attributes. Styles are constructed stylesheets
//! shared by every instance and adopted by each shadow root (no `<style>` element and no
//! `style` attribute, so a `style-src` without `'unsafe-inline'` is enough); theme values go
//! through CSSOM `style.setProperty`.
//!
//! Invariant: [`Dom`] owns the host element and the two delegated listeners (click on the
//! shadow root, submit on the form); dropping it removes the host from the page and both
//! listeners, so nothing of the widget survives `destroy()`.

use super::listener::Listener;
use crate::options::Options;
use crate::view::ViewState;
use wasm_bindgen::prelude::*;
use wasm_bindgen::{JsCast, JsValue};
use web_sys::{Document, Element, Event, HtmlElement, Node, ShadowRoot};

#[wasm_bindgen]
extern "C" {
    type CSSStyleSheet;
    #[wasm_bindgen(constructor)]
    fn new() -> CSSStyleSheet;
    #[wasm_bindgen(method, js_name = replaceSync)]
    fn replace_sync(this: &CSSStyleSheet, css: &str);
}

thread_local! {
    /// The widget's stylesheet, parsed once per page and shared by every instance.
    static SHEET: JsValue = {
        let s = CSSStyleSheet::new();
        s.replace_sync(concat!(include_str!("style.css"), include_str!("chat.css")));
        js_sys::Array::of1(&s).into()
    };
}

/// Builds `src` — one of our static templates, never caller data — into `parent` with
/// `createElement`. Understands exactly what the templates use: HTML elements with
/// double-quoted or bare attributes, `<input>` as the one void element, and plain text
/// (characters as themselves: no entities).
pub fn build(doc: &Document, parent: &Node, src: &str) {
    let b = src.as_bytes();
    let upto = |mut i: usize, stop: &[u8]| {
        while i < b.len() && !stop.contains(&b[i]) {
            i += 1;
        }
        i
    };
    let mut stack: Vec<Node> = vec![parent.clone()];
    let mut i = 0;
    while i < b.len() {
        let start = i;
        let Some(top) = stack.last().cloned() else {
            return;
        };
        if b[i] != b'<' {
            i = upto(i, b"<");
            let _ = top.append_child(&doc.create_text_node(&src[start..i]));
            continue;
        }
        let end = upto(i, b">");
        i = end + 1;
        if b.get(start + 1) == Some(&b'/') {
            stack.pop();
            continue;
        }
        let mut j = upto(start + 1, b" />");
        let name = &src[start + 1..j];
        let Ok(el) = doc.create_element(name) else {
            return;
        };
        while j < end && b[j] == b' ' {
            let k = upto(j + 1, b"= />");
            let (key, mut value) = (&src[j + 1..k], "");
            j = k;
            if b.get(k) == Some(&b'=') {
                let q = upto(k + 2, b"\"");
                value = &src[k + 2..q];
                j = q + 1;
            }
            let _ = el.set_attribute(key, value);
        }
        let _ = top.append_child(&el);
        if name != "input" {
            stack.push(el.into());
        }
    }
}

const TEMPLATE: &str = concat!(
    r#"<button part="launcher" class="l" data-a="open" hidden><i></i></button>"#,
    r#"<section part="window" class="w" role="dialog" hidden><header part="header"><span part="title"></span>"#,
    "<button part=\"restart\" data-a=\"restart\">\u{21bb}</button><button part=\"maximize\" data-a=\"max\">\u{2922}</button>",
    "<button part=\"minimize\" data-a=\"min\">\u{2013}</button></header><div part=\"messages\" role=\"log\" aria-live=\"polite\"></div>",
    r#"<form><input part="input" autocomplete="off"><button part="send"></button></form></section>"#
);

/// A click or submit the shell must act on.
pub enum Action {
    Open,
    Minimize,
    ToggleMaximize,
    Restart,
    Submit(String),
    /// Any other `[data-a]` element (message buttons, feedback): handled by `chat::click`.
    Click(Element),
}

/// Handles to the rendered widget.
pub struct Dom {
    pub host: HtmlElement,
    doc: Document,
    launcher: Element,
    window: Element,
    pub messages: Element,
    pub input: HtmlElement,
    _listeners: [Listener; 2],
}

fn part(root: &ShadowRoot, sel: &str) -> Result<Element, JsValue> {
    super::js::query(root, sel).ok_or_else(|| JsValue::from_str("natter: template part missing"))
}

impl Dom {
    /// Renders into `container` (inline) or `document.body` (floating) and wires `on_action`.
    pub fn build(
        doc: &Document,
        container: Option<&Element>,
        opts: &Options,
        on_action: impl Fn(Action) + Clone + 'static,
    ) -> Result<Dom, JsValue> {
        let host: HtmlElement = doc.create_element("div")?.unchecked_into();
        let _ = host.set_attribute("data-natter", "");
        if container.is_some() {
            let _ = host.set_attribute("inline", "");
        }
        if !opts.theme.is_empty() {
            // CSSOM, not a `style` attribute: allowed under a strict `style-src`
            let style = host.style();
            for (prop, value) in &opts.theme {
                let _ = style.set_property(prop, value);
            }
        }
        let init = super::js::object(&[("mode", "open".into())]);
        let root = host.attach_shadow(init.unchecked_ref())?;
        SHEET.with(|s| super::js::set(&root, "adoptedStyleSheets", s));
        build(doc, &root, TEMPLATE);

        let s = &opts.strings;
        let launcher = part(&root, "[part=launcher]")?;
        let _ = launcher.set_attribute("aria-label", s.get("launcher"));
        let window = part(&root, "[part=window]")?;
        let _ = window.set_attribute("aria-label", s.get("title"));
        let _ = window.set_attribute("lang", &opts.locale);
        part(&root, "[part=title]")?.set_text_content(Some(s.get("title")));
        for (sel, key) in [
            ("[part=restart]", "restart"),
            ("[part=maximize]", "maximize"),
            ("[part=minimize]", "minimize"),
        ] {
            let b = part(&root, sel)?;
            let _ = b.set_attribute("aria-label", s.get(key));
            let _ = b.set_attribute("title", s.get(key));
        }
        part(&root, "[part=send]")?.set_text_content(Some(s.get("send")));
        let input: HtmlElement = part(&root, "[part=input]")?.unchecked_into();
        let _ = input.set_attribute("placeholder", s.get("placeholder"));
        let _ = input.set_attribute("aria-label", s.get("placeholder"));
        let messages = part(&root, "[part=messages]")?;
        let form = part(&root, "form")?;

        let act = on_action.clone();
        let click = Listener::new(&root, "click", move |e: Event| {
            let target = e.target().and_then(|t| t.dyn_into::<Element>().ok());
            let el = target.and_then(|t| t.closest("[data-a]").ok().flatten());
            let action = el.as_ref().and_then(|b| b.get_attribute("data-a"));
            match action.as_deref() {
                Some("open") => act(Action::Open),
                Some("min") => act(Action::Minimize),
                Some("max") => act(Action::ToggleMaximize),
                Some("restart") => act(Action::Restart),
                Some(_) => {
                    if let Some(el) = el {
                        act(Action::Click(el))
                    }
                }
                None => {}
            }
        });
        let input2 = input.clone();
        let submit = Listener::new(&form, "submit", move |e: Event| {
            e.prevent_default();
            let text = super::js::get(&input2, "value")
                .as_string()
                .unwrap_or_default();
            if !text.trim().is_empty() {
                super::js::set(&input2, "value", &JsValue::from_str(""));
                on_action(Action::Submit(text));
            }
        });
        match container {
            Some(c) => c.append_child(&host)?,
            None => {
                let body = super::js::get(doc, "body");
                if !body.is_object() {
                    return Err(JsValue::from_str("natter: the page has no <body>"));
                }
                body.unchecked_into::<web_sys::Node>().append_child(&host)?
            }
        };
        Ok(Dom {
            host,
            doc: doc.clone(),
            launcher,
            window,
            messages,
            input,
            _listeners: [click, submit],
        })
    }

    /// Shows what `state` says; moves focus into the input when the window opens.
    pub fn show(&self, state: ViewState, maximized: bool) {
        let _ = self
            .launcher
            .toggle_attribute_with_force("hidden", !state.launcher);
        let _ = self
            .window
            .toggle_attribute_with_force("hidden", !state.main_window);
        let _ = self
            .host
            .toggle_attribute_with_force("maximized", maximized);
    }

    /// Appends a message bubble with plain text; returns it (streaming appends to it).
    pub fn bubble(&self, user: bool) -> Option<Element> {
        let el = self.doc.create_element("div").ok()?;
        let _ = el.set_attribute("part", "message");
        let _ = el.set_attribute("class", if user { "user" } else { "bot" });
        let _ = self.messages.append_child(&el);
        Some(el)
    }

    /// Appends text to a bubble (as a text node).
    pub fn append_text(&self, el: &Element, text: &str) {
        let _ = el.append_child(&self.doc.create_text_node(text));
    }

    /// Empties the transcript.
    pub fn clear_messages(&self) {
        self.messages.set_text_content(None);
    }

    /// Sets the `lang` attribute (updateLocale).
    pub fn set_locale(&self, locale: &str) {
        let _ = self.window.set_attribute("lang", locale);
    }
}

impl Drop for Dom {
    fn drop(&mut self) {
        self.host.remove();
    }
}
