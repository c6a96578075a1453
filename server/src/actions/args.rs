//! A workflow step's arguments: `{ orderId = "$orderId", note = "for $name" }` → JSON.
//!
//! A string that is exactly `$path` (or `${path}`) takes the variable's JSON value as is
//! (`path` may go into objects: `$result.orderId`); a missing variable leaves the argument out,
//! so validation names it. Elsewhere in a string `$name` / `${name}` insert the value's text,
//! `$$` is a `$`. Values are inserted once, never re-expanded. Strings bound for an argument
//! typed number, integer, boolean, object or array are parsed as JSON when they parse
//! (answers to `ask` steps are text).

use natter_actions::{Action, ArgType};
use serde_json::{Map, Value};

use crate::text::{lookup, value_text};

/// An argument `"$secret.<key>"`: a sanitized CRM action result of the conversation.
pub const SECRET_PREFIX: &str = "secret.";

/// Replaces each whole-string argument `"$secret.<key>"` (at any depth) with the stored value
/// (`Value::Null` when missing). Only for the outgoing call: what is logged keeps the
/// placeholder.
pub fn resolve_secrets(v: &Value, secrets: &Map<String, Value>) -> Value {
    match v {
        Value::String(s) => match s
            .strip_prefix('$')
            .and_then(|p| p.strip_prefix(SECRET_PREFIX))
        {
            Some(key) => secrets.get(key).cloned().unwrap_or(Value::Null),
            None => v.clone(),
        },
        Value::Array(a) => Value::Array(a.iter().map(|x| resolve_secrets(x, secrets)).collect()),
        Value::Object(m) => Value::Object(
            m.iter()
                .map(|(k, x)| (k.clone(), resolve_secrets(x, secrets)))
                .collect(),
        ),
        other => other.clone(),
    }
}

/// Whether `v` holds a `"$secret.<key>"` argument.
pub fn has_secrets(v: &Value) -> bool {
    match v {
        Value::String(s) => s.starts_with("$secret."),
        Value::Array(a) => a.iter().any(has_secrets),
        Value::Object(m) => m.values().any(has_secrets),
        _ => false,
    }
}

/// Renders `template` (the step's `args`) with `vars`, typed for `action`.
pub fn render_args(
    action: &Action,
    template: &Map<String, Value>,
    vars: &Map<String, Value>,
) -> Value {
    let mut out = Map::new();
    for (k, v) in template {
        let Some(mut v) = render(v, vars) else {
            continue;
        };
        let ty = action.args.iter().find(|a| &a.name == k).map(|a| a.ty);
        if let (Some(ty), Value::String(s)) = (ty, &v) {
            if !matches!(ty, ArgType::String | ArgType::Any) {
                if let Ok(parsed) = serde_json::from_str::<Value>(s.trim()) {
                    v = parsed;
                }
            }
        }
        out.insert(k.clone(), v);
    }
    Value::Object(out)
}

fn is_path(s: &str) -> bool {
    !s.is_empty()
        && s.split('.')
            .all(|p| !p.is_empty() && p.chars().all(|c| c.is_alphanumeric() || c == '_'))
        && !s.starts_with(|c: char| c.is_ascii_digit())
}

/// `None`: a whole-value variable that is not set.
fn render(v: &Value, vars: &Map<String, Value>) -> Option<Value> {
    match v {
        Value::String(s) => {
            let whole = s
                .strip_prefix("${")
                .and_then(|r| r.strip_suffix('}'))
                .or_else(|| s.strip_prefix('$'));
            if let Some(path) = whole.filter(|p| is_path(p)) {
                // A sanitized CRM result: resolved by the runner at call time, never here.
                if path.starts_with(SECRET_PREFIX) && !vars.contains_key("secret") {
                    return Some(Value::String(format!("${path}")));
                }
                return lookup(vars, path).cloned();
            }
            Some(Value::String(interpolate(s, vars)))
        }
        Value::Array(a) => Some(Value::Array(
            a.iter().filter_map(|x| render(x, vars)).collect(),
        )),
        Value::Object(m) => Some(Value::Object(
            m.iter()
                .filter_map(|(k, x)| Some((k.clone(), render(x, vars)?)))
                .collect(),
        )),
        other => Some(other.clone()),
    }
}

fn interpolate(s: &str, vars: &Map<String, Value>) -> String {
    let mut out = String::with_capacity(s.len());
    let mut rest = s;
    while let Some(i) = rest.find('$') {
        out.push_str(&rest[..i]);
        let after = &rest[i + 1..];
        if let Some(r) = after.strip_prefix('$') {
            out.push('$');
            rest = r;
        } else if let Some(end) = after.strip_prefix('{').and_then(|r| r.find('}')) {
            let name = &after[1..1 + end];
            out.push_str(&lookup(vars, name).map(value_text).unwrap_or_default());
            rest = &after[end + 2..];
        } else {
            let len = after
                .find(|c: char| !(c.is_alphanumeric() || c == '_'))
                .unwrap_or(after.len());
            if len == 0 || after.starts_with(|c: char| c.is_ascii_digit()) {
                out.push('$');
                rest = after;
            } else {
                out.push_str(
                    &lookup(vars, &after[..len])
                        .map(value_text)
                        .unwrap_or_default(),
                );
                rest = &after[len..];
            }
        }
    }
    out.push_str(rest);
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn action(args: &str) -> Action {
        natter_actions::parse_action(
            std::path::Path::new("a.toml"),
            &format!("description = \"d\"\nkind = \"crm\"\n{args}"),
        )
        .unwrap()
    }

    #[test]
    fn whole_values_keep_their_type_and_text_is_inserted_once() {
        let a = action("[[args]]\nname = \"n\"\ntype = \"integer\"\n[[args]]\nname = \"s\"\n[[args]]\nname = \"o\"\ntype = \"any\"\n");
        let vars = json!({"n": "42", "name": "$o", "r": {"id": 7}})
            .as_object()
            .unwrap()
            .clone();
        let t = json!({"n": "$n", "s": "hi ${name}! $$5 $9 $", "o": "$r.id", "missing": "$nope"});
        let out = render_args(&a, t.as_object().unwrap(), &vars);
        assert_eq!(out, json!({"n": 42, "s": "hi $o! $5 $9 $", "o": 7}));
    }
}
