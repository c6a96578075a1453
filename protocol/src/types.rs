//! Request and response bodies and the message model of protocol v1.
//!
//! Naming: envelope fields (request/response bodies, event payloads) are camelCase
//! (`threadId`, `clientMessageId`); the message model keeps the snake_case names the
//! widget events expose (`response_type`, `message_options`, `created_at`, `image_url`).
//! Request bodies reject unknown fields so typos fail loudly (400 `invalid_request`).

use serde::{Deserialize, Serialize};
use serde_json::Value;

/// `POST /v1/bots/{bot}/threads` body (optional; `{}` or empty body are fine).
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct CreateThreadRequest {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub subject: Option<String>,
    /// Free-form metadata stored on the conversation (object).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub metadata: Option<serde_json::Map<String, Value>>,
    /// What the conversation comes through: `web` (the Natter widget), `ibm_web_chat`,
    /// `ibm_orchestrate` (the IBM compatibility loaders) or `api` (the default).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub channel: Option<String>,
    /// The visitor's page (an object; the widget sends URL, title, referrer, user agent,
    /// language, time zone, screen size and the host's `context`). Replaced later with
    /// `PUT /v1/threads/{id}/browser-session`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub browser_session: Option<Value>,
    /// `false`: the thread starts without the bot's greeting (a client that opens with a
    /// message of its own, such as IBM's welcome request, shows only the answer to it).
    /// Default `true`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub greeting: Option<bool>,
}

/// `201` answer to thread creation.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct CreateThreadResponse {
    pub thread_id: String,
    pub public_id: String,
    /// What visitors may upload to this bot's threads; absent when the bot takes no files.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub attachments: Option<AttachmentsInfo>,
}

/// A bot's upload limits as the widget needs them (`attachments` of thread creation and
/// history): present only when the bot accepts files.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct AttachmentsInfo {
    /// The largest file, in bytes.
    pub max_file_bytes: u64,
    /// The types accepted, as found in the bytes (`image/png`, `application/pdf`, …).
    pub types: Vec<String>,
}

/// `POST /v1/threads/{id}/messages` body.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct SendMessageRequest {
    /// Client-chosen id (1–128 chars); a retried send with the same id returns the first result.
    pub client_message_id: String,
    pub content: String,
    /// Optional host-page context (object), stored with the message and visible to the bot.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub context: Option<Value>,
    /// Ids of files uploaded to this thread before (`POST …/attachments`), sent with the text
    /// as `file` items; with attachments, `content` may be empty.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub attachments: Vec<String>,
}

/// A file stored in a thread: the answer to an upload and the `file` of a `file` item.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct FileRef {
    /// `att_…`
    pub id: String,
    /// The name the sender gave (no path, no control characters).
    pub name: String,
    /// The type the server found in the bytes (never the client's claim).
    #[serde(rename = "type")]
    pub mime: String,
    /// Bytes.
    pub size: u64,
    /// Where to download it (a path under `/v1`; the same authorization as the thread).
    pub url: String,
}

/// `POST /v1/threads/{id}/attachments` answer (201, or 200 for a retried upload).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct UploadResponse {
    pub attachment: FileRef,
}

/// `202` answer to a send.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct SendMessageResponse {
    pub message_id: String,
    /// The run that answers this message; `null` when the bot does not answer
    /// (the thread is handed off to a human).
    pub run_id: Option<String>,
}

/// `GET /v1/threads/{id}/messages` answer.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct HistoryResponse {
    pub messages: Vec<Message>,
    /// Conversation status: `open`, `handed_off`, `closed`.
    pub status: ThreadStatus,
    /// Seq of the last event in the thread's log; open the stream with `?after=` this.
    #[serde(rename = "lastSeq")]
    pub last_seq: u64,
    /// The latest feedback choice on each message that has feedback (so a reloaded widget
    /// shows the thumbs as the visitor left them).
    #[serde(default)]
    pub feedback: Vec<FeedbackChoice>,
    /// As in [`CreateThreadResponse::attachments`]: a reloaded widget learns it here.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub attachments: Option<AttachmentsInfo>,
}

/// One message's latest feedback (`HistoryResponse::feedback`).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct FeedbackChoice {
    pub message_id: String,
    pub is_positive: bool,
}

/// `POST /v1/threads/{id}/feedback` body.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct FeedbackRequest {
    pub message_id: String,
    pub is_positive: bool,
    pub interaction_type: InteractionType,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub text: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub categories: Option<Vec<String>>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum InteractionType {
    Button,
    Details,
}

/// `201` answer to feedback.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct FeedbackResponse {
    pub feedback_id: String,
}

/// `POST /v1/threads/{id}/close` body (optional).
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct CloseRequest {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub reason: Option<String>,
}

/// `200` answer to close.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct CloseResponse {
    pub status: ThreadStatus,
    /// `false` when the thread was already closed (closing twice is a no-op).
    pub changed: bool,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum ThreadStatus {
    Open,
    HandedOff,
    Closed,
}

impl ThreadStatus {
    pub fn as_str(self) -> &'static str {
        match self {
            ThreadStatus::Open => "open",
            ThreadStatus::HandedOff => "handed_off",
            ThreadStatus::Closed => "closed",
        }
    }
    pub fn parse(s: &str) -> Option<Self> {
        match s {
            "open" => Some(Self::Open),
            "handed_off" => Some(Self::HandedOff),
            "closed" => Some(Self::Closed),
            _ => None,
        }
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Role {
    User,
    Assistant,
    Agent,
}

impl Role {
    pub fn as_str(self) -> &'static str {
        match self {
            Role::User => "user",
            Role::Assistant => "assistant",
            Role::Agent => "agent",
        }
    }
    pub fn parse(s: &str) -> Option<Self> {
        match s {
            "user" => Some(Self::User),
            "assistant" => Some(Self::Assistant),
            "agent" => Some(Self::Agent),
            _ => None,
        }
    }
}

/// One message of a thread.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Message {
    pub id: String,
    pub role: Role,
    pub content: Vec<ContentItem>,
    #[serde(default)]
    pub message_options: MessageOptions,
    /// RFC 3339 UTC timestamp, e.g. `2026-11-21T18:30:00.123Z`.
    pub created_at: String,
    /// The run that produced an assistant message, or that answers a user message.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub run_id: Option<String>,
    /// Echo of the sender's `clientMessageId` on user messages.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub client_message_id: Option<String>,
}

/// Response types the server emits today. Clients must treat any other value like
/// `user_defined` (hand it to the host), never fail on it.
pub mod response_type {
    pub const TEXT: &str = "text";
    pub const OPTION: &str = "option";
    pub const CAROUSEL: &str = "carousel";
    pub const USER_DEFINED: &str = "user_defined";
    pub const FILE: &str = "file";
}

/// One item of a message's content. A flat struct (not an enum) so that unknown
/// `response_type`s from newer servers still parse.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct ContentItem {
    /// Unique within the message; deltas name the item they extend.
    pub id: String,
    pub response_type: String,
    /// `text` (markdown, never HTML); also the prompt above `option` buttons and a carousel.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub text: Option<String>,
    /// `option`: the buttons.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub options: Option<Vec<Button>>,
    /// `carousel`: the cards.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub cards: Option<Vec<Card>>,
    /// `user_defined`: arbitrary JSON for the host page to render.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub user_defined: Option<Value>,
    /// `file`: an attachment (image or document) the sender uploaded.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub file: Option<FileRef>,
}

impl ContentItem {
    pub fn text(id: impl Into<String>, text: impl Into<String>) -> Self {
        ContentItem {
            id: id.into(),
            response_type: response_type::TEXT.into(),
            text: Some(text.into()),
            ..Default::default()
        }
    }
}

/// A button. Clicking it sends `value` as the user's message (or opens `url`).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Button {
    pub label: String,
    pub value: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub url: Option<String>,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Card {
    pub title: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub description: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub image_url: Option<String>,
    #[serde(default)]
    pub buttons: Vec<Button>,
}

#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct MessageOptions {
    /// Present when the widget shows thumbs up/down on this message.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub feedback: Option<FeedbackOptions>,
}

/// Feedback offered on a message: thumbs, and the categories of the details form.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct FeedbackOptions {
    pub enabled: bool,
    #[serde(default)]
    pub positive_categories: Vec<String>,
    #[serde(default)]
    pub negative_categories: Vec<String>,
}

/// Every non-2xx answer: `{"error": {"code", "message"}}`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ErrorBody {
    pub error: ErrorDetail,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ErrorDetail {
    /// Stable machine-readable code (see [`error_code`]).
    pub code: String,
    /// Human-readable; may change between versions.
    pub message: String,
}

/// Error codes of protocol v1 (docs/protocol.md lists the status each comes with).
pub mod error_code {
    pub const INVALID_JSON: &str = "invalid_json";
    pub const INVALID_REQUEST: &str = "invalid_request";
    pub const UNSUPPORTED_MEDIA_TYPE: &str = "unsupported_media_type";
    pub const MESSAGE_TOO_LONG: &str = "message_too_long";
    pub const PAYLOAD_TOO_LARGE: &str = "payload_too_large";
    pub const NOT_FOUND: &str = "not_found";
    pub const BOT_NOT_FOUND: &str = "bot_not_found";
    pub const THREAD_NOT_FOUND: &str = "thread_not_found";
    pub const MESSAGE_NOT_FOUND: &str = "message_not_found";
    pub const THREAD_CLOSED: &str = "thread_closed";
    pub const AUTH_REQUIRED: &str = "auth_required";
    /// The JWT's `exp` has passed: fetch a new token and retry (widget: `authTokenNeeded`).
    pub const TOKEN_EXPIRED: &str = "token_expired";
    pub const INVALID_TOKEN: &str = "invalid_token";
    pub const ORIGIN_NOT_ALLOWED: &str = "origin_not_allowed";
    pub const RATE_LIMITED: &str = "rate_limited";
    pub const METHOD_NOT_ALLOWED: &str = "method_not_allowed";
    pub const SHUTTING_DOWN: &str = "shutting_down";
    pub const INTERNAL: &str = "internal";
    pub const ATTACHMENT_NOT_FOUND: &str = "attachment_not_found";
    /// The bot takes no attachments (`[attachments] enabled = false`).
    pub const ATTACHMENTS_DISABLED: &str = "attachments_disabled";
    /// An upload that would take the conversation's files past the bot's
    /// `max_conversation_bytes` (the file itself may be small).
    pub const CONVERSATION_QUOTA_EXCEEDED: &str = "conversation_quota_exceeded";
    /// An upload's file name is empty, too long, a path, or has control characters.
    pub const INVALID_ATTACHMENT_NAME: &str = "invalid_attachment_name";
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn send_request_rejects_unknown_fields() {
        let err = serde_json::from_str::<SendMessageRequest>(
            r#"{"clientMessageId":"a","content":"hi","extra":1}"#,
        )
        .unwrap_err();
        assert!(err.to_string().contains("unknown field `extra`"), "{err}");
    }

    #[test]
    fn unknown_response_type_parses() {
        let item: ContentItem =
            serde_json::from_str(r#"{"id":"x","response_type":"video","url":"u"}"#).unwrap();
        assert_eq!(item.response_type, "video");
    }

    #[test]
    fn message_round_trips_with_snake_case_fields() {
        let m = Message {
            id: "m".into(),
            role: Role::Assistant,
            content: vec![ContentItem::text("c0", "hi")],
            message_options: MessageOptions {
                feedback: Some(FeedbackOptions {
                    enabled: true,
                    ..Default::default()
                }),
            },
            created_at: "2026-01-01T00:00:00Z".into(),
            run_id: None,
            client_message_id: None,
        };
        let s = serde_json::to_string(&m).unwrap();
        assert!(s.contains("\"message_options\"") && s.contains("\"response_type\":\"text\""));
        assert_eq!(serde_json::from_str::<Message>(&s).unwrap(), m);
    }
}
