//! JSON body templates: a JSON tree whose string values are [`Template`]s.
//!
//! Rules (also in docs/actions.md):
//! - a string value that is exactly one variable (`"$items"`, `"${items}"`) becomes the
//!   argument's raw JSON value — a number stays a number, an object an object;
//! - any other string value is rendered as text and stays a JSON string (the serializer escapes
//!   quotes, backslashes and control characters, so a value can't close the string);
//! - object keys are literal: never expanded (`"$schema"` stays `"$schema"`), so a value can
//!   never add or rename a key;
//! - numbers, booleans and nulls of the definition are copied.

use serde_json::{Map, Value};

use crate::template::{Place, RenderError, Template, TemplateError};

#[derive(Debug, Clone, PartialEq)]
pub enum JsonTemplate {
    /// A number, boolean or null of the definition.
    Literal(Value),
    Str(Template),
    Array(Vec<JsonTemplate>),
    Object(Vec<(String, JsonTemplate)>),
}

impl JsonTemplate {
    /// Parses the strings of a JSON value of the definition.
    pub fn from_value(value: &Value) -> Result<JsonTemplate, TemplateError> {
        Ok(match value {
            Value::String(s) => JsonTemplate::Str(Template::parse(s)?),
            Value::Array(items) => JsonTemplate::Array(
                items
                    .iter()
                    .map(JsonTemplate::from_value)
                    .collect::<Result<_, _>>()?,
            ),
            Value::Object(map) => JsonTemplate::Object(
                map.iter()
                    .map(|(k, v)| Ok((k.clone(), JsonTemplate::from_value(v)?)))
                    .collect::<Result<_, TemplateError>>()?,
            ),
            other => JsonTemplate::Literal(other.clone()),
        })
    }

    /// Every variable, in document order, with whether it stands alone (raw JSON value).
    pub fn vars(&self) -> Vec<(&str, bool)> {
        let mut out = Vec::new();
        self.collect_vars(&mut out);
        out
    }

    fn collect_vars<'a>(&'a self, out: &mut Vec<(&'a str, bool)>) {
        match self {
            JsonTemplate::Literal(_) => {}
            JsonTemplate::Str(t) => match t.whole_var() {
                Some(v) => out.push((v, true)),
                None => out.extend(t.vars().map(|v| (v, false))),
            },
            JsonTemplate::Array(items) => items.iter().for_each(|i| i.collect_vars(out)),
            JsonTemplate::Object(fields) => fields.iter().for_each(|(_, v)| v.collect_vars(out)),
        }
    }

    pub fn render(&self, args: &Map<String, Value>) -> Result<Value, RenderError> {
        Ok(match self {
            JsonTemplate::Literal(v) => v.clone(),
            JsonTemplate::Str(t) => match t.whole_var() {
                Some(name) => args
                    .get(name)
                    .cloned()
                    .ok_or_else(|| RenderError::Missing(name.to_string()))?,
                None => Value::String(t.render(args, Place::Text)?),
            },
            JsonTemplate::Array(items) => Value::Array(
                items
                    .iter()
                    .map(|i| i.render(args))
                    .collect::<Result<_, _>>()?,
            ),
            JsonTemplate::Object(fields) => {
                let mut map = Map::with_capacity(fields.len());
                for (k, v) in fields {
                    map.insert(k.clone(), v.render(args)?);
                }
                Value::Object(map)
            }
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn whole_variables_keep_their_json_type_and_embedded_ones_are_text() {
        let t = JsonTemplate::from_value(&json!({
            "items": "$items", "qty": "${qty}", "note": "for $name!", "$schema": "x", "n": 1, "z": null,
            "list": ["$qty", "id-$qty"]
        }))
        .unwrap();
        let args =
            json!({"items": [{"sku": "A"}], "qty": 3, "name": "\"}, \"admin\": true, \"x\": {\""})
                .as_object()
                .unwrap()
                .clone();
        let out = t.render(&args).unwrap();
        assert_eq!(
            out,
            json!({
                "items": [{"sku": "A"}], "qty": 3, "note": "for \"}, \"admin\": true, \"x\": {\"!",
                "$schema": "x", "n": 1, "z": null, "list": [3, "id-3"]
            })
        );
        // Serialized, the hostile value stays inside its string: one key `note`, no `admin`.
        let text = serde_json::to_string(&out).unwrap();
        let back: Value = serde_json::from_str(&text).unwrap();
        assert!(back.get("admin").is_none());
        assert_eq!(
            t.vars(),
            // serde_json orders keys alphabetically: items, list, note, qty.
            vec![
                ("items", true),
                ("qty", true),
                ("qty", false),
                ("name", false),
                ("qty", true)
            ]
        );
    }

    #[test]
    fn missing_and_non_scalar_embedded_values_are_errors() {
        let t = JsonTemplate::from_value(&json!({"a": "x$v"})).unwrap();
        assert_eq!(
            t.render(&Map::new()).unwrap_err(),
            RenderError::Missing("v".into())
        );
        let args = json!({"v": {"o": 1}}).as_object().unwrap().clone();
        assert!(matches!(
            t.render(&args),
            Err(RenderError::NotScalar { .. })
        ));
    }
}
