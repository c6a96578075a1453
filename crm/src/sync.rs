//! The two chat webhook events the bot waits on: `escalate` (2xx = accepted, anything else =
//! refused) and `isTeamOnline` (`{"isOnline": bool}`).
//!
//! A visitor is waiting, so there is one attempt with the bot's `sync_timeout` and no retry;
//! every failure (timeout, refused connection, bad status, bad answer) becomes a refusal or
//! `false` with its cause logged, and the conversation goes on. Each call has its own fresh
//! `webhook-id`.

use crate::client::{snippet, CrmClient};
use crate::config::Crm;
use crate::id::new_webhook_id;
use crate::wire::{ChatEvent, Escalate, TeamOnlineAnswer, TeamOnlineQuery};

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Escalation {
    Accepted,
    /// `reason` is for the log and the run record; the visitor is told the handoff failed.
    Refused {
        reason: String,
    },
}

#[derive(Debug, thiserror::Error)]
pub enum SyncError {
    #[error("bot `{0}` has no crm.chat_webhook_url")]
    NotConfigured(String),
    #[error("{0}")]
    Transport(String),
    #[error("CRM answered {status}{}", crate::client::colon(.body))]
    Status { status: u16, body: String },
    #[error("CRM answer is not {{\"isOnline\": true|false}}: {0}")]
    BadAnswer(String),
}

impl CrmClient {
    /// Sends `escalate` and waits for the CRM's verdict.
    pub async fn escalate(&self, crm: &Crm, escalate: Escalate) -> Escalation {
        let conversation = escalate.platform_conversation_id.clone();
        match self.call(crm, ChatEvent::Escalate(escalate)).await {
            Ok(_) => Escalation::Accepted,
            Err(e) => {
                let reason = e.to_string();
                tracing::warn!(bot = %crm.bot_id, conversation = %conversation, %reason, "CRM refused escalation");
                Escalation::Refused { reason }
            }
        }
    }

    /// `isTeamOnline` with the cause of a failure; see [`CrmClient::is_team_online`].
    pub async fn team_online(&self, crm: &Crm, query: TeamOnlineQuery) -> Result<bool, SyncError> {
        let body = self.call(crm, ChatEvent::IsTeamOnline(query)).await?;
        serde_json::from_slice::<TeamOnlineAnswer>(&body)
            .map(|a| a.is_online)
            .map_err(|e| SyncError::BadAnswer(format!("{e}; got `{}`", snippet(&body, 100))))
    }

    /// `isTeamOnline` as the workflow branches on it: any failure is `false`, logged.
    pub async fn is_team_online(&self, crm: &Crm, query: TeamOnlineQuery) -> bool {
        let conversation = query.platform_conversation_id.clone();
        match self.team_online(crm, query).await {
            Ok(online) => online,
            Err(e) => {
                tracing::warn!(bot = %crm.bot_id, conversation = %conversation, cause = %e, "isTeamOnline taken as false");
                false
            }
        }
    }

    /// One signed attempt; the answer body on 2xx.
    async fn call(&self, crm: &Crm, event: ChatEvent) -> Result<Vec<u8>, SyncError> {
        let url = crm
            .chat_webhook_url
            .as_ref()
            .ok_or_else(|| SyncError::NotConfigured(crm.bot_id.clone()))?;
        let body = crm.webhook(event).to_body();
        let a = self
            .post_signed(crm, url, &new_webhook_id(), &body, crm.sync_timeout)
            .await
            .map_err(|e| {
                SyncError::Transport(if e.is_timeout() {
                    format!("no answer within {:?}", crm.sync_timeout)
                } else {
                    e.cause()
                })
            })?;
        if (200..300).contains(&a.status) {
            Ok(a.body)
        } else {
            Err(SyncError::Status {
                status: a.status,
                body: snippet(&a.body, 200),
            })
        }
    }
}
