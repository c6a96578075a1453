//! A JSON object walker that names every field it complains about by its full path.

use serde_json::{Map, Value};

use super::InboundError;

/// Body size refused before parsing: the Chat API carries a message, not a document.
pub const MAX_BODY: usize = 256 * 1024;

pub fn parse_body(body: &[u8]) -> Result<Value, InboundError> {
    if body.len() > MAX_BODY {
        return Err(InboundError::too_large(MAX_BODY));
    }
    serde_json::from_slice(body).map_err(InboundError::json)
}

pub fn kind(v: &Value) -> &'static str {
    match v {
        Value::Null => "null",
        Value::Bool(_) => "a boolean",
        Value::Number(_) => "a number",
        Value::String(_) => "a string",
        Value::Array(_) => "an array",
        Value::Object(_) => "an object",
    }
}

pub struct Obj<'a> {
    map: &'a Map<String, Value>,
    prefix: String,
}

impl<'a> Obj<'a> {
    /// `prefix` is the path of this object (`""` for the body, `metaData[0]` below it).
    pub fn new(v: &'a Value, prefix: &str) -> Result<Obj<'a>, InboundError> {
        match v {
            Value::Object(map) => Ok(Obj {
                map,
                prefix: prefix.to_string(),
            }),
            other => {
                let what = if prefix.is_empty() { "body" } else { "value" };
                Err(InboundError::new(
                    prefix,
                    format!("{what} must be a JSON object, got {}", kind(other)),
                ))
            }
        }
    }

    pub fn path(&self, key: &str) -> String {
        if self.prefix.is_empty() {
            key.to_string()
        } else {
            format!("{}.{key}", self.prefix)
        }
    }

    pub fn err(&self, key: &str, cause: impl Into<String>) -> InboundError {
        InboundError::new(self.path(key), cause)
    }

    /// The field, with `null` read as absent.
    pub fn get(&self, key: &str) -> Option<&'a Value> {
        self.map.get(key).filter(|v| !v.is_null())
    }

    pub fn has(&self, key: &str) -> bool {
        self.get(key).is_some()
    }

    pub fn required_str(&self, key: &str) -> Result<String, InboundError> {
        self.optional_str(key)?
            .ok_or_else(|| self.err(key, "is required"))
    }

    /// Absent or a non-empty string (the template's `@IsNotEmpty() @IsString()`).
    pub fn optional_str(&self, key: &str) -> Result<Option<String>, InboundError> {
        match self.get(key) {
            None => Ok(None),
            Some(Value::String(s)) if s.is_empty() => Err(self.err(key, "must not be empty")),
            Some(Value::String(s)) => Ok(Some(s.clone())),
            Some(other) => Err(self.err(key, format!("expected a string, got {}", kind(other)))),
        }
    }

    /// Like [`Obj::optional_str`], but a number is taken as its decimal text: the template types
    /// queue position and waiting time as strings, a CRM may well send `3`.
    pub fn optional_str_or_number(&self, key: &str) -> Result<Option<String>, InboundError> {
        match self.get(key) {
            Some(Value::Number(n)) => Ok(Some(n.to_string())),
            _ => self.optional_str(key),
        }
    }

    pub fn optional_bool(&self, key: &str) -> Result<Option<bool>, InboundError> {
        match self.get(key) {
            None => Ok(None),
            Some(Value::Bool(b)) => Ok(Some(*b)),
            Some(other) => Err(self.err(key, format!("expected a boolean, got {}", kind(other)))),
        }
    }

    /// A string that must be one of `allowed`.
    pub fn required_enum(
        &self,
        key: &str,
        allowed: &[&'static str],
    ) -> Result<&'static str, InboundError> {
        let s = self.required_str(key)?;
        allowed
            .iter()
            .find(|a| **a == s)
            .copied()
            .ok_or_else(|| self.err(key, format!("`{s}` is not one of {}", allowed.join(", "))))
    }

    pub fn optional_array(&self, key: &str) -> Result<Option<&'a Vec<Value>>, InboundError> {
        match self.get(key) {
            None => Ok(None),
            Some(Value::Array(a)) => Ok(Some(a)),
            Some(other) => Err(self.err(key, format!("expected an array, got {}", kind(other)))),
        }
    }

    pub fn forbid(&self, key: &str, why: &str) -> Result<(), InboundError> {
        if self.has(key) {
            Err(self.err(key, why.to_string()))
        } else {
            Ok(())
        }
    }
}
