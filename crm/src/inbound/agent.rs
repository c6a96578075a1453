//! `POST /agent/converse/send-message-to-widget`: the CRM's agent side of a handed-off widget
//! conversation (template `MessageToWidgetRequestDto`).
//!
//! `{eventType: message|escalationSuccess|escalationFailed|escalationQueueUpdate|agentDisconnect,
//! platformConversationId, text?, attachments?, agent?, agentAvatar?, queuePosition?,
//! waitingTime?}`; `text` is required (non-empty) for `message` unless it sends `attachments`
//! (Natter's extension: ids of files uploaded to the conversation before), the other fields are
//! optional and only read for the event the DTO documents them on.

use super::fields::{parse_body, Obj};
use super::InboundError;

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AgentMessage {
    pub platform_conversation_id: String,
    pub event: AgentEvent,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum AgentEvent {
    /// An agent's text for the visitor, and the files sent with it (attachment ids; `text`
    /// may then be empty).
    Message {
        text: String,
        attachments: Vec<String>,
    },
    /// An agent took the conversation.
    EscalationSuccess {
        agent: Option<String>,
        agent_avatar: Option<String>,
    },
    /// No agent will take it; the bot tells the visitor.
    EscalationFailed,
    /// Still waiting: position in the queue and estimated wait, as the CRM words them.
    EscalationQueueUpdate {
        queue_position: Option<String>,
        waiting_time: Option<String>,
    },
    /// The agent left.
    AgentDisconnect,
}

const EVENTS: &[&str] = &[
    "message",
    "escalationSuccess",
    "escalationFailed",
    "escalationQueueUpdate",
    "agentDisconnect",
];

pub fn parse_agent_message(body: &[u8]) -> Result<AgentMessage, InboundError> {
    let v = parse_body(body)?;
    let o = Obj::new(&v, "")?;
    let event_type = o.required_enum("eventType", EVENTS)?;
    let platform_conversation_id = o.required_str("platformConversationId")?;
    let event = match event_type {
        "message" => {
            let mut attachments = Vec::new();
            for v in o.optional_array("attachments")?.into_iter().flatten() {
                match v.as_str() {
                    Some(id) if !id.is_empty() => attachments.push(id.to_string()),
                    _ => return Err(o.err("attachments", "expected a list of attachment ids")),
                }
            }
            let text = if attachments.is_empty() {
                o.required_str("text")?
            } else {
                o.optional_str("text")?.unwrap_or_default()
            };
            AgentEvent::Message { text, attachments }
        }
        "escalationSuccess" => AgentEvent::EscalationSuccess {
            agent: o.optional_str("agent")?,
            // `@IsOptional()` only in the DTO: an empty avatar means none.
            agent_avatar: match o.get("agentAvatar") {
                Some(serde_json::Value::String(s)) if s.is_empty() => None,
                _ => o.optional_str("agentAvatar")?,
            },
        },
        "escalationFailed" => AgentEvent::EscalationFailed,
        "escalationQueueUpdate" => AgentEvent::EscalationQueueUpdate {
            queue_position: o.optional_str_or_number("queuePosition")?,
            waiting_time: o.optional_str_or_number("waitingTime")?,
        },
        _ => AgentEvent::AgentDisconnect,
    };
    Ok(AgentMessage {
        platform_conversation_id,
        event,
    })
}
