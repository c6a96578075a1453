//! Reads the JS options object of `loadChat` into [`crate::options::RawOptions`] and resolves
//! `element` (an `Element`, or a selector that must match one).

use super::error::Result;
use super::js::get;
use crate::options::{self, Error, Raw, RawOptions};
use wasm_bindgen::{JsCast, JsValue};
use web_sys::Element;

/// The JS value as the core's [`Raw`].
pub fn raw(v: JsValue) -> Raw {
    if v.is_undefined() {
        Raw::Absent
    } else if let Some(s) = v.as_string() {
        Raw::Str(s)
    } else if let Some(b) = v.as_bool() {
        Raw::Bool(b)
    } else if let Some(n) = v.as_f64() {
        Raw::Num(n)
    } else {
        Raw::Other(super::js::type_name(&v))
    }
}

fn entries(v: &JsValue, what: &'static str) -> Result<Vec<(String, Raw)>> {
    if v.is_undefined() {
        return Ok(Vec::new());
    }
    if !v.is_object() {
        return Err(Error::WrongType {
            option: what,
            expected: "an object",
            got: super::js::type_name(v),
        }
        .into());
    }
    let mut out = Vec::new();
    for e in super::js::items(&js_sys::Object::entries(v.unchecked_ref()).into()) {
        out.push((
            get(&e, "0").as_string().unwrap_or_default(),
            raw(get(&e, "1")),
        ));
    }
    Ok(out)
}

/// The scalar options, in [`RawOptions`] field order.
const KEYS: [&str; 8] = [
    "serverUrl",
    "bot",
    "showLauncher",
    "openOnLoad",
    "authToken",
    "locale",
    "persistence",
    "handlerTimeoutMs",
];

/// What `loadChat` was given, validated.
pub struct Parsed {
    pub options: options::Options,
    pub element: Option<Element>,
    /// `_channel`: what the conversation comes through (the IBM loaders name theirs).
    pub channel: Option<String>,
}

/// Validates a JS options object.
pub fn parse(o: &JsValue) -> Result<Parsed> {
    if !o.is_object() || js_sys::Array::is_array(o) {
        return Err(Error::NotAnObject.into());
    }
    let element = match get(o, "element") {
        v if v.is_undefined() || v.is_null() => None,
        v => Some(resolve_element(v)?),
    };
    let on_load = get(o, "onLoad");
    if !(on_load.is_undefined() || on_load.is_null() || on_load.is_function()) {
        return Err(Error::BadOnLoad.into());
    }
    let mut i = 0;
    let mut next = || {
        i += 1;
        raw(get(o, KEYS[i - 1]))
    };
    let raw_opts = RawOptions {
        server_url: next(),
        bot: next(),
        show_launcher: next(),
        open_on_load: next(),
        auth_token: next(),
        locale: next(),
        persistence: next(),
        handler_timeout_ms: next(),
        strings: entries(&get(o, "strings"), "strings")?,
        theme: entries(&get(o, "theme"), "theme")?,
    };
    let options = options::parse(raw_opts, element.is_some())?;
    Ok(Parsed {
        options,
        element,
        channel: get(o, "_channel").as_string(),
    })
}

fn resolve_element(v: JsValue) -> Result<Element> {
    if let Some(sel) = v.as_string() {
        let doc: JsValue = super::js::document().map_or(JsValue::UNDEFINED, Into::into);
        return super::js::query(&doc, &sel).ok_or_else(|| Error::ElementNotFound(sel).into());
    }
    v.dyn_into::<Element>()
        .map_err(|_| Error::BadElement.into())
}
