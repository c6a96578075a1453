//! The durable outbox: work that must happen because of a commit, queued by that commit.
//!
//! A conversation transition (closed, handed off), a visitor message in a handed-off
//! conversation, a bot reply on the CRM channel: each enqueues its jobs — one per event handler
//! of the event, one per CRM webhook — in the SAME store transaction as the change itself
//! (the store asks a [`Planner`] which jobs a change needs). So a crash can lose neither the
//! change nor its jobs, and never runs a job whose cause was rolled back.
//!
//! [`worker::OutboxWorker`] claims due jobs with a lease, runs them with bounded concurrency,
//! and records the result; a job whose worker died (kill -9) runs again when its lease expires
//! or at the next start: delivery is at least once, and each job keeps its id (the
//! `webhook-id` of a CRM webhook) so receivers can drop duplicates.
//!
//! Invariants:
//! - Jobs of one lane (a conversation's CRM webhooks) run strictly in queue order: a job is
//!   claimable only when no earlier job of its lane is still pending, retrying or running.
//! - A failed webhook attempt is retried on natter-crm's schedule (exponential backoff with
//!   jitter and a cap) until its budget ends, then marked `failed` with the cause.
//! - An event handler runs once per job; a handler that raises or times out is recorded as
//!   such (the seed: failed executions are logged), only a crash makes it run again.

pub mod worker;

use natter_protocol::{EventPayload, Message, ThreadStatus};

pub const EVENT_CLOSED: &str = "conversation_closed";
pub const EVENT_HANDED_OFF: &str = "conversation_handed_off";
/// Event types of jobs that are not conversation events (CRM traffic).
pub const EVENT_VISITOR_MESSAGE: &str = "visitor_message";
pub const EVENT_BOT_MESSAGE: &str = "bot_message";

#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum JobKind {
    /// Run an event handler (`target` = handler name).
    Handler,
    /// Deliver a CRM chat webhook (`body` = the signed bytes).
    Webhook,
}

impl JobKind {
    pub fn as_str(self) -> &'static str {
        match self {
            JobKind::Handler => "handler",
            JobKind::Webhook => "webhook",
        }
    }
    pub fn parse(s: &str) -> Option<Self> {
        match s {
            "handler" => Some(JobKind::Handler),
            "webhook" => Some(JobKind::Webhook),
            _ => None,
        }
    }
}

/// A job to enqueue with a change.
#[derive(Debug, Clone, PartialEq)]
pub struct NewJob {
    /// Stable id: the `webhook-id` of a webhook.
    pub id: String,
    pub kind: JobKind,
    /// Ordering key; `None` = independent.
    pub lane: Option<String>,
    pub target: String,
    pub event_type: String,
    /// The webhook body (JSON text, signed byte for byte); empty for handlers.
    pub body: String,
}

/// A claimed job (leased to this worker).
#[derive(Debug, Clone, PartialEq, serde::Serialize, serde::Deserialize)]
pub struct ClaimedJob {
    pub id: String,
    pub thread_id: String,
    pub bot: String,
    pub kind: JobKind,
    pub target: String,
    pub event_type: String,
    pub body: String,
    /// Attempts including this one (1 = first).
    pub attempt: u32,
}

/// A job as stored (for tests and the admin API).
#[derive(Debug, Clone, PartialEq, serde::Serialize, serde::Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct JobRow {
    pub id: String,
    pub kind: JobKind,
    pub target: String,
    pub event_type: String,
    pub status: String,
    pub attempts: u32,
    pub last_error: Option<String>,
    pub body: String,
}

/// How a job attempt ended.
#[derive(Debug, Clone, PartialEq)]
pub enum JobResult {
    Done,
    /// Due again at `due_ms` (unix ms).
    Retry {
        due_ms: i64,
        error: String,
    },
    Failed {
        error: String,
    },
}

/// One event handler run, as stored.
#[derive(Debug, Clone, PartialEq, serde::Serialize)]
#[serde(rename_all = "camelCase")]
pub struct HandlerRun {
    pub id: String,
    pub job_id: Option<String>,
    pub bot: String,
    pub handler: String,
    pub event_type: String,
    pub thread_id: String,
    pub test: bool,
    pub status: String,
    pub result: Option<serde_json::Value>,
    pub stdout: String,
    pub stderr: String,
    pub traceback: Option<String>,
    pub duration_ms: u64,
    pub started_at: String,
}

/// What the store tells the planner about the conversation a change touches.
#[derive(Debug, Clone, PartialEq)]
pub struct PlanThread<'a> {
    pub id: &'a str,
    pub bot: &'a str,
    /// The CRM's `platformConversationId` when the CRM is this conversation's channel.
    pub crm_channel: Option<&'a str>,
}

/// Decides which jobs a change needs. Called by the store's writer inside the transaction:
/// must be fast and must not touch the store.
pub trait Planner: Send + Sync + 'static {
    /// A status transition `from → to` that is being committed.
    fn on_transition(
        &self,
        thread: &PlanThread<'_>,
        from: ThreadStatus,
        to: ThreadStatus,
        event: &EventPayload,
    ) -> Vec<NewJob>;
    /// A visitor message stored while the conversation is handed off.
    fn on_visitor_message(&self, thread: &PlanThread<'_>, message: &Message) -> Vec<NewJob>;
    /// A bot message stored in a conversation whose channel is the CRM.
    fn on_bot_message(&self, thread: &PlanThread<'_>, message: &Message) -> Vec<NewJob>;
    /// Called after a commit that inserted jobs (wakes the worker).
    fn enqueued(&self) {}
}

/// Enqueues nothing (a store opened without an outbox, e.g. by benchmarks).
pub struct NoJobs;

impl Planner for NoJobs {
    fn on_transition(
        &self,
        _: &PlanThread<'_>,
        _: ThreadStatus,
        _: ThreadStatus,
        _: &EventPayload,
    ) -> Vec<NewJob> {
        Vec::new()
    }
    fn on_visitor_message(&self, _: &PlanThread<'_>, _: &Message) -> Vec<NewJob> {
        Vec::new()
    }
    fn on_bot_message(&self, _: &PlanThread<'_>, _: &Message) -> Vec<NewJob> {
        Vec::new()
    }
}

/// CRM-channel conversations get thread ids with this prefix, so the writer can tell them
/// apart without a read on every bot message.
pub const CRM_THREAD_PREFIX: &str = "crm_";

pub fn now_ms() -> i64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.as_millis() as i64)
        .unwrap_or(0)
}
