//! `POST /converse/chat`: the CRM as the visitor's channel (template `ConverseWithBotRequestDto`).
//!
//! `{platformConversationId, eventType: startSession|message|endSession|metadata, text?,
//! cardIndex?, metaData?: [{key, value, sanitize?}]}`. Rules, from the DTO's comments:
//! `text`/`cardIndex` only with `message` (and one of them is needed there), `metaData` with
//! every event but `endSession`; `metadata` without `metaData` would do nothing, so it is refused.

use serde_json::Value;

use super::fields::{kind, parse_body, Obj};
use super::InboundError;
use crate::sensitive::Guarded;

#[derive(Debug, Clone, PartialEq)]
pub struct ConverseChat {
    pub platform_conversation_id: String,
    pub event: ChatApiEvent,
}

#[derive(Debug, Clone, PartialEq)]
pub enum ChatApiEvent {
    StartSession {
        metadata: Vec<MetaDatum>,
    },
    Message {
        input: UserInput,
        metadata: Vec<MetaDatum>,
    },
    EndSession,
    Metadata {
        metadata: Vec<MetaDatum>,
    },
}

/// What the visitor sent: text (or a button's text), or the index of a carousel card.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum UserInput {
    Text(String),
    CardIndex(u32),
}

/// A session parameter the CRM stores in the conversation; `sanitize` values stay redacted.
#[derive(Debug, Clone, PartialEq)]
pub struct MetaDatum {
    pub key: String,
    pub value: Guarded<String>,
}

const EVENTS: &[&str] = &["startSession", "message", "endSession", "metadata"];

pub fn parse_converse_chat(body: &[u8]) -> Result<ConverseChat, InboundError> {
    let v = parse_body(body)?;
    let o = Obj::new(&v, "")?;
    let platform_conversation_id = o.required_str("platformConversationId")?;
    let event_type = o.required_enum("eventType", EVENTS)?;
    if event_type != "message" {
        o.forbid("text", "only allowed when eventType is `message`")?;
        o.forbid("cardIndex", "only allowed when eventType is `message`")?;
    }
    if o.has("metadata") && !o.has("metaData") {
        return Err(o.err(
            "metadata",
            "unknown field; the session parameters field is spelled `metaData`",
        ));
    }
    let metadata = metadata(&o)?;
    let event = match event_type {
        "startSession" => ChatApiEvent::StartSession { metadata },
        "message" => ChatApiEvent::Message {
            input: input(&o)?,
            metadata,
        },
        "endSession" => {
            o.forbid("metaData", "not allowed when eventType is `endSession`")?;
            ChatApiEvent::EndSession
        }
        _ => {
            if metadata.is_empty() {
                return Err(o.err(
                    "metaData",
                    "a non-empty array is required when eventType is `metadata`",
                ));
            }
            ChatApiEvent::Metadata { metadata }
        }
    };
    Ok(ConverseChat {
        platform_conversation_id,
        event,
    })
}

fn input(o: &Obj<'_>) -> Result<UserInput, InboundError> {
    let text = o.optional_str("text")?;
    let card = match o.get("cardIndex") {
        None => None,
        Some(Value::Number(n)) => match n.as_u64().and_then(|i| u32::try_from(i).ok()) {
            Some(i) => Some(i),
            None => {
                return Err(o.err(
                    "cardIndex",
                    format!("expected a card index (0 or more), got {n}"),
                ))
            }
        },
        Some(other) => {
            return Err(o.err(
                "cardIndex",
                format!("expected a number, got {}", kind(other)),
            ))
        }
    };
    match (text, card) {
        (Some(t), None) => Ok(UserInput::Text(t)),
        (None, Some(i)) => Ok(UserInput::CardIndex(i)),
        (Some(_), Some(_)) => {
            Err(o.err("cardIndex", "give either `text` or `cardIndex`, not both"))
        }
        (None, None) => Err(o.err("text", "a message needs `text` or `cardIndex`")),
    }
}

fn metadata(o: &Obj<'_>) -> Result<Vec<MetaDatum>, InboundError> {
    let Some(items) = o.optional_array("metaData")? else {
        return Ok(Vec::new());
    };
    items
        .iter()
        .enumerate()
        .map(|(i, item)| {
            let m = Obj::new(item, &format!("{}[{i}]", o.path("metaData")))?;
            let key = m.required_str("key")?;
            // The DTO says `@IsString() value` (no IsNotEmpty): an empty string is a value.
            let value = match m.get("value") {
                Some(Value::String(s)) => s.clone(),
                None => return Err(m.err("value", "is required")),
                Some(other) => {
                    return Err(m.err("value", format!("expected a string, got {}", kind(other))))
                }
            };
            let sanitize = m.optional_bool("sanitize")?.unwrap_or(false);
            Ok(MetaDatum {
                key,
                value: Guarded::new(value, sanitize),
            })
        })
        .collect()
}
