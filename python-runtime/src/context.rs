//! What a run is given: the `context` passed to `execute_action` / `handle_event`, and the
//! request that names the bot folder, the script and the limits.
//!
//! Invariant: nothing secret belongs here. The whole `Context` is handed to the bot owner's
//! code; credentials (LLM keys, Google service accounts) stay with the [`crate::Host`].

use serde::{Deserialize, Serialize};
use serde_json::{Map, Value};
use std::path::PathBuf;
use std::time::Duration;

/// The `context` dict the user's function receives.
#[derive(Debug, Clone, Default, Serialize, Deserialize, PartialEq)]
pub struct Context {
    /// `context["args"]`: the action's arguments, or `{"event_type": ...}` for a handler.
    pub args: Map<String, Value>,
    /// `context["conversation"]`: `None` for a "Run Test" without a conversation id.
    pub conversation: Option<Conversation>,
    /// `context["browser_session"]`: web chat only (page URL, user agent, ...), else `None`.
    pub browser_session: Option<Value>,
}

/// `context["conversation"]`.
#[derive(Debug, Clone, Default, Serialize, Deserialize, PartialEq)]
#[serde(rename_all = "camelCase")]
pub struct Conversation {
    /// Conversation UUID. Helpers act on this conversation, whatever the Python code does.
    pub id: String,
    /// Short public id (e.g. "ABC123XYZ").
    pub public_id: String,
    pub subject: String,
    pub business_slug: String,
    /// "web", "phone", "crm", ... `hand_off_conversation` transfers calls only on "phone".
    pub channel: String,
    pub messages: Vec<Message>,
    /// Channel fields (e.g. caller number, page URL) and anything else the server adds,
    /// flattened into the same dict.
    #[serde(flatten)]
    pub extra: Map<String, Value>,
}

/// One message of `context["conversation"]["messages"]`.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
pub struct Message {
    /// "customer", "bot" or "agent".
    pub sender: String,
    /// ISO 8601.
    pub timestamp: String,
    pub content: String,
    pub channel: String,
    /// Files sent with the message: `{id, name, type, size, url}` (`url`: a signed download
    /// path valid for a short time); the bytes through the `read_attachment` helper.
    #[serde(default)]
    pub attachments: Vec<Value>,
}

/// Which entry point a run calls.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum RunKind {
    /// `execute_action(context)`; default limit 30 s.
    Action,
    /// `handle_event(context)`; default limit 60 s.
    EventHandler,
}

impl RunKind {
    /// The Python function this kind calls.
    pub fn function(self) -> &'static str {
        match self {
            RunKind::Action => "execute_action",
            RunKind::EventHandler => "handle_event",
        }
    }
}

/// One call of a bot owner's Python code.
#[derive(Debug, Clone)]
pub struct RunRequest {
    pub kind: RunKind,
    /// Bot slug, passed to the [`crate::Host`] (LLM config, Sheets credentials).
    pub bot: String,
    /// The bot's folder: the working directory, mounted read-only.
    pub bot_dir: PathBuf,
    /// The .py file, relative to `bot_dir` (no `..`, not absolute).
    pub script: PathBuf,
    pub context: Context,
    /// A "Run Test": `hand_off_conversation` is skipped.
    pub test_run: bool,
    /// Wall-clock limit for this call; `None` = the runtime's default for `kind`.
    pub timeout: Option<Duration>,
}

impl RunRequest {
    /// An action call with the default limit.
    pub fn action(
        bot: &str,
        bot_dir: impl Into<PathBuf>,
        script: impl Into<PathBuf>,
        context: Context,
    ) -> Self {
        RunRequest {
            kind: RunKind::Action,
            bot: bot.to_string(),
            bot_dir: bot_dir.into(),
            script: script.into(),
            context,
            test_run: false,
            timeout: None,
        }
    }

    /// An event-handler call with the default limit; `context.args.event_type` is set.
    pub fn event_handler(
        bot: &str,
        bot_dir: impl Into<PathBuf>,
        script: impl Into<PathBuf>,
        event_type: &str,
        mut context: Context,
    ) -> Self {
        context
            .args
            .insert("event_type".into(), Value::String(event_type.into()));
        RunRequest {
            kind: RunKind::EventHandler,
            ..Self::action(bot, bot_dir, script, context)
        }
    }
}
