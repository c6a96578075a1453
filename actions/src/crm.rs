//! The request data of a CRM action, in the shape of the CRM actions webhook
//! (crm-webhooks.txt): `data: [{"key", "value": [strings], "saveAs"?}]`. The server posts it
//! with `botId`, `conversationId`, `platformConversationId` and `name`; this module only turns
//! validated arguments into `data`, so the shape is tested in one place.

use serde_json::{json, Map, Value};

use crate::def::{Action, ActionKind};

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum CrmDataError {
    #[error("action `{0}` is not a CRM action")]
    NotCrm(String),
    #[error("argument `{0}` is an object; a CRM action value is a string or a list of them")]
    Object(String),
}

/// A scalar as the webhook's string: strings as-is, numbers and booleans as JSON text.
fn text(v: &Value) -> Option<String> {
    match v {
        Value::String(s) => Some(s.clone()),
        Value::Number(n) => Some(n.to_string()),
        Value::Bool(b) => Some(b.to_string()),
        Value::Null => Some(String::new()),
        Value::Array(_) | Value::Object(_) => None,
    }
}

impl Action {
    /// `data` for the CRM actions webhook, in the order the arguments are declared; absent
    /// optional arguments are left out. Call [`Action::validate_args`] first.
    pub fn crm_data(&self, args: &Map<String, Value>) -> Result<Vec<Value>, CrmDataError> {
        if !matches!(self.kind, ActionKind::Crm(_)) {
            return Err(CrmDataError::NotCrm(self.name.clone()));
        }
        let mut data = Vec::new();
        for spec in &self.args {
            let Some(v) = args.get(&spec.name) else {
                continue;
            };
            let values: Vec<String> = match v {
                Value::Array(items) => items
                    .iter()
                    .map(|i| text(i).ok_or_else(|| CrmDataError::Object(spec.name.clone())))
                    .collect::<Result<_, _>>()?,
                other => vec![text(other).ok_or_else(|| CrmDataError::Object(spec.name.clone()))?],
            };
            let mut item = json!({"key": spec.name, "value": values});
            if let Some(save_as) = &spec.save_as {
                item["saveAs"] = save_as.clone().into();
            }
            data.push(item);
        }
        Ok(data)
    }
}

#[cfg(test)]
mod tests {
    use crate::parse::parse_action;
    use serde_json::json;
    use std::path::Path;

    #[test]
    fn the_seed_example_shape() {
        let a = parse_action(
            Path::new("updateCustomerBalance.toml"),
            "description = \"d\"\nkind = \"crm\"\n[[args]]\nname = \"userId\"\nsave_as = \"customerId\"\n[[args]]\nname = \"balance\"\ntype = \"number\"\n[[args]]\nname = \"tags\"\ntype = \"array\"\nrequired = false\n",
        )
        .unwrap();
        let args = json!({"userId": "123345", "balance": 100});
        let args = a.validate_args(&args).unwrap();
        assert_eq!(
            a.crm_data(args).unwrap(),
            vec![
                json!({"key": "userId", "value": ["123345"], "saveAs": "customerId"}),
                json!({"key": "balance", "value": ["100"]}),
            ]
        );
        let with_list = json!({"userId": "1", "balance": 1, "tags": ["a", 2]});
        assert_eq!(
            a.crm_data(with_list.as_object().unwrap()).unwrap()[2],
            json!({"key": "tags", "value": ["a", "2"]})
        );
        let bad = json!({"userId": "1", "balance": 1, "tags": [{"x": 1}]});
        assert!(a.crm_data(bad.as_object().unwrap()).is_err());
    }

    #[test]
    fn save_as_is_for_crm_only() {
        let errs = parse_action(
            Path::new("x.toml"),
            "description = \"d\"\nkind = \"python\"\n[python]\nfile = \"x.py\"\n[[args]]\nname = \"a\"\nsave_as = \"b\"\n",
        )
        .unwrap_err();
        assert!(
            errs[0]
                .to_string()
                .contains("x.toml:7:11: save_as is for CRM actions only"),
            "{errs:?}"
        );
    }
}
