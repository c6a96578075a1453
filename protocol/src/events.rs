//! The per-thread event stream (`GET /v1/threads/{id}/events`).
//!
//! Every event of a thread has a `seq`: 1, 2, 3, … with no gap, in the thread's log. A reply's
//! `message.started` and deltas are streamed before they are committed; a seq streamed that
//! way and lost in a crash is recorded as `stream.lost` (docs/protocol.md §5.4). The SSE `id:` line carries the seq, the `event:` line the
//! type, and `data:` one JSON [`EventEnvelope`] (`{"seq", "threadId", "type", …payload}`).
//! A client resumes with `Last-Event-ID: <seq>` or `?after=<seq>` and receives exactly the
//! events after it, in order.

use serde::{Deserialize, Serialize};
use serde_json::Value;

use crate::types::{ContentItem, ErrorDetail, Message, Role};

/// What one `data:` line of the stream holds.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct EventEnvelope {
    pub seq: u64,
    pub thread_id: String,
    /// RFC 3339 UTC time the event was committed.
    pub created_at: String,
    #[serde(flatten)]
    pub payload: EventPayload,
}

/// Event payloads, tagged by `type` (also the SSE `event:` name).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(tag = "type", rename_all_fields = "camelCase")]
pub enum EventPayload {
    /// A user's message was stored (the send was acknowledged after this commit).
    #[serde(rename = "message.created")]
    MessageCreated { message: Message },
    /// The bot started answering `messageId` (the user's message).
    #[serde(rename = "run.started")]
    RunStarted { run_id: String, message_id: String },
    /// A reply message begins; deltas with this `messageId` follow.
    #[serde(rename = "message.started")]
    MessageStarted {
        message_id: String,
        run_id: Option<String>,
        role: Role,
    },
    /// A piece of a reply's text. Concatenating the `text` of every delta of one content item
    /// id gives that item's text in `message.completed`. (`threadId` is the envelope's.)
    #[serde(rename = "message.delta")]
    MessageDelta {
        message_id: String,
        run_id: Option<String>,
        delta: Delta,
    },
    /// The whole reply message, as stored (history returns the same object).
    #[serde(rename = "message.completed")]
    MessageCompleted {
        run_id: Option<String>,
        message: Message,
    },
    #[serde(rename = "run.completed")]
    RunCompleted { run_id: String },
    /// The run ended without finishing (`error.code`: `agent_error`, `interrupted`, …).
    #[serde(rename = "run.failed")]
    RunFailed { run_id: String, error: ErrorDetail },
    /// Status open → handed_off (once per thread).
    #[serde(rename = "thread.handed_off")]
    ThreadHandedOff { reason: Option<String> },
    /// Status handed_off → open: the human side gave the conversation back (the CRM's
    /// `escalationFailed` after a hand-off); the bot replies again. Clients may ignore it.
    #[serde(rename = "thread.reopened")]
    ThreadReopened { reason: Option<String> },
    /// Status → closed (once per thread). `by`: `visitor`, `bot`, `agent`, `automation`.
    #[serde(rename = "thread.closed")]
    ThreadClosed { by: String, reason: Option<String> },
    /// A human agent joined (handoff).
    #[serde(rename = "agent.joined")]
    AgentJoined {
        agent: Option<String>,
        agent_avatar: Option<String>,
    },
    #[serde(rename = "agent.typing")]
    AgentTyping { typing: bool },
    /// A human agent's message (stored like any message, role `agent`).
    #[serde(rename = "agent.message")]
    AgentMessage { message: Message },
    #[serde(rename = "agent.left")]
    AgentLeft { agent: Option<String> },
    /// Waiting for a human agent after a hand-off: the CRM's queue position and estimated
    /// wait, as the CRM words them (either may be absent).
    #[serde(rename = "agent.queue")]
    AgentQueue {
        queue_position: Option<String>,
        waiting_time: Option<String>,
    },
    /// A conversation-timeline entry (e.g. `add_conversation_event`); informational.
    #[serde(rename = "thread.event")]
    ThreadEvent { name: String, data: Value },
    /// The bot called an action during run `runId`. Only names and ids: arguments and results
    /// can hold personal data or keys and stay in the server's action-run log.
    #[serde(rename = "action.started")]
    ActionStarted {
        run_id: Option<String>,
        action: String,
        action_run_id: String,
    },
    /// The action ended. `status`: `ok`, `error` (it answered `{"error": …}`), or a runtime
    /// failure (`timeout`, `exception`, `crashed`, `refused`, …). Informational.
    #[serde(rename = "action.completed")]
    ActionCompleted {
        run_id: Option<String>,
        action: String,
        action_run_id: String,
        status: String,
        duration_ms: u64,
    },
    /// Holds the place of an event run `runId` had streamed before it was durable (a reply's
    /// `message.started` or `message.delta`) when the server crashed: recorded at the next
    /// start, before that run's `run.failed`. Clients ignore it.
    #[serde(rename = "stream.lost")]
    StreamLost { run_id: String },
}

impl EventPayload {
    /// The `type` string, also the SSE `event:` field.
    pub fn event_type(&self) -> &'static str {
        match self {
            EventPayload::MessageCreated { .. } => "message.created",
            EventPayload::RunStarted { .. } => "run.started",
            EventPayload::MessageStarted { .. } => "message.started",
            EventPayload::MessageDelta { .. } => "message.delta",
            EventPayload::MessageCompleted { .. } => "message.completed",
            EventPayload::RunCompleted { .. } => "run.completed",
            EventPayload::RunFailed { .. } => "run.failed",
            EventPayload::ThreadHandedOff { .. } => "thread.handed_off",
            EventPayload::ThreadReopened { .. } => "thread.reopened",
            EventPayload::ThreadClosed { .. } => "thread.closed",
            EventPayload::AgentJoined { .. } => "agent.joined",
            EventPayload::AgentTyping { .. } => "agent.typing",
            EventPayload::AgentMessage { .. } => "agent.message",
            EventPayload::AgentLeft { .. } => "agent.left",
            EventPayload::AgentQueue { .. } => "agent.queue",
            EventPayload::ThreadEvent { .. } => "thread.event",
            EventPayload::ActionStarted { .. } => "action.started",
            EventPayload::ActionCompleted { .. } => "action.completed",
            EventPayload::StreamLost { .. } => "stream.lost",
        }
    }
}

/// The `delta` of a `message.delta` event (the shape the widget's `pre:stream:delta` exposes).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Delta {
    pub role: Role,
    /// Usually one `text` item holding the next chunk of that item's text.
    pub content: Vec<ContentItem>,
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn envelope_is_flat_and_round_trips() {
        let e = EventEnvelope {
            seq: 7,
            thread_id: "t".into(),
            created_at: "2026-01-01T00:00:00Z".into(),
            payload: EventPayload::MessageDelta {
                message_id: "m".into(),
                run_id: Some("r".into()),
                delta: Delta {
                    role: Role::Assistant,
                    content: vec![ContentItem::text("c0", "He")],
                },
            },
        };
        let s = serde_json::to_string(&e).unwrap();
        assert!(s.contains(r#""type":"message.delta""#), "{s}");
        assert!(s.contains(r#""messageId":"m""#), "{s}");
        assert!(s.contains(r#""seq":7"#), "{s}");
        assert_eq!(s.matches("threadId").count(), 1, "no duplicate keys: {s}");
        assert_eq!(serde_json::from_str::<EventEnvelope>(&s).unwrap(), e);
        assert_eq!(e.payload.event_type(), "message.delta");
    }
}
