//! The actions webhook's answer: `{results: [{key, value, sanitize?}]}`, or an empty body.
//!
//! The seed makes the answer optional, so an empty body (or `{}`) is no results. `value` must
//! be a string, a number or a boolean (seed); `sanitize` a boolean, with the strings
//! `"true"`/`"false"` also taken because the template's DTO declares it `@IsString()`.

use serde_json::Value;

use super::fields::{kind, Obj, MAX_BODY};
use super::InboundError;
use crate::sensitive::Guarded;
use crate::wire::{ActionResult, ResultValue};

pub fn parse_action_response(body: &[u8]) -> Result<Vec<ActionResult>, InboundError> {
    if body.iter().all(u8::is_ascii_whitespace) {
        return Ok(Vec::new());
    }
    if body.len() > MAX_BODY {
        return Err(InboundError::too_large(MAX_BODY));
    }
    let v: Value = serde_json::from_slice(body).map_err(InboundError::json)?;
    let o = Obj::new(&v, "")?;
    let Some(items) = o.optional_array("results")? else {
        return Ok(Vec::new());
    };
    items
        .iter()
        .enumerate()
        .map(|(i, item)| {
            let r = Obj::new(item, &format!("results[{i}]"))?;
            let key = r.required_str("key")?;
            let value = match r.get("value") {
                Some(Value::String(s)) => ResultValue::String(s.clone()),
                Some(Value::Number(n)) => ResultValue::Number(n.clone()),
                Some(Value::Bool(b)) => ResultValue::Bool(*b),
                None => return Err(r.err("value", "is required")),
                Some(other) => {
                    return Err(r.err(
                        "value",
                        format!("expected a string, number or boolean, got {}", kind(other)),
                    ))
                }
            };
            let sanitize = match r.get("sanitize") {
                None => false,
                Some(Value::Bool(b)) => *b,
                Some(Value::String(s)) if s == "true" => true,
                Some(Value::String(s)) if s == "false" => false,
                Some(other) => {
                    return Err(r.err(
                        "sanitize",
                        format!("expected a boolean, got {}", kind(other)),
                    ))
                }
            };
            Ok(ActionResult {
                key,
                value: Guarded::new(value, sanitize),
            })
        })
        .collect()
}
