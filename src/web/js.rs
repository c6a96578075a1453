//! Small helpers for reading and building plain JS objects, and the few JS globals the shell
//! calls. Reads never throw: a getter that throws reads as `undefined`.

use js_sys::{Object, Reflect};
use wasm_bindgen::prelude::*;
use wasm_bindgen::JsCast;

#[wasm_bindgen]
extern "C" {
    #[wasm_bindgen(js_name = setTimeout)]
    pub fn set_timeout(f: &JsValue, ms: u32) -> i32;
    /// `Promise.resolve(v)` (adopts thenables), untyped.
    #[wasm_bindgen(js_namespace = Promise, js_name = resolve)]
    pub fn promise_resolve(v: &JsValue) -> Thenable;
    pub type Thenable;
    #[wasm_bindgen(method, js_name = then)]
    pub fn then2(this: &Thenable, ok: &JsValue, err: &JsValue) -> JsValue;
    #[wasm_bindgen(js_name = clearTimeout)]
    pub fn clear_timeout(id: i32);
    #[wasm_bindgen(js_namespace = console, js_name = error)]
    pub fn console_error(msg: &str, detail: &JsValue);
    #[wasm_bindgen(js_namespace = console, js_name = warn)]
    pub fn console_warn(msg: &str);
    pub type ParentNode;
    #[wasm_bindgen(method, catch, js_name = querySelector)]
    fn query_selector(
        this: &ParentNode,
        selector: &str,
    ) -> Result<Option<web_sys::Element>, JsValue>;
    #[wasm_bindgen(js_namespace = JSON, js_name = parse, catch)]
    pub fn json_parse(s: &str) -> Result<JsValue, JsValue>;
    #[wasm_bindgen(js_namespace = JSON, js_name = stringify, catch)]
    fn json_stringify(v: &JsValue) -> Result<JsValue, JsValue>;
    /// `globalThis` (cheaper than `web_sys::window()`'s four-way global lookup).
    #[wasm_bindgen(thread_local_v2, js_name = globalThis)]
    static GLOBAL: JsValue;
}

/// `globalThis[name]`, or `undefined` (also when the getter throws, as `localStorage` may).
pub fn global(name: &str) -> JsValue {
    GLOBAL.with(|g| get(g, name))
}

/// The page's `document`.
pub fn document() -> Option<web_sys::Document> {
    let d = global("document");
    d.is_object().then(|| d.unchecked_into())
}

/// A resolved promise (`Promise.resolve(v)`).
pub fn resolved(v: &JsValue) -> js_sys::Promise {
    promise_resolve(v).unchecked_into()
}

/// `node.querySelector(selector)` for a document or a shadow root (one import for both);
/// `None` also when the selector is invalid.
pub fn query(node: &JsValue, selector: &str) -> Option<web_sys::Element> {
    node.unchecked_ref::<ParentNode>()
        .query_selector(selector)
        .ok()
        .flatten()
}

/// Whether `v` is an array-like with at least one item (`v.length > 0`).
pub fn has_items(v: &JsValue) -> bool {
    get(v, "length").as_f64().is_some_and(|n| n > 0.0)
}

/// `obj[key]`, or `undefined`.
pub fn get(obj: &JsValue, key: &str) -> JsValue {
    if !obj.is_object() {
        return JsValue::UNDEFINED;
    }
    Reflect::get(obj, &JsValue::from_str(key)).unwrap_or(JsValue::UNDEFINED)
}

/// `obj[key] = value` (ignores frozen objects).
pub fn set(obj: &JsValue, key: &str, value: &JsValue) {
    let _ = Reflect::set(obj, &JsValue::from_str(key), value);
}

/// A fresh object with the given properties.
pub fn object(props: &[(&str, JsValue)]) -> JsValue {
    let o: JsValue = Object::new().into();
    for (k, v) in props {
        set(&o, k, v);
    }
    o
}

/// The event object every dispatch starts from: `{type}` plus `props`.
pub fn event(ty: crate::events::EventType, props: &[(&str, JsValue)]) -> JsValue {
    let o = object(props);
    set(&o, "type", &JsValue::from_str(ty.name()));
    o
}

/// `typeof v` (for error messages); `null` reads as "null".
pub fn type_name(v: &JsValue) -> String {
    if v.is_null() {
        return "null".into();
    }
    v.js_typeof().as_string().unwrap_or_default()
}

/// Whether `v` is a promise or another thenable.
pub fn is_thenable(v: &JsValue) -> bool {
    v.is_object() && get(v, "then").is_function()
}

/// The elements of an array (empty for anything else).
pub fn items(v: &JsValue) -> Vec<JsValue> {
    if js_sys::Array::is_array(v) {
        let a: &js_sys::Array = v.unchecked_ref();
        let mut out = Vec::new();
        for i in 0..a.length() {
            out.push(a.get(i));
        }
        out
    } else {
        Vec::new()
    }
}

/// `JSON.stringify(v)`, or `None` when it throws (a BigInt, a cycle) or gives `undefined`.
pub fn json(v: &JsValue) -> Option<String> {
    json_stringify(v).ok().and_then(|t| t.as_string())
}

/// `JSON.stringify(v)` of a value built here (plain data: never throws), `""` otherwise.
pub fn json_text(v: &JsValue) -> String {
    json(v).unwrap_or_default()
}

/// `obj[name]()`, or `undefined` when it is not a function or throws.
pub fn call0(obj: &JsValue, name: &str) -> JsValue {
    get(obj, name)
        .dyn_into::<js_sys::Function>()
        .ok()
        .and_then(|f| f.call0(obj).ok())
        .unwrap_or(JsValue::UNDEFINED)
}

/// `s` with `n` in decimal appended (no `core::fmt`).
pub fn num(mut s: String, n: u32) -> String {
    crate::thread::push_u32(&mut s, n);
    s
}
