//! The bot's brain behind one seam: [`Agent`].
//!
//! For each user message the server starts a *run*: it calls [`Agent::turn`] with the
//! thread, the message and the agent's saved state, and the agent writes its answer through
//! the [`Reply`] it is given: [`Reply::begin`] a message, stream [`Reply::delta`]s, then
//! [`Reply::complete`] it with the full content; or [`Reply::hand_off`] / [`Reply::close`] the
//! conversation. Writes reach the thread's event log in call order: deltas, hand-off and close
//! are committed before they return; `begin` and `complete` ride along with the next write (at
//! the latest the run's end), which saves commits without changing what clients see. The state
//! the agent returns is saved with the run's end (`run.completed`), atomically.
//!
//! Implementations: [`scripted::ScriptedAgent`] (workflows from `bot.toml`) and
//! [`llm::LlmAgent`], an OpenAI-compatible LLM agent (tokens → `delta`, tool calls → actions),
//! behind the same trait; actions are called from inside a turn (a workflow step, or an LLM
//! tool call).

pub mod llm;
pub mod scripted;

use async_trait::async_trait;
use natter_protocol::{ContentItem, MessageOptions, Role};
use serde_json::Value;
use tokio_util::sync::CancellationToken;

use crate::store::Thread;

/// One user turn handed to an agent.
pub struct Turn<'a> {
    pub thread: &'a Thread,
    /// The run this turn belongs to (action runs are logged under it).
    pub run_id: &'a str,
    /// The user's message text.
    pub input: &'a str,
    /// The host page's `context` sent with the message, if any.
    pub context: Option<&'a Value>,
    /// What the agent returned at the end of its previous turn (`null` at first).
    pub state: Value,
    /// Cancelled at shutdown; agents stop waiting (pacing, outbound calls) when it fires.
    pub cancel: CancellationToken,
}

#[derive(Debug, thiserror::Error)]
pub enum ReplyError {
    #[error("run cancelled")]
    Cancelled,
    #[error("store: {0}")]
    Store(#[from] crate::store::StoreError),
    #[error("protocol misuse: {0}")]
    Misuse(&'static str),
}

#[derive(Debug, thiserror::Error)]
pub enum AgentError {
    #[error(transparent)]
    Reply(#[from] ReplyError),
    #[error("{0}")]
    Failed(String),
    /// A failure with a stable code for `run.failed` (e.g. `llm_unavailable`); `message` is
    /// logged, never sent to clients. The agent has already said its fallback message.
    #[error("{code}: {message}")]
    Coded { code: &'static str, message: String },
}

/// Where an agent writes its answer (see the module docs for when each call commits).
#[async_trait]
pub trait Reply: Send {
    /// Starts a message (`message.started`, written with the first delta); returns its id.
    async fn begin(&mut self, role: Role) -> Result<String, ReplyError>;
    /// Appends `text` to content item `item_id` of the open message (`message.delta`).
    async fn delta(&mut self, item_id: &str, text: &str) -> Result<(), ReplyError> {
        self.deltas(item_id, &[text]).await
    }
    /// Several deltas at once (one commit, still one event each): for text that is ready now.
    async fn deltas(&mut self, item_id: &str, pieces: &[&str]) -> Result<(), ReplyError>;
    /// Stores the open message with its full content (`message.completed`, written with the
    /// next write of the run).
    async fn complete(
        &mut self,
        content: Vec<ContentItem>,
        options: MessageOptions,
    ) -> Result<(), ReplyError>;
    /// open → handed_off (`thread.handed_off`); `false` if the thread was not open.
    async fn hand_off(&mut self, reason: Option<String>) -> Result<bool, ReplyError>;
    /// → closed by the bot (`thread.closed`); `false` if already closed.
    async fn close(&mut self, reason: Option<String>) -> Result<bool, ReplyError>;
    /// Appends an informational event (`action.started`, `action.completed`) after
    /// everything written so far, committed before it returns.
    async fn event(&mut self, event: natter_protocol::EventPayload) -> Result<(), ReplyError>;
    /// Asks the bot's CRM to take the conversation (`escalate`, synchronous): `Some(accepted)`,
    /// or `None` when the bot has no CRM (the hand-off just happens).
    async fn escalate(&mut self) -> Result<Option<bool>, ReplyError> {
        Ok(None)
    }
    /// `isTeamOnline` for `team`: `None` when the bot has no CRM.
    async fn team_online(&mut self, _team: Option<String>) -> Result<Option<bool>, ReplyError> {
        Ok(None)
    }
}

#[async_trait]
pub trait Agent: Send + Sync + 'static {
    /// The first message of a new thread, stored with it (no streaming), if any.
    fn greeting(&self, thread: &Thread) -> Option<(Vec<ContentItem>, MessageOptions)>;
    /// Answers one turn; returns the state to keep for the next.
    async fn turn(&self, turn: Turn<'_>, out: &mut dyn Reply) -> Result<Value, AgentError>;
}
