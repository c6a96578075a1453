//! Requests and answers that come from the CRM, parsed by hand over `serde_json::Value` so a
//! bad one is refused with the field path and the cause (`metaData[1].value: expected a
//! string, got a number`), which the server returns as a 400.
//!
//! Wire compatibility: the field names and rules are those of the public
//! custom-crm-automation-template's `ChatApi.dto.ts` (Chat API requests) and
//! `ActionWebhook.dto.ts` (action results). Unknown fields are ignored, as the template's
//! class-validator DTOs do without `whitelist`; `null` counts as absent for optional fields.

mod action_response;
mod agent;
mod converse;
mod fields;

use std::fmt;

pub use action_response::parse_action_response;
pub use agent::{parse_agent_message, AgentEvent, AgentMessage};
pub use converse::{parse_converse_chat, ChatApiEvent, ConverseChat, MetaDatum, UserInput};

/// What is wrong with an inbound payload: where (`path`, empty for the whole body) and why.
/// The server answers 400 with `to_string()` as the message (413 for [`InboundErrorKind::TooLarge`]).
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub struct InboundError {
    pub kind: InboundErrorKind,
    pub path: String,
    pub cause: String,
}

/// Which of the server's error codes fits: malformed JSON, an oversized body, or a field.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum InboundErrorKind {
    Json,
    TooLarge,
    Field,
}

impl InboundError {
    pub(crate) fn new(path: impl Into<String>, cause: impl Into<String>) -> Self {
        InboundError {
            kind: InboundErrorKind::Field,
            path: path.into(),
            cause: cause.into(),
        }
    }

    pub(crate) fn json(e: serde_json::Error) -> Self {
        InboundError {
            kind: InboundErrorKind::Json,
            path: String::new(),
            cause: format!("invalid JSON: {e}"),
        }
    }

    pub(crate) fn too_large(limit: usize) -> Self {
        InboundError {
            kind: InboundErrorKind::TooLarge,
            path: String::new(),
            cause: format!("body is larger than {limit} bytes"),
        }
    }
}

impl fmt::Display for InboundError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        if self.path.is_empty() {
            f.write_str(&self.cause)
        } else {
            write!(f, "{}: {}", self.path, self.cause)
        }
    }
}
