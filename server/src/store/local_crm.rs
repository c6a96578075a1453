//! The built-in local CRM's state in the store (migration 0013): the conversations it heard
//! of, their lines, the webhook ids it took and its agents' presence. In the database, so every
//! instance on one PostgreSQL shows the same queue to every agent console.
//!
//! Invariants: a webhook id is taken once ([`Store::local_crm_note`] with that id answers
//! `false` and writes nothing the second time), so a webhook delivered again changes nothing;
//! a note creates its conversation (`waiting`) if needed, sets its status if it carries one
//! and adds its line, all in one commit. Each bot keeps its newest [`MAX_CONVERSATIONS`]
//! conversations and each conversation its last [`MAX_LINES`] lines.
//!
//! [`Store::local_crm_note`]: super::Store::local_crm_note

use serde::Serialize;

/// Conversations kept per bot; the oldest go beyond this.
pub const MAX_CONVERSATIONS: i64 = 1000;
/// Lines kept per conversation; the oldest go beyond this.
pub const MAX_LINES: i64 = 500;
/// A webhook id is remembered this long (longer than the outbox's retries of one webhook).
pub const WEBHOOK_MEMORY_MS: i64 = 48 * 3600 * 1000;

/// One thing the local CRM heard (a webhook) or an agent did (through the inbound API).
#[derive(Debug, Clone, PartialEq)]
pub struct Note {
    pub bot: String,
    pub platform_conversation_id: String,
    /// The webhook that brought it (`None`: an agent's action, always recorded).
    pub webhook_id: Option<String>,
    /// `visitor`, `agent` or `system`.
    pub from: String,
    pub text: String,
    /// Files sent with the line: `{id, name, type, size}` each.
    pub files: Vec<serde_json::Value>,
    /// The conversation's new status (`waiting`, `active`, `ended`), if it changes.
    pub status: Option<String>,
}

#[derive(Debug, Clone, PartialEq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct Line {
    /// `visitor`, `agent` or `system`.
    pub from: String,
    pub text: String,
    /// Files sent with the line: `{id, name, type, size}` as stored; the local CRM adds a
    /// signed `url` when it answers the console.
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub files: Vec<serde_json::Value>,
}

#[derive(Debug, Clone, PartialEq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct Conversation {
    pub platform_conversation_id: String,
    pub bot: String,
    /// `waiting`, `active` (an agent joined) or `ended`.
    pub status: String,
    pub lines: Vec<Line>,
}

/// Rows read back (conversation ord, pcid, status) and (conversation ord, sender, text, files
/// JSON), in
/// order: the bot's conversations newest first, each with its lines oldest first.
pub(super) fn assemble(
    bot: &str,
    convs: Vec<(i64, String, String)>,
    lines: Vec<(i64, String, String, String)>,
) -> Vec<Conversation> {
    let index: std::collections::HashMap<i64, usize> =
        convs.iter().enumerate().map(|(i, c)| (c.0, i)).collect();
    let mut out: Vec<Conversation> = convs
        .into_iter()
        .map(|(_, pcid, status)| Conversation {
            platform_conversation_id: pcid,
            bot: bot.to_string(),
            status,
            lines: Vec::new(),
        })
        .collect();
    for (conv, from, text, files) in lines {
        if let Some(&i) = index.get(&conv) {
            // A line whose files cannot be read still shows its text.
            let files = serde_json::from_str(&files).unwrap_or_default();
            out[i].lines.push(Line { from, text, files });
        }
    }
    out
}
