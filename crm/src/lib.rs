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
//! How the server uses it (compiled as a doc test):
//!
//! ```no_run
//! use std::time::Duration;
//! use natter_crm::wire::{ActionData, BotMessage, ChatEvent, Escalate, TeamOnlineQuery};
//! use natter_crm::{new_webhook_id, CrmClient, CrmSettings, Job, Outcome};
//!
//! async fn example(settings: CrmSettings, crm_data: Vec<serde_json::Value>) -> anyhow_free::Result {
//!     // At bot load: `[crm]` of bot.toml → Crm (all checks happen here).
//!     let crm = settings.resolve("acme", &|k| std::env::var(k).ok())?;
//!     let client = CrmClient::new()?; // one for the whole server
//!
//!     // A bot reply when the CRM is the channel: queue it in the outbox with a stable id ...
//!     let event = crm.webhook(ChatEvent::SendMessage(BotMessage::text("pcid-1", "msg-9", "Hi!")));
//!     let mut job = Job { id: new_webhook_id(), body: event.to_body(), attempt: 1 };
//!     // ... and the outbox worker runs attempts until Delivered or Failed.
//!     match client.deliver(&crm, &job).await {
//!         Outcome::Delivered { .. } => {}
//!         Outcome::RetryAt { at, cause, .. } => { job.attempt += 1; let _ = (at, cause); }
//!         Outcome::Failed { cause } => { let _ = cause; }
//!     }
//!
//!     // Synchronous: a workflow's handoff step and availability branch.
//!     let _accepted = client.escalate(&crm, Escalate::new("pcid-1")).await;
//!     let _online: bool = client.is_team_online(&crm, TeamOnlineQuery {
//!         platform_conversation_id: "pcid-1".into(), conversation_id: None, team_id: None,
//!     }).await;
//!
//!     // A `kind = "crm"` action: data from natter-actions' `Action::crm_data()`.
//!     let request = crm.action_request("thread-1", "pcid-1", "updateCustomerBalance",
//!         ActionData::from_crm_data(crm_data)?);
//!     for r in client.call_action(&crm, &request, Duration::from_secs(10)).await? {
//!         // store r.value.expose() under r.key; mark it secret when r.sanitize()
//!         let _ = (&r.key, r.value.expose(), r.sanitize());
//!     }
//!
//!     // Inbound: check the key, then parse; an Err's Display is the 400 message.
//!     let authorized = crm.api_key.as_ref().is_some_and(|k| k.matches_authorization(Some("key")));
//!     let chat = natter_crm::parse_converse_chat(br#"{"platformConversationId":"p","eventType":"endSession"}"#)?;
//!     let _ = (authorized, chat);
//!     Ok(())
//! }
//! # mod anyhow_free { pub type Result = std::result::Result<(), Box<dyn std::error::Error>>; }
//! ```
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
