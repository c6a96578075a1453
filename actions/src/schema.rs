//! The arguments of an action as a JSON schema (for an LLM's tools) and their validation
//! (before anything runs: the agent must check a model's tool call against the same schema it
//! offered).
//!
//! The schema is the subset both sides understand: an object with typed `properties`,
//! `required`, and `additionalProperties: false`. `validate_args` enforces exactly that subset,
//! so a value that passes validation satisfies the schema and vice versa.

use serde_json::{json, Map, Value};

use crate::def::{Action, ArgType};

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ArgsError {
    #[error("arguments must be a JSON object, not {0}")]
    NotObject(&'static str),
    #[error("{}", .0.iter().map(|p| p.to_string()).collect::<Vec<_>>().join("; "))]
    Invalid(Vec<ArgProblem>),
}

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ArgProblem {
    #[error("missing argument `{0}`")]
    Missing(String),
    #[error("unknown argument `{0}`")]
    Unknown(String),
    #[error("argument `{name}` must be {expected}, not {got}")]
    WrongType {
        name: String,
        expected: &'static str,
        got: &'static str,
    },
}

fn json_kind(v: &Value) -> &'static str {
    match v {
        Value::Null => "null",
        Value::Bool(_) => "a boolean",
        Value::Number(_) => "a number",
        Value::String(_) => "a string",
        Value::Array(_) => "an array",
        Value::Object(_) => "an object",
    }
}

fn fits(ty: ArgType, v: &Value) -> bool {
    match ty {
        ArgType::Any => true,
        ArgType::String => v.is_string(),
        ArgType::Number => v.is_number(),
        ArgType::Integer => {
            v.is_i64() || v.is_u64() || v.as_f64().is_some_and(|f| f.fract() == 0.0)
        }
        ArgType::Boolean => v.is_boolean(),
        ArgType::Object => v.is_object(),
        ArgType::Array => v.is_array(),
    }
}

impl Action {
    /// JSON schema of the arguments:
    /// `{"type":"object","properties":{…},"required":[…],"additionalProperties":false}`.
    pub fn args_schema(&self) -> Value {
        let mut props = Map::new();
        for a in &self.args {
            let mut p = Map::new();
            if let Some(t) = a.ty.schema_type() {
                p.insert("type".into(), t.into());
            }
            if let Some(d) = &a.description {
                p.insert("description".into(), d.clone().into());
            }
            props.insert(a.name.clone(), Value::Object(p));
        }
        json!({
            "type": "object",
            "properties": props,
            "required": self.required_args().collect::<Vec<_>>(),
            "additionalProperties": false,
        })
    }

    /// The action as an OpenAI-style tool: `{"type":"function","function":{name, description,
    /// parameters}}`.
    pub fn tool(&self) -> Value {
        json!({
            "type": "function",
            "function": {
                "name": self.name,
                "description": self.description,
                "parameters": self.args_schema(),
            }
        })
    }

    /// A JSON description for listings (`natter` and the admin API): name, description, kind,
    /// workflows, arguments, and for API actions method and URL template. Holds no secret
    /// values (`{ env = … }` fields are shown by variable name only).
    pub fn summary(&self) -> Value {
        let args: Vec<Value> = self
            .args
            .iter()
            .map(|a| {
                json!({
                    "name": a.name,
                    "type": a.ty.schema_type().unwrap_or("any"),
                    "description": a.description,
                    "required": a.required,
                })
            })
            .collect();
        let mut v = json!({
            "name": self.name,
            "description": self.description,
            "kind": self.kind.as_str(),
            "workflows": self.workflows,
            "args": args,
            "source": self.source.display().to_string(),
        });
        if let Some(api) = self.api() {
            v["method"] = api.method.as_str().into();
            v["base_url"] = api.base_url.as_str().into();
            v["path"] = api.path.source().into();
        }
        v
    }

    /// Arguments typed on a command line (`natter action test … --arg k=v`) as JSON: each
    /// value is converted to its argument's declared type (`42` for an integer, `true` for a
    /// boolean, JSON text for objects and arrays; for `any`, JSON if it parses, else the
    /// text), then the result is validated like a model's call.
    pub fn args_from_strings<'a>(
        &self,
        pairs: impl IntoIterator<Item = (&'a str, &'a str)>,
    ) -> Result<Value, ArgsError> {
        let mut map = Map::new();
        let mut problems = Vec::new();
        for (name, text) in pairs {
            let ty = self.args.iter().find(|a| a.name == name).map(|a| a.ty);
            let value = match ty {
                None | Some(ArgType::String) => Some(Value::String(text.to_string())),
                Some(ArgType::Any) => Some(
                    serde_json::from_str(text).unwrap_or_else(|_| Value::String(text.to_string())),
                ),
                Some(
                    ArgType::Number
                    | ArgType::Integer
                    | ArgType::Boolean
                    | ArgType::Object
                    | ArgType::Array,
                ) => serde_json::from_str(text).ok(),
            };
            match value {
                Some(v) => {
                    map.insert(name.to_string(), v);
                }
                None => problems.push(ArgProblem::WrongType {
                    name: name.to_string(),
                    expected: "JSON of its declared type",
                    got: "text that doesn't parse",
                }),
            }
        }
        if !problems.is_empty() {
            return Err(ArgsError::Invalid(problems));
        }
        let value = Value::Object(map);
        self.validate_args(&value)?;
        Ok(value)
    }

    /// Checks `args` against [`Action::args_schema`]; returns the object on success.
    pub fn validate_args<'a>(&self, args: &'a Value) -> Result<&'a Map<String, Value>, ArgsError> {
        let obj = args
            .as_object()
            .ok_or(ArgsError::NotObject(json_kind(args)))?;
        let mut problems = Vec::new();
        for spec in &self.args {
            match obj.get(&spec.name) {
                None if spec.required => problems.push(ArgProblem::Missing(spec.name.clone())),
                None => {}
                Some(v) if !fits(spec.ty, v) => problems.push(ArgProblem::WrongType {
                    name: spec.name.clone(),
                    expected: match spec.ty {
                        ArgType::String => "a string",
                        ArgType::Number => "a number",
                        ArgType::Integer => "an integer",
                        ArgType::Boolean => "a boolean",
                        ArgType::Object => "an object",
                        ArgType::Array => "an array",
                        ArgType::Any => "any value",
                    },
                    got: json_kind(v),
                }),
                Some(_) => {}
            }
        }
        for key in obj.keys() {
            if !self.args.iter().any(|a| &a.name == key) {
                problems.push(ArgProblem::Unknown(key.clone()));
            }
        }
        if problems.is_empty() {
            Ok(obj)
        } else {
            Err(ArgsError::Invalid(problems))
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::parse::parse_action;
    use std::path::Path;

    fn action() -> Action {
        parse_action(
            Path::new("createOrder.toml"),
            r#"
description = "Creates an order"
kind = "api"
[api]
base_url = "https://api.example.com"
path = "/customers/$customerId/orders"
method = "POST"
body = { items = "$items", qty = "$qty", note = "by $customerId" }
[[args]]
name = "items"
type = "array"
description = "Cart lines"
[[args]]
name = "qty"
type = "integer"
"#,
        )
        .unwrap()
    }

    #[test]
    fn schema_lists_every_variable_as_required() {
        let s = action().args_schema();
        assert_eq!(
            s,
            json!({
                "type": "object",
                "properties": {
                    "customerId": {"type": "string"},
                    "items": {"type": "array", "description": "Cart lines"},
                    "qty": {"type": "integer"},
                },
                "required": ["customerId", "items", "qty"],
                "additionalProperties": false,
            })
        );
        assert_eq!(action().tool()["function"]["name"], "createOrder");
        let summary = action().summary();
        assert_eq!(summary["method"], "POST");
        assert_eq!(summary["path"], "/customers/$customerId/orders");
        assert_eq!(
            summary["args"][1],
            json!({"name": "items", "type": "array", "description": "Cart lines", "required": true})
        );
    }

    #[test]
    fn validation_matches_the_schema() {
        let a = action();
        assert!(a
            .validate_args(&json!({"customerId": "c1", "items": [], "qty": 2}))
            .is_ok());
        assert!(a
            .validate_args(&json!({"customerId": "c1", "items": [], "qty": 2.0}))
            .is_ok());
        let err = a
            .validate_args(&json!({"customerId": 7, "qty": 2.5, "extra": 1}))
            .unwrap_err();
        let ArgsError::Invalid(problems) = &err else {
            panic!("{err}")
        };
        assert_eq!(problems.len(), 4, "{err}");
        assert!(
            err.to_string().contains("missing argument `items`"),
            "{err}"
        );
        assert!(
            err.to_string().contains("unknown argument `extra`"),
            "{err}"
        );
        assert!(matches!(
            a.validate_args(&json!([1])),
            Err(ArgsError::NotObject("an array"))
        ));
    }

    #[test]
    fn command_line_arguments_take_their_declared_types() {
        let a = action();
        let v = a
            .args_from_strings([
                ("customerId", "42"),
                ("items", "[{\"sku\":\"A\"}]"),
                ("qty", "3"),
            ])
            .unwrap();
        assert_eq!(
            v,
            json!({"customerId": "42", "items": [{"sku": "A"}], "qty": 3})
        );
        let err = a
            .args_from_strings([("customerId", "1"), ("items", "[]"), ("qty", "three")])
            .unwrap_err();
        assert!(err.to_string().contains("`qty`"), "{err}");
        let err = a
            .args_from_strings([("customerId", "1"), ("items", "[]"), ("qty", "2.5")])
            .unwrap_err();
        assert!(err.to_string().contains("must be an integer"), "{err}");
        assert!(a
            .args_from_strings([("customerId", "1")])
            .unwrap_err()
            .to_string()
            .contains("missing argument `items`"));
    }
}
