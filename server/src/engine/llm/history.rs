//! The conversation as the model sees it: stored messages → chat messages, with the tool calls
//! of earlier turns put back where they happened.
//!
//! The store keeps what the user saw (messages); the tool calls and results that led to an
//! answer live in the agent's state as [`ToolMemory`], keyed by the answer's message id, and
//! are inserted just before that answer. Buttons, cards, files and custom content are described
//! in words (the model can't see the widget); for a model that accepts images, the visitor's
//! images also go with their message as `image_url` parts. Messages of a human agent are marked
//! as such.

use natter_llm::{ChatMessage, Role as ChatRole};
use natter_protocol::{response_type, Message, Role};
use serde::{Deserialize, Serialize};

/// The tool calls and results that preceded assistant message `message_id`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ToolMemory {
    pub message_id: String,
    pub messages: Vec<ChatMessage>,
}

/// The chat history up to and including this run's user message (a later message queued
/// behind this run is not part of it). `images`: image URLs per user message id.
pub fn to_chat(
    messages: &[Message],
    memory: &[ToolMemory],
    run_id: &str,
    images: &std::collections::HashMap<String, Vec<String>>,
) -> Vec<ChatMessage> {
    let mut out = Vec::with_capacity(messages.len() + 1);
    for m in messages {
        let text = describe(m);
        match m.role {
            Role::User => {
                match images.get(&m.id) {
                    Some(urls) if !urls.is_empty() => {
                        out.push(ChatMessage::user_with_images(text, urls.clone()))
                    }
                    _ if !text.is_empty() => out.push(ChatMessage::user(text)),
                    _ => {}
                }
                if m.run_id.as_deref() == Some(run_id) {
                    break;
                }
            }
            Role::Assistant => {
                if let Some(mem) = memory.iter().find(|t| t.message_id == m.id) {
                    out.extend(mem.messages.iter().cloned());
                }
                if !text.is_empty() {
                    out.push(ChatMessage::assistant(text));
                }
            }
            Role::Agent if !text.is_empty() => out.push(ChatMessage::assistant(format!(
                "(a human agent wrote:) {text}"
            ))),
            Role::Agent => {}
        }
    }
    out
}

/// Keeps this turn's tool calls and results (everything but the final answer) for message
/// `id`; at most `cap` memories, the oldest forgotten first.
pub fn remember(memory: &mut Vec<ToolMemory>, id: String, turn: &[ChatMessage], cap: usize) {
    let mut messages: Vec<ChatMessage> = turn
        .iter()
        .filter(|m| !m.tool_calls.is_empty() || m.role == ChatRole::Tool)
        .cloned()
        .collect();
    if messages.is_empty() {
        return;
    }
    // The text said alongside the calls is part of the stored answer; keep it once.
    for m in &mut messages {
        if !m.tool_calls.is_empty() {
            m.content = None;
        }
    }
    memory.push(ToolMemory {
        message_id: id,
        messages,
    });
    let excess = memory.len().saturating_sub(cap);
    memory.drain(..excess);
}

/// A message's content in words.
fn describe(m: &Message) -> String {
    let mut parts: Vec<String> = Vec::new();
    for c in &m.content {
        if let Some(t) = c.text.as_deref().filter(|t| !t.trim().is_empty()) {
            parts.push(t.to_string());
        }
        match c.response_type.as_str() {
            response_type::OPTION => {
                let labels: Vec<&str> = c
                    .options
                    .iter()
                    .flatten()
                    .map(|b| b.label.as_str())
                    .collect();
                if !labels.is_empty() {
                    parts.push(format!("[buttons: {}]", labels.join(", ")));
                }
            }
            response_type::CAROUSEL => {
                let titles: Vec<&str> =
                    c.cards.iter().flatten().map(|c| c.title.as_str()).collect();
                parts.push(format!("[cards: {}]", titles.join(", ")));
            }
            response_type::TEXT => {}
            response_type::FILE => {
                if let Some(f) = &c.file {
                    parts.push(format!("[file: {} ({}, {} bytes)]", f.name, f.mime, f.size));
                }
            }
            other => parts.push(format!("[{other} content]")),
        }
    }
    parts.join("\n")
}

#[cfg(test)]
mod tests {
    use super::*;
    use natter_llm::ToolCall;
    use natter_protocol::ContentItem;

    fn msg(id: &str, role: Role, text: &str, run: Option<&str>) -> Message {
        Message {
            id: id.into(),
            role,
            content: vec![ContentItem::text("c0", text)],
            message_options: Default::default(),
            created_at: String::new(),
            run_id: run.map(str::to_string),
            client_message_id: None,
        }
    }

    #[test]
    fn tool_memory_goes_before_its_answer_and_history_stops_at_the_run() {
        let call = ChatMessage::tool_calls(
            Some("Let me look.".into()),
            vec![ToolCall {
                id: "c1".into(),
                name: "getOrder".into(),
                arguments: "{}".into(),
            }],
        );
        let result = ChatMessage::tool_result("c1", "{\"status\":\"shipped\"}");
        let mut memory = Vec::new();
        remember(
            &mut memory,
            "m2".into(),
            &[call, result, ChatMessage::assistant("Shipped.")],
            20,
        );
        assert_eq!(memory[0].messages.len(), 2);
        assert_eq!(memory[0].messages[0].content, None);
        let stored = vec![
            msg("m1", Role::User, "where is 42?", Some("r1")),
            msg(
                "m2",
                Role::Assistant,
                "Let me look.\n\nShipped.",
                Some("r1"),
            ),
            msg("m3", Role::Agent, "Hi, Ann here.", None),
            msg("m4", Role::User, "thanks", Some("r2")),
            msg("m5", Role::User, "queued later", Some("r3")),
        ];
        let chat = to_chat(&stored, &memory, "r2", &Default::default());
        let roles: Vec<ChatRole> = chat.iter().map(|m| m.role).collect();
        assert_eq!(
            roles,
            [
                ChatRole::User,
                ChatRole::Assistant,
                ChatRole::Tool,
                ChatRole::Assistant,
                ChatRole::Assistant,
                ChatRole::User
            ]
        );
        assert_eq!(
            chat[4].content.as_deref(),
            Some("(a human agent wrote:) Hi, Ann here.")
        );
        assert_eq!(chat.last().unwrap().content.as_deref(), Some("thanks"));
    }

    #[test]
    fn memories_are_capped_oldest_first() {
        let mut memory = Vec::new();
        let turn = [
            ChatMessage::tool_calls(
                None,
                vec![ToolCall {
                    id: "c".into(),
                    name: "x".into(),
                    arguments: "{}".into(),
                }],
            ),
            ChatMessage::tool_result("c", "1"),
        ];
        for i in 0..5 {
            remember(&mut memory, format!("m{i}"), &turn, 3);
        }
        assert_eq!(
            memory
                .iter()
                .map(|m| m.message_id.as_str())
                .collect::<Vec<_>>(),
            ["m2", "m3", "m4"]
        );
        remember(
            &mut memory,
            "plain".into(),
            &[ChatMessage::assistant("hi")],
            3,
        );
        assert_eq!(memory.len(), 3);
    }
}
