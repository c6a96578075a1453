//! The Rust side of the Python helpers: validate each call's arguments (again — the Python
//! checks are for friendlier messages, these are the ones that count), then call the
//! [`Host`].
//!
//! Invariants: the conversation is always the run's own (`RunScope`), never taken from the
//! call; `hand_off_conversation` is never forwarded in a test run; `phone_destination`
//! reaches the host only on the "phone" channel.

use crate::host::{
    ClassifyRequest, ConversationEvent, ConversationRef, HandOffOutcome, HandOffRequest, Host,
};
use crate::Error;
use rand::seq::SliceRandom;
use serde_json::{json, Map, Value};

/// Who a run's helper calls act for.
#[derive(Debug, Clone)]
pub struct RunScope {
    pub bot: String,
    pub conversation: Option<ConversationRef>,
    pub test_run: bool,
}

/// Side effects worth reporting in the outcome.
#[derive(Debug, Default)]
pub struct Effects {
    pub handed_off: bool,
    /// Notes for the run log (things the code should know but that are not errors).
    pub notes: Vec<String>,
}

const MAX_KEY: usize = 128;
const MAX_VALUE_BYTES: usize = 64 << 10;
const MAX_TAG: usize = 100;
const MAX_EVENT_NAME: usize = 200;
const MAX_EVENT_BYTES: usize = 16 << 10;
const MAX_REASON: usize = 500;
const MAX_PROMPT: usize = 20_000;
const MAX_INPUT: usize = 50_000;
const MAX_OPTIONS: usize = 50;
const MAX_CELLS: usize = 500;
/// The largest attachment `read_attachment` returns (bytes; sent base64 over the channel).
pub const MAX_ATTACHMENT_READ: usize = 10 << 20;

fn invalid(msg: impl Into<String>) -> Error {
    Error::InvalidArgument(msg.into())
}

fn arg_str<'a>(args: &'a Map<String, Value>, name: &str) -> Result<&'a str, Error> {
    args.get(name)
        .and_then(Value::as_str)
        .ok_or_else(|| invalid(format!("{name} must be a string")))
}

fn opt_str<'a>(args: &'a Map<String, Value>, name: &str) -> Result<Option<&'a str>, Error> {
    match args.get(name) {
        None | Some(Value::Null) => Ok(None),
        Some(Value::String(s)) => Ok(Some(s)),
        Some(_) => Err(invalid(format!("{name} must be a string or None"))),
    }
}

fn str_list(args: &Map<String, Value>, name: &str) -> Result<Vec<String>, Error> {
    let list = args
        .get(name)
        .and_then(Value::as_array)
        .ok_or_else(|| invalid(format!("{name} must be a list of strings")))?;
    list.iter()
        .map(|v| {
            v.as_str()
                .map(String::from)
                .ok_or_else(|| invalid(format!("{name} must be a list of strings")))
        })
        .collect()
}

/// A short, printable, non-empty name (metadata key, tag, test name, ...).
fn check_name(what: &str, s: &str, max: usize) -> Result<(), Error> {
    if s.trim().is_empty() {
        return Err(invalid(format!("{what} must not be empty")));
    }
    if s.chars().count() > max {
        return Err(invalid(format!("{what} is longer than {max} characters")));
    }
    if s.chars().any(char::is_control) {
        return Err(invalid(format!(
            "{what} must not contain control characters"
        )));
    }
    Ok(())
}

/// E.164: '+', a non-zero digit, then at most 14 more digits.
pub fn is_e164(s: &str) -> bool {
    let b = s.as_bytes();
    b.len() >= 3
        && b.len() <= 16
        && b[0] == b'+'
        && (b'1'..=b'9').contains(&b[1])
        && b[2..].iter().all(u8::is_ascii_digit)
}

fn conv(scope: &RunScope) -> Result<&ConversationRef, Error> {
    scope.conversation.as_ref().ok_or(Error::NoConversation)
}

/// Run one helper call; the value is what the Python helper returns.
pub async fn dispatch(
    host: &dyn Host,
    scope: &RunScope,
    effects: &mut Effects,
    func: &str,
    args: &Map<String, Value>,
) -> Result<Value, Error> {
    match func {
        "metadata.get" => {
            let key = arg_str(args, "key")?;
            check_name("key", key, MAX_KEY)?;
            Ok(host
                .get_metadata(conv(scope)?, key)
                .await?
                .unwrap_or(Value::Null))
        }
        "metadata.set" => {
            let key = arg_str(args, "key")?;
            check_name("key", key, MAX_KEY)?;
            let value = args.get("value").cloned().unwrap_or(Value::Null);
            if value.to_string().len() > MAX_VALUE_BYTES {
                return Err(invalid(format!(
                    "value is larger than {MAX_VALUE_BYTES} bytes as JSON"
                )));
            }
            host.set_metadata(conv(scope)?, key, value).await?;
            Ok(json!({"success": true, "message": format!("metadata '{key}' set")}))
        }
        "metadata.delete" => {
            let key = arg_str(args, "key")?;
            check_name("key", key, MAX_KEY)?;
            let existed = host.delete_metadata(conv(scope)?, key).await?;
            let message = if existed {
                format!("metadata '{key}' deleted")
            } else {
                format!("metadata '{key}' was not set")
            };
            Ok(json!({"success": true, "message": message}))
        }
        "tag.add" => {
            let tag = arg_str(args, "tag")?.trim();
            check_name("tag", tag, MAX_TAG)?;
            let added = host.add_tag(conv(scope)?, tag).await?;
            let message = if added.already_present {
                format!("tag '{tag}' was already set")
            } else {
                format!("tag '{tag}' added")
            };
            Ok(json!({"success": true, "message": message, "tagId": added.tag_id}))
        }
        "event.add" => {
            let event = match args.get("event") {
                Some(Value::String(s)) => ConversationEvent {
                    name: s.clone(),
                    data: None,
                },
                Some(Value::Object(o)) => {
                    let name = o
                        .get("name")
                        .or_else(|| o.get("type"))
                        .and_then(Value::as_str);
                    let name = name
                        .ok_or_else(|| invalid("an event dict needs a \"name\" string"))?
                        .to_string();
                    let mut rest = o.clone();
                    rest.remove("name");
                    ConversationEvent {
                        name,
                        data: Some(Value::Object(rest)),
                    }
                }
                _ => return Err(invalid("event must be a string or a dict")),
            };
            check_name("event name", &event.name, MAX_EVENT_NAME)?;
            if event
                .data
                .as_ref()
                .map(|d| d.to_string().len())
                .unwrap_or(0)
                > MAX_EVENT_BYTES
            {
                return Err(invalid(format!(
                    "event is larger than {MAX_EVENT_BYTES} bytes as JSON"
                )));
            }
            let id = host.add_event(conv(scope)?, event).await?;
            Ok(json!({"success": true, "message": "event recorded", "eventId": id}))
        }
        "handoff" => hand_off(host, scope, effects, args).await,
        "llm.binary" | "llm.category" => {
            let prompt = arg_str(args, "prompt")?;
            let input = arg_str(args, "input")?;
            if prompt.trim().is_empty() || prompt.chars().count() > MAX_PROMPT {
                return Err(invalid(format!(
                    "prompt must be 1 to {MAX_PROMPT} characters"
                )));
            }
            if input.chars().count() > MAX_INPUT {
                return Err(invalid(format!(
                    "input is longer than {MAX_INPUT} characters"
                )));
            }
            let binary = func == "llm.binary";
            let options = if binary {
                vec!["true".to_string(), "false".to_string()]
            } else {
                str_list(args, "options")?
            };
            if options.is_empty() || options.len() > MAX_OPTIONS {
                return Err(invalid(format!(
                    "options must hold 1 to {MAX_OPTIONS} strings"
                )));
            }
            for o in &options {
                check_name("an option", o, 200)?;
            }
            let req = ClassifyRequest {
                prompt: prompt.into(),
                input: input.into(),
                options: options.clone(),
            };
            let Some(answer) = host.llm_classify(&scope.bot, req).await? else {
                return Ok(json!({"configured": false}));
            };
            // Tolerate case and surrounding punctuation; anything else is the LLM failing.
            let norm = |s: &str| {
                s.trim()
                    .trim_matches(|c: char| !c.is_alphanumeric())
                    .to_lowercase()
            };
            let mut answer = norm(&answer);
            if binary {
                // Models asked a yes/no question often answer in those words.
                answer = match answer.as_str() {
                    "yes" => "true".into(),
                    "no" => "false".into(),
                    _ => answer,
                };
            }
            let picked = options.iter().find(|o| norm(o) == answer);
            match picked {
                Some(p) if binary => Ok(json!({"configured": true, "value": p == "true"})),
                Some(p) => Ok(json!({"configured": true, "value": p})),
                None => Err(Error::Host(format!(
                    "the LLM answered {answer:?}, which is not one of the options"
                ))),
            }
        }
        "ab.variant" => {
            let test = arg_str(args, "test_name")?;
            check_name("test_name", test, 100)?;
            let variants = str_list(args, "variants")?;
            if variants.is_empty() || variants.len() > 100 {
                return Err(invalid("possible_variants must hold 1 to 100 strings"));
            }
            for v in &variants {
                check_name("a variant", v, 100)?;
            }
            let candidate = variants
                .choose(&mut rand::thread_rng())
                .cloned()
                .unwrap_or_default();
            match scope.conversation.as_ref() {
                Some(c) => Ok(Value::String(
                    host.ab_test_variant(c, test, &candidate, &variants).await?,
                )),
                // A test run without a conversation: nothing to stick to.
                None => Ok(Value::String(candidate)),
            }
        }
        "attachment.read" => {
            let id = arg_str(args, "id")?;
            if id.is_empty()
                || id.len() > 64
                || id.chars().any(|c| !c.is_ascii_alphanumeric() && c != '_')
            {
                return Err(invalid("attachment must be an attachment dict or its id"));
            }
            let bytes = host
                .read_attachment(conv(scope)?, id, MAX_ATTACHMENT_READ)
                .await?;
            use base64::Engine as _;
            Ok(Value::String(
                base64::engine::general_purpose::STANDARD.encode(bytes),
            ))
        }
        "sheets.append" => {
            let sheet_id = arg_str(args, "sheet_id")?;
            let ok_id = !sheet_id.is_empty()
                && sheet_id.len() <= 200
                && sheet_id
                    .bytes()
                    .all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_');
            if !ok_id {
                return Err(invalid(
                    "sheet_id must be a spreadsheet id (letters, digits, '-' and '_')",
                ));
            }
            // The Python side sends a dict's values as a list, in the dict's order.
            let cells: Vec<Value> = match args.get("data") {
                Some(Value::Array(a)) => a.clone(),
                _ => return Err(invalid("data must be a dict or a list")),
            };
            if cells.is_empty() || cells.len() > MAX_CELLS {
                return Err(invalid(format!("data must hold 1 to {MAX_CELLS} values")));
            }
            if cells.iter().any(|c| c.is_object() || c.is_array()) {
                return Err(invalid(
                    "row values must be strings, numbers, booleans or None",
                ));
            }
            host.sheets_append(&scope.bot, sheet_id, cells).await
        }
        other => Err(invalid(format!("unknown helper {other:?}"))),
    }
}

async fn hand_off(
    host: &dyn Host,
    scope: &RunScope,
    effects: &mut Effects,
    args: &Map<String, Value>,
) -> Result<Value, Error> {
    let reason = opt_str(args, "reason")?;
    let phone = opt_str(args, "phone_destination")?;
    if let Some(r) = reason {
        if r.chars().count() > MAX_REASON {
            return Err(invalid(format!(
                "reason is longer than {MAX_REASON} characters"
            )));
        }
    }
    // The seed: outside the phone channel phone_destination is silently ignored, so the same
    // code works on every channel. A malformed number there is only noted in the run log.
    let on_phone = scope
        .conversation
        .as_ref()
        .is_some_and(|c| c.channel == "phone");
    if let Some(p) = phone {
        if !is_e164(p) {
            if on_phone {
                return Err(invalid(format!(
                    "phone_destination {p:?} is not in E.164 format (e.g. +15551234567)"
                )));
            }
            effects.notes.push(format!(
                "note: phone_destination {p:?} is not E.164; ignored here (not the phone channel), refused on a call"
            ));
        }
    }
    if scope.test_run {
        return Ok(
            json!({"success": true, "message": "skipped: test run, the conversation was not handed off"}),
        );
    }
    let c = conv(scope)?;
    let request = HandOffRequest {
        reason: reason.map(String::from),
        phone_destination: if on_phone {
            phone.map(String::from)
        } else {
            None
        },
    };
    let outcome = host.hand_off(c, request).await?;
    if let HandOffOutcome::Refused(message) = outcome {
        return Ok(json!({"success": false, "message": message}));
    }
    effects.handed_off |= outcome != HandOffOutcome::AlreadyHandedOff;
    let message = match outcome {
        HandOffOutcome::HandedOff => "conversation handed off to a human agent".to_string(),
        HandOffOutcome::AlreadyHandedOff => "conversation was already handed off".to_string(),
        HandOffOutcome::CallTransferred => {
            format!("call transferred to {}", phone.unwrap_or_default())
        }
        HandOffOutcome::Refused(_) => unreachable!("returned above"),
    };
    Ok(json!({"success": true, "message": message}))
}

#[cfg(test)]
mod tests {
    use super::is_e164;

    #[test]
    fn e164() {
        assert!(is_e164("+15551234567"));
        assert!(is_e164("+302101234567"));
        assert!(!is_e164("15551234567"));
        assert!(!is_e164("+05551234567"));
        assert!(!is_e164("+1555123456789012"));
        assert!(!is_e164("+1 555 123"));
        assert!(!is_e164("+"));
    }
}
