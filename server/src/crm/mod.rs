//! The CRM connector wired into the server (seed crm-webhooks.txt; the wire itself is
//! natter-crm's).
//!
//! - [`config`]: a bot's `[crm]` table.
//! - [`actions`]: `kind = "crm"` actions (the actions webhook), for the action runner.
//! - [`payloads`]: the chat webhook bodies the outbox delivers (`sendMessage`,
//!   `widgetEscalate`, `widgetMessage`, `widgetEndSession`), built from stored messages.
//! - [`local`]: the built-in local CRM the agent console uses (`[crm] local = true`).
//! - The inbound Chat API is [`crate::http::crm`]; outbound delivery runs in the outbox
//!   ([`crate::lifecycle::exec`]); `escalate` / `isTeamOnline` are synchronous calls from the
//!   workflow engine ([`crate::lifecycle::Lifecycle`]).
//!
//! Conversation ids: for a widget conversation `platformConversationId` is the thread id; for
//! a conversation whose channel is the CRM it is the CRM's own id, mapped to a thread in the
//! store (`crm_conversations`).

pub mod actions;
pub mod config;
pub mod local;
pub mod payloads;

pub use config::{CrmBot, CrmBotSettings};
