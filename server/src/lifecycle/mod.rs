//! Conversation lifecycle: closing and handing off from every path, the event
//! handlers those transitions fire, and closing idle conversations.
//!
//! There is ONE transition function, [`crate::store::Store::transition`]: the visitor's close
//! endpoint, the workflow `handoff` / `close` steps, `hand_off_conversation` in Python, the
//! CRM's inbound API and the inactivity task all call it. It moves the status at most once
//! (open → handed_off → closed, or open → closed; a second call writes nothing and returns
//! `false`, which callers report), appends the `thread.*` event that streams to the widget,
//! and enqueues the transition's outbox jobs ([`plan::Plan`]) in the same commit.
//!
//! - [`plan`]: which jobs a change needs (handlers of the event, CRM webhooks).
//! - [`handlers`]: `bots/<slug>/handlers/<event_type>/*.py` discovery and running.
//! - [`exec`]: the outbox [`crate::outbox::worker::Executor`] (handlers and webhook delivery).
//! - [`inactivity`]: the per-bot inactivity close, a task that ends on shutdown.
//! - [`retention`]: deleting conversations closed longer than their bot keeps them.

pub mod admin;
pub mod cli;
pub mod exec;
pub mod handlers;
pub mod inactivity;
pub mod plan;
pub mod retention;
mod start;

pub use start::{BackgroundTasks, LifecycleOptions};

use std::collections::HashMap;
use std::future::Future;
use std::sync::Arc;
use std::time::Duration;

use natter_crm::wire::{Escalate, TeamOnlineQuery};
use natter_crm::{CrmClient, Escalation};
use natter_protocol::{EventPayload, ThreadStatus};
use serde::Deserialize;

use crate::bots::BotRegistry;
use crate::crm::CrmBot;
use crate::store::{Store, StoreError};

/// `[lifecycle]` of bot.toml.
#[derive(Debug, Clone, Default, PartialEq, Eq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct LifecycleConfig {
    /// Close conversations (not already closed) with no event for this long.
    pub inactivity_timeout_secs: Option<u64>,
    /// Delete conversations (with their messages, events and files) this long after they were
    /// closed, once their webhooks and event handlers have run ([`retention`]). `None`
    /// (default): conversations are kept.
    pub delete_after_close_secs: Option<u64>,
}

impl LifecycleConfig {
    pub fn check(&self) -> Result<(), String> {
        if self.inactivity_timeout_secs == Some(0) {
            return Err("lifecycle.inactivity_timeout_secs must be at least 1".into());
        }
        if self.delete_after_close_secs == Some(0) {
            return Err("lifecycle.delete_after_close_secs must be at least 1".into());
        }
        Ok(())
    }
    pub fn inactivity_timeout(&self) -> Option<Duration> {
        self.inactivity_timeout_secs.map(Duration::from_secs)
    }
}

/// Who closed a conversation (`thread.closed` `by`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ClosedBy {
    Visitor,
    Bot,
    Agent,
    Automation,
}

impl ClosedBy {
    pub fn as_str(self) -> &'static str {
        match self {
            ClosedBy::Visitor => "visitor",
            ClosedBy::Bot => "bot",
            ClosedBy::Agent => "agent",
            ClosedBy::Automation => "automation",
        }
    }
}

/// The server's lifecycle services; one per server.
pub struct Lifecycle {
    pub store: Arc<dyn Store>,
    pub bots: Arc<BotRegistry>,
    pub plan: Arc<plan::Plan>,
    pub client: CrmClient,
    pub handlers: handlers::HandlerRunner,
    /// The built-in local CRM (bots with `[crm] local = true`).
    pub local: Arc<crate::crm::local::LocalCrm>,
    options: LifecycleOptions,
}

impl Lifecycle {
    pub fn crm(&self, bot: &str) -> Option<&Arc<CrmBot>> {
        self.plan.crm().get(bot)
    }

    pub fn crms(&self) -> &HashMap<String, Arc<CrmBot>> {
        self.plan.crm()
    }

    /// Closes the conversation; `false` when it already was (nothing written).
    pub async fn close(
        &self,
        thread_id: &str,
        by: ClosedBy,
        reason: Option<String>,
    ) -> Result<bool, StoreError> {
        let ev = EventPayload::ThreadClosed {
            by: by.as_str().into(),
            reason,
        };
        self.store
            .transition(thread_id, ThreadStatus::Closed, ev)
            .await
    }

    /// Hands the conversation off; `false` when it was not open (nothing written).
    pub async fn hand_off(
        &self,
        thread_id: &str,
        reason: Option<String>,
    ) -> Result<bool, StoreError> {
        self.store
            .transition(
                thread_id,
                ThreadStatus::HandedOff,
                EventPayload::ThreadHandedOff { reason },
            )
            .await
    }

    /// Gives a handed-off conversation back to the bot (handed_off → open,
    /// `thread.reopened`); `false` when it was not handed off (nothing written).
    pub async fn reopen(
        &self,
        thread_id: &str,
        reason: Option<String>,
    ) -> Result<bool, StoreError> {
        self.store
            .transition(
                thread_id,
                ThreadStatus::Open,
                EventPayload::ThreadReopened { reason },
            )
            .await
    }

    /// `escalate` to the bot's CRM: `None` without a CRM webhook, else whether it accepted.
    pub async fn escalate(&self, bot: &str, thread_id: &str) -> Option<bool> {
        let crm = self.crm(bot)?;
        crm.crm.chat_webhook_url.as_ref()?;
        let pcid = self.platform_id(bot, thread_id).await;
        let mut e = Escalate::new(pcid);
        e.conversation_id = Some(thread_id.to_string());
        Some(matches!(
            self.client.escalate(&crm.crm, e).await,
            Escalation::Accepted
        ))
    }

    /// `isTeamOnline`: `None` without a CRM webhook; failures count as offline (logged).
    pub async fn team_online(
        &self,
        bot: &str,
        thread_id: &str,
        team: Option<String>,
    ) -> Option<bool> {
        let crm = self.crm(bot)?;
        crm.crm.chat_webhook_url.as_ref()?;
        let pcid = self.platform_id(bot, thread_id).await;
        let q = TeamOnlineQuery {
            platform_conversation_id: pcid,
            conversation_id: Some(thread_id.to_string()),
            team_id: team,
        };
        Some(self.client.is_team_online(&crm.crm, q).await)
    }

    /// The CRM's id for a conversation: its own for CRM-channel ones, else the thread id.
    pub(crate) async fn platform_id(&self, _bot: &str, thread_id: &str) -> String {
        if thread_id.starts_with(crate::outbox::CRM_THREAD_PREFIX) {
            if let Ok(Some(t)) = self.store.thread(thread_id).await {
                if let Some(p) = t
                    .sub
                    .as_deref()
                    .and_then(|s| s.strip_prefix(CRM_SUB_PREFIX))
                {
                    return p.to_string();
                }
            }
        }
        thread_id.to_string()
    }
}

/// CRM-channel threads are owned by `crm:<platformConversationId>` (no widget can open them).
pub const CRM_SUB_PREFIX: &str = "crm:";

#[cfg(test)]
mod tests {
    use super::LifecycleConfig;

    #[test]
    fn a_zero_retention_or_timeout_is_refused_at_load() {
        let parse = |t: &str| toml::from_str::<LifecycleConfig>(t).unwrap();
        assert!(parse("delete_after_close_secs = 86400").check().is_ok());
        let err = parse("delete_after_close_secs = 0").check().unwrap_err();
        assert!(err.contains("delete_after_close_secs"), "{err}");
        assert!(parse("inactivity_timeout_secs = 0").check().is_err());
        assert!(toml::from_str::<LifecycleConfig>("delete_after = 1").is_err());
    }
}

/// Runs `pass` at once and then every `every` until `cancel` fires: the loop of the periodic
/// sweeps (inactivity, retention), which therefore end on shutdown.
pub async fn every<F: Future<Output = ()>>(
    every: Duration,
    cancel: &tokio_util::sync::CancellationToken,
    mut pass: impl FnMut() -> F,
) {
    loop {
        pass().await;
        tokio::select! {
            _ = tokio::time::sleep(every) => {}
            _ = cancel.cancelled() => return,
        }
    }
}
