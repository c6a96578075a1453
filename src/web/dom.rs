//! The widget's DOM: one host `<div>` with an open shadow root holding the stylesheet, the
//! launcher and the main window (parts of DESIGN.md §2). The skeleton is a static template with
//! no caller data in it; every caller- or server-provided string goes in through
//! `textContent` / attributes, never as HTML.
//!
//! Invariant: [`Dom`] owns the host element and the two delegated listeners (click on the
//! shadow root, submit on the form); dropping it removes the host from the page and both
//! listeners, so nothing of the widget survives `destroy()`.

use super::listener::Listener;
use crate::options::Options;
use crate::view::ViewState;
use wasm_bindgen::{JsCast, JsValue};
use web_sys::{Document, Element, Event, HtmlElement, ShadowRoot};

const TEMPLATE: &str = concat!(
    "<style>",
    include_str!("style.css"),
    "</style>",
    r#"<button part="launcher" class="l" data-a="open" hidden><svg viewBox="0 0 24 24" aria-hidden="true"><path d="M4 4h16v12H8l-4 4z"/></svg></button>"#,
    r#"<section part="window" class="w" role="dialog" hidden><header part="header"><span part="title"></span>"#,
    r#"<button part="restart" data-a="restart">&#8635;</button><button part="maximize" data-a="max">&#10530;</button>"#,
    r#"<button part="minimize" data-a="min">&#8211;</button></header><div part="messages" role="log" aria-live="polite"></div>"#,
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
            // values are validated (crate::theme): no `;`, braces, `<>` or `\` can get in
            let mut css = String::new();
            for (prop, value) in &opts.theme {
                css.push_str(prop);
                css.push(':');
                css.push_str(value);
                css.push(';');
            }
            let _ = host.set_attribute("style", &css);
        }
        let init = super::js::object(&[("mode", "open".into())]);
        let root = host.attach_shadow(init.unchecked_ref())?;
        root.set_inner_html(TEMPLATE);

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
