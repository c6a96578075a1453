//! The chat-completions wire format: messages and tools we send, chunks we receive.
//!
//! Only what Natter uses is modelled; unknown fields in chunks are ignored (servers add their
//! own: `system_fingerprint`, `logprobs`, Azure's `prompt_filter_results`, …) so any
//! OpenAI-compatible server parses.

use serde::{Deserialize, Serialize};
use serde_json::{json, Value};

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Role {
    System,
    User,
    Assistant,
    Tool,
}

/// One message of the conversation as the model sees it.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ChatMessage {
    pub role: Role,
    /// `null` is allowed for an assistant message that only calls tools.
    #[serde(default)]
    pub content: Option<String>,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub tool_calls: Vec<ToolCall>,
    /// For `role: tool`: the call this is the result of.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub tool_call_id: Option<String>,
    /// User messages to a model that accepts images: their URLs (`https:` or `data:`), sent
    /// as OpenAI-style `image_url` content parts after the text (see [`wire_messages`]).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub images: Vec<String>,
}

impl ChatMessage {
    pub fn system(text: impl Into<String>) -> Self {
        Self::text(Role::System, text)
    }
    pub fn user(text: impl Into<String>) -> Self {
        Self::text(Role::User, text)
    }
    pub fn assistant(text: impl Into<String>) -> Self {
        Self::text(Role::Assistant, text)
    }
    pub fn text(role: Role, text: impl Into<String>) -> Self {
        ChatMessage {
            role,
            content: Some(text.into()),
            tool_calls: Vec::new(),
            tool_call_id: None,
            images: Vec::new(),
        }
    }
    /// A user message with images (see [`ChatMessage::images`]).
    pub fn user_with_images(text: impl Into<String>, images: Vec<String>) -> Self {
        ChatMessage {
            images,
            ..Self::text(Role::User, text)
        }
    }
    /// An assistant message that calls tools (with whatever text came with the calls).
    pub fn tool_calls(text: Option<String>, calls: Vec<ToolCall>) -> Self {
        ChatMessage {
            role: Role::Assistant,
            content: text,
            tool_calls: calls,
            tool_call_id: None,
            images: Vec::new(),
        }
    }
    pub fn tool_result(call_id: impl Into<String>, content: impl Into<String>) -> Self {
        ChatMessage {
            role: Role::Tool,
            content: Some(content.into()),
            tool_calls: Vec::new(),
            tool_call_id: Some(call_id.into()),
            images: Vec::new(),
        }
    }
}

/// A complete tool call: `arguments` is the JSON text exactly as the model produced it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ToolCall {
    pub id: String,
    pub name: String,
    pub arguments: String,
}

// On the wire a tool call is `{"id","type":"function","function":{"name","arguments"}}`.
impl Serialize for ToolCall {
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        json!({"id": self.id, "type": "function", "function": {"name": self.name, "arguments": self.arguments}})
            .serialize(s)
    }
}

impl<'de> Deserialize<'de> for ToolCall {
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        #[derive(Deserialize)]
        struct W {
            id: String,
            function: F,
        }
        #[derive(Deserialize)]
        struct F {
            name: String,
            #[serde(default)]
            arguments: String,
        }
        let w = W::deserialize(d)?;
        Ok(ToolCall {
            id: w.id,
            name: w.function.name,
            arguments: w.function.arguments,
        })
    }
}

/// A tool offered to the model: name, description and the JSON schema of its arguments.
#[derive(Debug, Clone, PartialEq)]
pub struct ToolSpec {
    pub name: String,
    pub description: String,
    pub parameters: Value,
}

impl ToolSpec {
    /// The OpenAI tool object `{"type":"function","function":{name,description,parameters}}`.
    pub fn to_openai(&self) -> Value {
        json!({"type": "function", "function": {
            "name": self.name, "description": self.description, "parameters": self.parameters}})
    }

    /// The inverse of [`ToolSpec::to_openai`], e.g. for `natter_actions::Action::tool()`.
    pub fn from_openai(tool: &Value) -> Option<ToolSpec> {
        let f = tool.get("function")?;
        Some(ToolSpec {
            name: f.get("name")?.as_str()?.to_string(),
            description: f
                .get("description")
                .and_then(Value::as_str)
                .unwrap_or_default()
                .to_string(),
            parameters: f
                .get("parameters")
                .cloned()
                .unwrap_or_else(|| json!({"type": "object", "properties": {}})),
        })
    }
}

/// What one model call asks for. The client adds `stream: true` and
/// `stream_options.include_usage`.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct ChatRequest {
    pub model: String,
    #[serde(serialize_with = "wire_messages")]
    pub messages: Vec<ChatMessage>,
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub tools: Vec<Value>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub temperature: Option<f32>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub max_tokens: Option<u32>,
}

/// Messages as the API takes them: a message with images has `content` as a list of parts
/// (`{"type":"text"}` then one `{"type":"image_url","image_url":{"url"}}` per image); every
/// other message keeps plain-string `content`.
fn wire_messages<S: serde::Serializer>(messages: &[ChatMessage], s: S) -> Result<S::Ok, S::Error> {
    use serde::ser::{Error, SerializeSeq};
    let mut seq = s.serialize_seq(Some(messages.len()))?;
    for m in messages {
        if m.images.is_empty() {
            seq.serialize_element(m)?;
            continue;
        }
        let mut v = serde_json::to_value(m).map_err(S::Error::custom)?;
        let mut parts =
            vec![json!({"type": "text", "text": m.content.clone().unwrap_or_default()})];
        parts.extend(
            m.images
                .iter()
                .map(|u| json!({"type": "image_url", "image_url": {"url": u}})),
        );
        v["content"] = Value::Array(parts);
        if let Some(o) = v.as_object_mut() {
            o.remove("images");
        }
        seq.serialize_element(&v)?;
    }
    seq.end()
}

#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Usage {
    #[serde(default)]
    pub prompt_tokens: u64,
    #[serde(default)]
    pub completion_tokens: u64,
    #[serde(default)]
    pub total_tokens: u64,
}

impl Usage {
    pub fn add(&mut self, o: Usage) {
        self.prompt_tokens += o.prompt_tokens;
        self.completion_tokens += o.completion_tokens;
        self.total_tokens += o.total_tokens;
    }
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum FinishReason {
    Stop,
    Length,
    ToolCalls,
    ContentFilter,
    Other(String),
}

impl FinishReason {
    pub fn parse(s: &str) -> FinishReason {
        match s {
            "stop" => FinishReason::Stop,
            "length" => FinishReason::Length,
            // "function_call" is the pre-tools name some servers still send.
            "tool_calls" | "function_call" => FinishReason::ToolCalls,
            "content_filter" => FinishReason::ContentFilter,
            o => FinishReason::Other(o.to_string()),
        }
    }
}

// ---- chunks (deserialize only) ----

#[derive(Debug, Deserialize)]
pub(crate) struct Chunk {
    #[serde(default)]
    pub choices: Vec<ChoiceChunk>,
    #[serde(default)]
    pub usage: Option<Usage>,
    /// Some servers report a failure inside the stream.
    #[serde(default)]
    pub error: Option<Value>,
}

#[derive(Debug, Deserialize)]
pub(crate) struct ChoiceChunk {
    #[serde(default)]
    pub index: u32,
    #[serde(default)]
    pub delta: Option<Delta>,
    #[serde(default)]
    pub finish_reason: Option<String>,
}

#[derive(Debug, Deserialize)]
pub(crate) struct Delta {
    #[serde(default)]
    pub content: Option<String>,
    #[serde(default)]
    pub tool_calls: Option<Vec<ToolCallDelta>>,
}

#[derive(Debug, Deserialize)]
pub(crate) struct ToolCallDelta {
    #[serde(default)]
    pub index: Option<usize>,
    #[serde(default)]
    pub id: Option<String>,
    #[serde(default)]
    pub function: Option<FunctionDelta>,
}

#[derive(Debug, Deserialize)]
pub(crate) struct FunctionDelta {
    #[serde(default)]
    pub name: Option<String>,
    #[serde(default)]
    pub arguments: Option<String>,
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn messages_serialize_as_openai_expects() {
        let m = ChatMessage::tool_calls(
            None,
            vec![ToolCall {
                id: "c1".into(),
                name: "f".into(),
                arguments: "{}".into(),
            }],
        );
        assert_eq!(
            serde_json::to_value(&m).unwrap(),
            json!({"role": "assistant", "content": null, "tool_calls": [
                {"id": "c1", "type": "function", "function": {"name": "f", "arguments": "{}"}}]})
        );
        let back: ChatMessage = serde_json::from_value(serde_json::to_value(&m).unwrap()).unwrap();
        assert_eq!(back, m);
        assert_eq!(
            serde_json::to_value(ChatMessage::tool_result("c1", "ok")).unwrap(),
            json!({"role": "tool", "content": "ok", "tool_call_id": "c1"})
        );
    }
}
