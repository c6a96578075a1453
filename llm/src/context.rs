//! Fitting a conversation into the model's context: the token estimate and the trimming.
//!
//! Token estimate (no tokenizer is shipped, so it is an approximation, tilted to over-count):
//! ASCII bytes / 4 (English BPE averages ~4 characters per token), plus one token per
//! non-ASCII character (CJK is about one token per character; accented Latin and Cyrillic are
//! fewer, so they are over-counted, the safe side), plus 4 tokens per message for the role and
//! framing, plus each tool call's name and arguments.
//!
//! Trimming invariants ([`build`]):
//! - the system message (instructions + visible metadata) is always first and always kept;
//! - history is cut into units: a user message, or an assistant message together with the
//!   tool results answering its calls — a unit is kept or dropped whole, so a tool call is
//!   never separated from its result;
//! - units are dropped oldest first; the latest unit is always kept, even over budget (the
//!   model must see what it is answering);
//! - a tool result whose call is not in the history, and a call missing any of its results,
//!   are dropped (the API refuses both).

use serde_json::Value;

use crate::wire::{ChatMessage, Role, ToolSpec};

/// Per-message framing tokens (role, separators).
const MESSAGE_OVERHEAD: usize = 4;
/// A metadata value is cut to this many characters in the system message.
const MAX_METADATA_VALUE_CHARS: usize = 500;

/// Estimated tokens of a text.
pub fn estimate_text(s: &str) -> usize {
    let mut ascii = 0usize;
    let mut other = 0usize;
    for c in s.chars() {
        if c.is_ascii() {
            ascii += 1
        } else {
            other += 1
        }
    }
    ascii.div_ceil(4) + other
}

/// Estimated tokens of a message.
pub fn estimate_message(m: &ChatMessage) -> usize {
    let calls: usize = m
        .tool_calls
        .iter()
        .map(|c| estimate_text(&c.name) + estimate_text(&c.arguments) + 8)
        .sum();
    MESSAGE_OVERHEAD + m.content.as_deref().map_or(0, estimate_text) + calls
}

/// Estimated tokens the tool definitions take in the prompt.
pub fn estimate_tools(tools: &[ToolSpec]) -> usize {
    tools
        .iter()
        .map(|t| estimate_text(&t.to_openai().to_string()))
        .sum()
}

/// The messages to send and what was left out.
#[derive(Debug, Clone, PartialEq)]
pub struct Context {
    pub messages: Vec<ChatMessage>,
    /// History messages left out (too old for the budget, or orphaned tool results).
    pub dropped: usize,
    pub estimated_tokens: usize,
}

/// The system message: instructions, then the metadata the owner made visible.
pub fn system_message(instructions: &str, metadata: &[(String, Value)]) -> ChatMessage {
    let mut text = instructions.trim().to_string();
    if !metadata.is_empty() {
        text.push_str("\n\nConversation metadata:");
        for (k, v) in metadata {
            let shown = match v {
                Value::String(s) => s.clone(),
                other => other.to_string(),
            };
            let mut cut: String = shown.chars().take(MAX_METADATA_VALUE_CHARS).collect();
            if cut.len() < shown.len() {
                cut.push('…');
            }
            text.push_str(&format!("\n- {k}: {cut}"));
        }
    }
    ChatMessage::system(text)
}

/// Builds the prompt: system message first, then as much recent history as fits in `budget`
/// tokens after `reserved` (the tool definitions).
pub fn build(
    instructions: &str,
    metadata: &[(String, Value)],
    history: &[ChatMessage],
    reserved: usize,
    budget: usize,
) -> Context {
    let system = system_message(instructions, metadata);
    let mut used = reserved + estimate_message(&system);
    let units = units(history);
    let orphans = history.len() - units.iter().map(|u| u.len()).sum::<usize>();
    let mut keep_from = units.len();
    for (i, unit) in units.iter().enumerate().rev() {
        let cost: usize = unit.iter().map(|m| estimate_message(m)).sum();
        if i + 1 < units.len() && used + cost > budget {
            break;
        }
        used += cost;
        keep_from = i;
    }
    let dropped = orphans + units[..keep_from].iter().map(|u| u.len()).sum::<usize>();
    let mut messages = Vec::with_capacity(1 + history.len());
    messages.push(system);
    for u in &units[keep_from..] {
        messages.extend(u.iter().map(|m| (*m).clone()));
    }
    Context {
        messages,
        dropped,
        estimated_tokens: used,
    }
}

/// Cuts history into keep-or-drop-whole units; leaves out orphan tool results and system
/// messages (there is exactly one system message, built by [`system_message`]).
fn units(history: &[ChatMessage]) -> Vec<Vec<&ChatMessage>> {
    let mut out: Vec<Vec<&ChatMessage>> = Vec::new();
    let mut open_calls: Vec<&str> = Vec::new();
    for m in history {
        match m.role {
            Role::System => {}
            Role::Tool => {
                let id = m.tool_call_id.as_deref().unwrap_or("");
                if let Some(p) = open_calls.iter().position(|c| *c == id) {
                    open_calls.remove(p);
                    if let Some(last) = out.last_mut() {
                        last.push(m);
                    }
                }
            }
            Role::User | Role::Assistant => {
                open_calls = m.tool_calls.iter().map(|c| c.id.as_str()).collect();
                out.push(vec![m]);
            }
        }
    }
    // A call without all its results (a turn that failed half-way) would be refused by the
    // API: such a unit is dropped whole.
    out.retain(|u| u[0].tool_calls.len() == u.len() - 1);
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::wire::ToolCall;
    use serde_json::json;

    fn call(id: &str) -> ChatMessage {
        ChatMessage::tool_calls(
            None,
            vec![ToolCall {
                id: id.into(),
                name: "getOrder".into(),
                arguments: "{}".into(),
            }],
        )
    }

    #[test]
    fn estimate_is_documented_arithmetic() {
        assert_eq!(estimate_text("abcd"), 1);
        assert_eq!(estimate_text("abcde"), 2);
        assert_eq!(estimate_text("日本"), 2);
        assert_eq!(estimate_message(&ChatMessage::user("abcd")), 5);
    }

    #[test]
    fn drops_oldest_first_and_keeps_calls_with_results() {
        let long = "x".repeat(400); // 100 tokens + 4
        let history = vec![
            ChatMessage::user(long.clone()),
            call("c1"),
            ChatMessage::tool_result("c1", long.clone()),
            ChatMessage::assistant("done"),
            ChatMessage::user("and now?"),
        ];
        let all = build("Be nice.", &[], &history, 0, 10_000);
        assert_eq!(all.messages.len(), 6);
        assert_eq!(all.dropped, 0);
        // Room for the system message, "done", "and now?" and not the 100-token tool result:
        // the call goes with it.
        let c = build("Be nice.", &[], &history, 0, 60);
        assert_eq!(c.dropped, 3);
        assert_eq!(c.messages[0].role, Role::System);
        assert_eq!(c.messages[1].content.as_deref(), Some("done"));
        assert_eq!(
            c.messages.last().unwrap().content.as_deref(),
            Some("and now?")
        );
        // The latest unit stays even when nothing fits.
        let tiny = build("Be nice.", &[], &history, 1000, 10);
        assert_eq!(tiny.messages.len(), 2);
    }

    #[test]
    fn orphan_results_are_dropped_and_metadata_is_shown() {
        let history = vec![
            ChatMessage::tool_result("gone", "{}"),
            ChatMessage::user("hi"),
        ];
        let c = build("x", &[], &[call("c1"), ChatMessage::user("hi")], 0, 1000);
        assert_eq!((c.dropped, c.messages.len()), (1, 2));
        let c = build(
            "Help.",
            &[("plan".into(), json!("gold")), ("orders".into(), json!(3))],
            &history,
            0,
            1000,
        );
        assert_eq!(c.dropped, 1);
        assert_eq!(c.messages.len(), 2);
        let sys = c.messages[0].content.as_deref().unwrap();
        assert!(
            sys.starts_with("Help.") && sys.contains("- plan: gold") && sys.contains("- orders: 3"),
            "{sys}"
        );
    }
}
