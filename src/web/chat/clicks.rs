//! Clicks on the transcript's own controls (`data-a`): message buttons (their
//! `customEvent`, then open the button's URL or send its value) and the feedback controls
//! (handed to `feedback`).
//!
//! Invariant: a button's URL is opened only through [`md::safe_url`], with `noopener`.

use super::*;

#[wasm_bindgen]
extern "C" {
    #[wasm_bindgen(js_name = open)]
    fn window_open(url: &str, target: &str, features: &str) -> JsValue;
}

pub(in crate::web) fn attr_u32(e: &Element, name: &str) -> Option<u32> {
    // our own decimal attributes (data-m, …): a byte fold, not `str::parse`'s machinery
    let v = e.get_attribute(name)?;
    (!v.is_empty() && v.bytes().all(|b| b.is_ascii_digit())).then(|| {
        v.bytes().fold(0u32, |n, d| {
            n.wrapping_mul(10).wrapping_add(u32::from(d - b'0'))
        })
    })
}

/// A click on an element with a `data-a` the view layer does not handle.
pub(crate) fn click(w: &Rc<Widget>, e: Element) {
    let action = e.get_attribute("data-a").unwrap_or_default();
    match action.as_str() {
        "btn" => button_click(w, &e),
        "up" | "down" => feedback::thumbs(w, &e, action == "up"),
        "fbsend" => feedback::details_submit(w),
        "fbclose" => {
            feedback::close_popup(w);
        }
        _ => {}
    }
}

pub(in crate::web) fn message_at(w: &Widget, m: u32) -> Option<JsValue> {
    w.st.borrow().chat.msgs.get(m as usize).map(|x| x.1.clone())
}

pub(super) fn button_click(w: &Rc<Widget>, e: &Element) {
    let (Some(m), Some(i), Some(b)) = (
        attr_u32(e, "data-m"),
        attr_u32(e, "data-i"),
        attr_u32(e, "data-b"),
    ) else {
        return;
    };
    let Some(message) = message_at(w, m) else {
        return;
    };
    let item = js_sys::Array::from(&get(&message, "content")).get(i);
    let button = match attr_u32(e, "data-c") {
        Some(c) => js_sys::Array::from(&get(
            &js_sys::Array::from(&get(&item, "cards")).get(c),
            "buttons",
        ))
        .get(b),
        None => js_sys::Array::from(&get(&item, "options")).get(b),
    };
    let ev = js::event(
        EventType::CustomEvent,
        &[
            ("customEventName", "buttonItemClicked".into()),
            ("contentItem", item),
            ("message", message),
            ("button", button.clone()),
        ],
    );
    // the default runs after the handlers
    emit(w, EventType::CustomEvent, ev, None, After::Nothing);
    let url = get(&button, "url").as_string();
    match url {
        Some(u) => {
            if let Some(safe) = md::safe_url(&u) {
                window_open(safe, "_blank", "noopener,noreferrer");
            }
        }
        None => {
            // the value (IBM's option items: `value.input.text`) goes to the bot; the visitor
            // sees the label they clicked
            let label = get(&button, "label").as_string();
            let value = get(&button, "value");
            let v = value
                .as_string()
                .or_else(|| get(&get(&value, "input"), "text").as_string())
                .or_else(|| label.clone());
            if let Some(v) = v.filter(|v| !v.trim().is_empty()) {
                start::send(
                    w,
                    v,
                    false,
                    label,
                    JsValue::UNDEFINED,
                    JsValue::UNDEFINED,
                    Then::Nothing,
                );
            }
        }
    }
}
