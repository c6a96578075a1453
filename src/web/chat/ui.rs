//! The window's own elements added by the conversation (connection status, typing
//! indicator, screen-reader announcer) and its keyboard handling (Escape, Tab trap).
//!
//! Invariant: Tab and Shift+Tab keep focus inside the open window.

use super::*;

pub(super) fn build_ui(
    w: &Rc<Widget>,
    root: &JsValue,
    s: &crate::strings::Strings,
    messages: &Element,
) -> Option<Ui> {
    let doc = messages.owner_document()?;
    let window = js::query(root, "[part=window]")?;
    let _ = messages.set_attribute("aria-live", "off");
    let status = doc.create_element("div").ok()?;
    let _ = status.set_attribute("part", "status");
    let _ = status.set_attribute("role", "status");
    let _ = status.set_attribute("hidden", "");
    let _ = messages.before_with_node_1(&status);
    let typing = doc.create_element("div").ok()?;
    let _ = typing.set_attribute("class", "typing");
    let _ = typing.set_attribute("role", "status");
    let _ = typing.set_attribute("aria-label", s.get("typing"));
    let _ = typing.set_attribute("hidden", "");
    crate::web::dom::build(&doc, &typing, "<i></i><i></i><i></i>");
    let _ = messages.after_with_node_1(&typing);
    let live = doc.create_element("div").ok()?;
    let _ = live.set_attribute("class", "sr");
    let _ = live.set_attribute("aria-live", "polite");
    let _ = live.set_attribute("aria-atomic", "true");
    let _ = window.append_child(&live);
    let weak = Rc::downgrade(w);
    let root2 = root.clone();
    let win2 = window.clone();
    let keys = Listener::new(&window, "keydown", move |e: Event| {
        let Some(w) = weak.upgrade() else { return };
        let key = get(&e, "key").as_string().unwrap_or_default();
        if key == "Escape" {
            e.prevent_default();
            if !feedback::close_popup(&w) {
                start::change_view(&w, crate::view::Cause::MinimizeClicked, Then::Nothing);
            }
        } else if key == "Tab" {
            trap(&root2, &win2, &e);
        }
    });
    Some(Ui {
        root: root.clone(),
        window,
        status,
        typing,
        live,
        popup: None,
        _keys: keys,
    })
}

/// Keeps Tab / Shift+Tab inside the open window.
pub(super) fn trap(root: &JsValue, window: &Element, e: &Event) {
    let Ok(list) = window.query_selector_all("button:not([hidden]),input,textarea,a[href]") else {
        return;
    };
    let mut first = None;
    let mut last = None;
    for i in 0..list.length() {
        if let Some(n) = list.item(i) {
            let el: Element = n.unchecked_into();
            if el.closest("[hidden]").ok().flatten().is_none() {
                if first.is_none() {
                    first = Some(el.clone());
                }
                last = Some(el);
            }
        }
    }
    let (Some(first), Some(last)) = (first, last) else {
        return;
    };
    let active = get(root, "activeElement");
    let shift = get(e, "shiftKey").as_bool() == Some(true);
    let target = if shift && (active == JsValue::from(first.clone()) || active.is_null()) {
        Some(last)
    } else if !shift && active == JsValue::from(last.clone()) {
        Some(first)
    } else {
        None
    };
    if let Some(t) = target {
        e.prevent_default();
        let _ = t.unchecked_into::<web_sys::HtmlElement>().focus();
    }
}
