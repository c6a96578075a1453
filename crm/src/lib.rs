//! natter-crm: Natter's connector to a customer's CRM (seed crm-webhooks.txt).
//!
//! What it owns, each in its own module:
//! - [`wire`]: the JSON the CRM receives — the chat webhook (`sendMessage`, `escalate`,
//!   `isTeamOnline`, `widgetMessage`, `widgetEscalate`, `widgetEndSession`) and the actions
//!   webhook with its `results` answer — in the seed's exact shapes plus the fields the public
//!   custom-crm-automation-template's DTOs require (`channel`, `confidence`, `messageId`).
//! - [`inbound`]: parsing of the Chat API requests a CRM sends to Natter
//!   (`POST /converse/chat`, `POST /agent/converse/send-message-to-widget`), rejecting bad
//!   payloads with the field path and the cause.
//! - [`sign`] and [`auth`]: Standard Webhooks signatures and the inbound API-key check.
//! - [`retry`] and [`classify`]: the pure retry schedule and what a response means for it.
//! - [`client`] with [`deliver`], [`sync`] and [`action_call`]: the HTTP side — one outbox
//!   attempt (`deliver(job) -> Outcome`), the synchronous `escalate` / `isTeamOnline`, and the
//!   actions webhook call.
//! - [`lanes`]: optional in-process delivery in order per conversation, for callers without
//!   the server's durable outbox.
//! - [`config`]: the per-bot `[crm]` settings resolved into a [`Crm`].
//! - [`standin`]: a CRM stand-in on 127.0.0.1 for tests, benchmarks and demos.
//!
//! Invariants: every outbound call has a timeout; every outbound body is signed; a webhook
//! keeps its `webhook-id` across retries; values the CRM marks `sanitize` live in
//! [`Sensitive`], whose Debug, Display and Serialize never show them. The durable outbox is the
//! server's: this crate holds no queue and no clock of its own beyond the attempt it runs.

pub mod action_call;
pub mod auth;
pub mod classify;
pub mod client;
pub mod config;
pub mod deliver;
pub mod id;
pub mod inbound;
pub mod lanes;
pub mod retry;
pub mod sensitive;
pub mod sign;
pub mod standin;
pub mod sync;
pub mod wire;

pub use action_call::ActionCallError;
pub use auth::ApiKey;
pub use client::{ClientError, CrmClient};
pub use config::{ConfigError, Crm, CrmSettings};
pub use deliver::{Job, Outcome};
pub use id::new_webhook_id;
pub use inbound::{parse_agent_message, parse_converse_chat, InboundError, InboundErrorKind};
pub use lanes::{LaneError, Lanes};
pub use retry::RetryPolicy;
pub use sensitive::{Guarded, Sensitive};
pub use sign::{SignatureHeaders, SigningSecret, VerifyError};
pub use sync::{Escalation, SyncError};
