//! What actions read and write besides messages and events: conversation metadata, tags with
//! ids, sticky A/B variants, and the log of action runs (migration 0002).
//!
//! Invariants: each write is one atomic store job answered after its commit, so the next read
//! (a later helper call of the same Python run included) sees it. A tag is on a thread at most
//! once and keeps its id; an A/B variant, once stored for (thread, test), only changes when
//! it is no longer among the allowed variants.

use serde::Serialize;
use serde_json::Value;

/// `add_conversation_tag`'s answer.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TagOutcome {
    pub tag_id: String,
    pub already_present: bool,
}

/// One logged action call.
#[derive(Debug, Clone, PartialEq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct ActionRun {
    pub id: String,
    pub bot: String,
    pub action: String,
    /// `api`, `python` or `crm`.
    pub kind: String,
    pub thread_id: Option<String>,
    /// The bot run (turn) that called it; `None` for a test run.
    pub run_id: Option<String>,
    pub test: bool,
    /// `ok`, `error` (the action answered `{"error": …}`), or how it failed (`timeout`,
    /// `exception`, `syntax_error`, `crashed`, `refused`, `invalid_args`, …).
    pub status: String,
    pub args: Value,
    /// What the bot got.
    pub result: Value,
    /// The full cause, for the bot owner (never shown to visitors).
    pub error: Option<String>,
    pub stdout: String,
    pub stderr: String,
    pub log: Vec<String>,
    pub duration_ms: u64,
    pub created_at: String,
}

/// Which runs to list, newest first.
#[derive(Debug, Clone, Default)]
pub struct ActionRunQuery {
    pub bot: Option<String>,
    pub action: Option<String>,
    pub thread_id: Option<String>,
    /// At most this many (capped at 500).
    pub limit: u32,
}
