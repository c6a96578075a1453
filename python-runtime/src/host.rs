//! The `Host` trait: what the Python helpers need from the server.
//!
//! Every conversation helper is a synchronous RPC from Python to Rust, which awaits one of
//! these methods before answering, so a change is visible to the next helper call of the same
//! run (and to everything else on the server) at once. Arguments have already been validated
//! by [`crate::helpers`] when a method is called; the conversation is always the run's own
//! (from the server-built context), never one named by Python code.

use crate::Error;
use async_trait::async_trait;
use serde_json::Value;

/// The conversation a helper acts on.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ConversationRef {
    pub bot: String,
    /// `context.conversation.id` as the server built it.
    pub conversation_id: String,
    /// The conversation's channel ("web", "phone", ...).
    pub channel: String,
}

/// `add_conversation_tag` result from the host.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TagAdded {
    pub tag_id: String,
    /// The tag was already on the conversation (the call still succeeds).
    pub already_present: bool,
}

/// A timeline event recorded by `add_conversation_event`.
#[derive(Debug, Clone, PartialEq)]
pub struct ConversationEvent {
    /// Non-empty, at most 200 characters.
    pub name: String,
    /// The rest of the dict the user passed (or `None` for a plain string event).
    pub data: Option<Value>,
}

/// What `hand_off_conversation` asks for.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct HandOffRequest {
    /// At most 500 characters.
    pub reason: Option<String>,
    /// E.164, and only ever `Some` on the "phone" channel (ignored elsewhere, per the seed).
    pub phone_destination: Option<String>,
}

/// What the host did on a hand-off.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum HandOffOutcome {
    /// The conversation is now handed off; the bot must stop replying.
    HandedOff,
    /// It already was: nothing changed (idempotent success).
    AlreadyHandedOff,
    /// The live call was transferred to `phone_destination`; the action's result is ignored.
    CallTransferred,
    /// The human side (e.g. the bot's CRM `escalate`) refused: nothing changed, the
    /// conversation stays open. The helper returns `{"success": false, "message": ...}`.
    Refused(String),
}

/// An LLM classification. Binary questions use the options `["true", "false"]`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ClassifyRequest {
    pub prompt: String,
    pub input: String,
    pub options: Vec<String>,
}

/// The server side of the helpers. The server implements it over its store; tests use
/// [`crate::InMemoryHost`]. Errors come back to Python as `HelperError` (or `ValueError`
/// for [`Error::InvalidArgument`]) with the error's message.
#[async_trait]
pub trait Host: Send + Sync + 'static {
    /// A metadata value, `None` when the key is not set.
    async fn get_metadata(&self, conv: &ConversationRef, key: &str)
        -> Result<Option<Value>, Error>;
    /// Store a metadata value (any JSON value, at most 64 KiB serialized).
    async fn set_metadata(
        &self,
        conv: &ConversationRef,
        key: &str,
        value: Value,
    ) -> Result<(), Error>;
    /// Delete a key; `true` if it was set.
    async fn delete_metadata(&self, conv: &ConversationRef, key: &str) -> Result<bool, Error>;
    /// Add a tag (idempotent: an existing tag returns its id with `already_present`).
    async fn add_tag(&self, conv: &ConversationRef, tag: &str) -> Result<TagAdded, Error>;
    /// Record a timeline event; returns its id.
    async fn add_event(
        &self,
        conv: &ConversationRef,
        event: ConversationEvent,
    ) -> Result<String, Error>;
    /// Hand the conversation off (never called in test runs). Must be idempotent.
    async fn hand_off(
        &self,
        conv: &ConversationRef,
        request: HandOffRequest,
    ) -> Result<HandOffOutcome, Error>;
    /// Ask the bot's LLM to pick one of `request.options`. `Ok(None)` means the bot has no
    /// LLM configured (the helper then returns the caller's fallback or raises).
    async fn llm_classify(
        &self,
        bot: &str,
        request: ClassifyRequest,
    ) -> Result<Option<String>, Error>;
    /// Sticky A/B variant: return the variant stored for (conversation, test) if it is one of
    /// `allowed`; otherwise store `candidate` (chosen at random among `allowed` by the
    /// runtime) and return it. Must be atomic per (conversation, test).
    async fn ab_test_variant(
        &self,
        conv: &ConversationRef,
        test_name: &str,
        candidate: &str,
        allowed: &[String],
    ) -> Result<String, Error>;
    /// Append one row to a Google Sheet with the bot's service-account credentials (see
    /// [`crate::GoogleSheets`]); returns what the helper returns to Python.
    async fn sheets_append(
        &self,
        bot: &str,
        sheet_id: &str,
        row: Vec<Value>,
    ) -> Result<Value, Error>;
    /// The bytes of a file attached to this conversation (at most `max_bytes`; a larger
    /// file is refused). The default has no files.
    async fn read_attachment(
        &self,
        _conv: &ConversationRef,
        attachment_id: &str,
        _max_bytes: usize,
    ) -> Result<Vec<u8>, Error> {
        Err(Error::Host(format!(
            "no attachment `{attachment_id}` in this conversation"
        )))
    }

    /// Where the sandboxed code may connect: the addresses to dial for `host:port` (`host` as
    /// the code wrote it: a name or an IP address), asked by the egress proxy for every
    /// connection the code opens. `Err` refuses it; the message reaches the code (and the
    /// server's log). The default allows nothing.
    async fn egress(
        &self,
        _bot: &str,
        host: &str,
        port: u16,
    ) -> Result<Vec<std::net::SocketAddr>, Error> {
        Err(Error::Host(format!(
            "`{host}:{port}`: Python code may not connect anywhere here"
        )))
    }
}
