//! Checks a tool call's arguments against the JSON schema the tool was offered with, before
//! anything runs.
//!
//! The subset understood is what Natter's tools use (natter-actions' `args_schema()` and the
//! built-in tools): `type` (one name or a list), `properties`, `required`,
//! `additionalProperties: false`, `enum`, `items`, `minLength`/`maxLength`, nested objects. A
//! keyword outside the subset is ignored (never a reason to refuse), so an unusual schema can
//! only make validation more lenient, not block a correct call.

use serde_json::{Map, Value};

/// Every problem found, as short sentences for the model to read (`Display` joins them).
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{}", .0.join("; "))]
pub struct SchemaError(pub Vec<String>);

/// Parses the call's `arguments` text (empty means `{}`) and validates it.
pub fn parse_and_validate(
    schema: &Value,
    arguments: &str,
) -> Result<Map<String, Value>, SchemaError> {
    let text = if arguments.trim().is_empty() {
        "{}"
    } else {
        arguments
    };
    let v: Value = serde_json::from_str(text)
        .map_err(|e| SchemaError(vec![format!("arguments are not valid JSON ({e})")]))?;
    let mut problems = Vec::new();
    check(schema, &v, "arguments", &mut problems);
    match v {
        Value::Object(m) if problems.is_empty() => Ok(m),
        Value::Object(_) => Err(SchemaError(problems)),
        other => Err(SchemaError(vec![format!(
            "arguments must be a JSON object, not {}",
            kind(&other)
        )])),
    }
}

/// Validates `v` against `schema`, appending problems (with a path) to `out`.
pub fn check(schema: &Value, v: &Value, path: &str, out: &mut Vec<String>) {
    let Some(s) = schema.as_object() else { return };
    match s.get("type") {
        Some(Value::String(t)) if !fits(t, v) => {
            out.push(format!("`{path}` must be {}, not {}", article(t), kind(v)));
            return;
        }
        Some(Value::Array(ts)) if !ts.iter().filter_map(Value::as_str).any(|t| fits(t, v)) => {
            let names: Vec<&str> = ts.iter().filter_map(Value::as_str).collect();
            out.push(format!(
                "`{path}` must be one of the types {}, not {}",
                names.join(", "),
                kind(v)
            ));
            return;
        }
        _ => {}
    }
    if let Some(Value::Array(allowed)) = s.get("enum") {
        if !allowed.contains(v) {
            let shown: Vec<String> = allowed.iter().map(|a| a.to_string()).collect();
            out.push(format!("`{path}` must be one of {}", shown.join(", ")));
        }
    }
    if let Some(text) = v.as_str() {
        let n = text.chars().count() as u64;
        if let Some(min) = s
            .get("minLength")
            .and_then(Value::as_u64)
            .filter(|&m| n < m)
        {
            out.push(format!("`{path}` must be at least {min} characters"));
        }
        if let Some(max) = s
            .get("maxLength")
            .and_then(Value::as_u64)
            .filter(|&m| n > m)
        {
            out.push(format!("`{path}` must be at most {max} characters"));
        }
    }
    if let Value::Object(obj) = v {
        let props = s.get("properties").and_then(Value::as_object);
        if let Some(Value::Array(req)) = s.get("required") {
            for r in req.iter().filter_map(Value::as_str) {
                if !obj.contains_key(r) {
                    out.push(format!("missing argument `{r}`"));
                }
            }
        }
        for (k, val) in obj {
            match props.and_then(|p| p.get(k)) {
                Some(sub) => check(sub, val, k, out),
                None if s.get("additionalProperties") == Some(&Value::Bool(false)) => {
                    out.push(format!("unknown argument `{k}`"))
                }
                None => {}
            }
        }
    }
    if let (Value::Array(items), Some(item_schema)) = (v, s.get("items")) {
        for (i, it) in items.iter().enumerate() {
            check(item_schema, it, &format!("{path}[{i}]"), out);
        }
    }
}

fn fits(t: &str, v: &Value) -> bool {
    match t {
        "string" => v.is_string(),
        "number" => v.is_number(),
        // 2.0 is an integer to JSON schema (and to natter-actions).
        "integer" => v.is_i64() || v.is_u64() || v.as_f64().is_some_and(|f| f.fract() == 0.0),
        "boolean" => v.is_boolean(),
        "object" => v.is_object(),
        "array" => v.is_array(),
        "null" => v.is_null(),
        _ => true,
    }
}

fn article(t: &str) -> String {
    match t {
        "integer" | "array" | "object" => format!("an {t}"),
        "null" => "null".into(),
        t => format!("a {t}"),
    }
}

fn kind(v: &Value) -> &'static str {
    match v {
        Value::Null => "null",
        Value::Bool(_) => "a boolean",
        Value::Number(_) => "a number",
        Value::String(_) => "a string",
        Value::Array(_) => "an array",
        Value::Object(_) => "an object",
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn schema() -> Value {
        json!({"type": "object", "properties": {
            "orderId": {"type": "string", "minLength": 1},
            "qty": {"type": "integer"},
            "tags": {"type": "array", "items": {"type": "string"}},
            "mode": {"enum": ["fast", "slow"]},
        }, "required": ["orderId", "qty"], "additionalProperties": false})
    }

    #[test]
    fn valid_arguments_pass() {
        let m = parse_and_validate(
            &schema(),
            r#"{"orderId":"A1","qty":2.0,"tags":["x"],"mode":"fast"}"#,
        )
        .unwrap();
        assert_eq!(m["orderId"], "A1");
        assert!(parse_and_validate(&json!({"type": "object", "properties": {}}), "").is_ok());
    }

    #[test]
    fn every_problem_is_named() {
        let e = parse_and_validate(
            &schema(),
            r#"{"orderId":"","qty":2.5,"tags":[1],"mode":"x","extra":true}"#,
        )
        .unwrap_err();
        assert_eq!(e.0.len(), 5, "{e}");
        for want in [
            "`orderId` must be at least 1",
            "`qty` must be an integer",
            "`tags[0]` must be a string",
            "`mode` must be one of",
            "unknown argument `extra`",
        ] {
            assert!(e.to_string().contains(want), "{want}: {e}");
        }
        assert!(parse_and_validate(&schema(), r#"{"qty":1}"#)
            .unwrap_err()
            .to_string()
            .contains("missing argument `orderId`"));
        assert!(parse_and_validate(&schema(), "{\"orderId\":")
            .unwrap_err()
            .to_string()
            .contains("not valid JSON"));
        assert!(parse_and_validate(&schema(), "[1]")
            .unwrap_err()
            .to_string()
            .contains("must be a JSON object"));
    }
}
