//! The actions webhook: Natter posts `{botId, conversationId, platformConversationId, name,
//! data: [{key, value: [..], saveAs?}]}` and reads back `{results: [{key, value, sanitize?}]}`.
//!
//! `data` is what natter-actions' `Action::crm_data()` builds (values as strings, `saveAs`
//! only when the argument declares `save_as`); [`ActionData::from_crm_data`] takes it as is.
//! The answer is parsed by [`crate::inbound::parse_action_response`]; a result the CRM marks
//! `sanitize` is held in [`Sensitive`](crate::Sensitive) from the moment it is parsed.

use serde::{Deserialize, Serialize};

use crate::sensitive::Guarded;

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct ActionRequest {
    pub bot_id: String,
    /// Not in the seed's example; the template's swagger.yaml lists `channel` as required for
    /// the action webhook too, so it is sent, always `chat`.
    #[serde(default = "super::chat::channel")]
    pub channel: String,
    /// Natter's own conversation id ("can be ignored" by the CRM).
    pub conversation_id: String,
    pub platform_conversation_id: String,
    /// The action's name, e.g. `updateCustomerBalance`.
    pub name: String,
    pub data: Vec<ActionData>,
}

impl ActionRequest {
    pub fn new(
        bot_id: impl Into<String>,
        conversation_id: impl Into<String>,
        platform_conversation_id: impl Into<String>,
        name: impl Into<String>,
        data: Vec<ActionData>,
    ) -> Self {
        ActionRequest {
            bot_id: bot_id.into(),
            channel: super::chat::CHANNEL.to_string(),
            conversation_id: conversation_id.into(),
            platform_conversation_id: platform_conversation_id.into(),
            name: name.into(),
            data,
        }
    }

    /// The exact bytes to sign and send.
    pub fn to_body(&self) -> Vec<u8> {
        serde_json::to_vec(self).expect("action request serializes")
    }
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct ActionData {
    pub key: String,
    /// A list with (usually) a single value, as the seed and the template's DTO have it.
    pub value: Vec<String>,
    /// The name the value is stored under in the conversation, when not `key`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub save_as: Option<String>,
}

impl ActionData {
    pub fn new(key: impl Into<String>, value: impl Into<String>) -> Self {
        ActionData {
            key: key.into(),
            value: vec![value.into()],
            save_as: None,
        }
    }
    /// From natter-actions' `Action::crm_data()` output (`[{"key","value":[..],"saveAs"?}]`).
    pub fn from_crm_data(
        items: Vec<serde_json::Value>,
    ) -> Result<Vec<ActionData>, serde_json::Error> {
        items.into_iter().map(serde_json::from_value).collect()
    }
}

/// A result value: the seed allows a string, a number or a boolean.
#[derive(Debug, Clone, PartialEq, Serialize)]
#[serde(untagged)]
pub enum ResultValue {
    String(String),
    Number(serde_json::Number),
    Bool(bool),
}

impl ResultValue {
    pub fn to_json(&self) -> serde_json::Value {
        match self {
            ResultValue::String(s) => s.clone().into(),
            ResultValue::Number(n) => serde_json::Value::Number(n.clone()),
            ResultValue::Bool(b) => (*b).into(),
        }
    }
}

impl std::fmt::Display for ResultValue {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            ResultValue::String(s) => f.write_str(s),
            ResultValue::Number(n) => n.fmt(f),
            ResultValue::Bool(b) => b.fmt(f),
        }
    }
}

/// One entry of `results`, to be stored in the conversation under `key`. Serializing it (for a
/// run log, an admin listing) redacts a sanitized value; store `value.expose()`.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct ActionResult {
    pub key: String,
    pub value: Guarded<ResultValue>,
}

impl ActionResult {
    pub fn sanitize(&self) -> bool {
        self.value.is_sanitized()
    }
}
