//! A `kind = "crm"` action: POST the actions webhook, read `results`.
//!
//! One attempt within the action's timeout and no automatic retry: an action may have side
//! effects in the CRM (the seed's example updates a balance), so whether to try again is the
//! bot's decision, not the transport's. Results marked `sanitize` come back already wrapped;
//! the error type never carries a result value.

use std::time::Duration;

use crate::client::{snippet, CrmClient};
use crate::config::Crm;
use crate::id::new_webhook_id;
use crate::inbound::{parse_action_response, InboundError};
use crate::wire::{ActionRequest, ActionResult};

#[derive(Debug, thiserror::Error)]
pub enum ActionCallError {
    #[error("bot `{0}` has no crm.actions_webhook_url")]
    NotConfigured(String),
    #[error("CRM action timed out after {0:?}")]
    Timeout(Duration),
    #[error("CRM action request failed: {0}")]
    Transport(String),
    #[error("CRM action answered {status}{}", crate::client::colon(.body))]
    Status { status: u16, body: String },
    #[error("CRM action answer is invalid: {0}")]
    BadAnswer(InboundError),
    #[error("CRM action answer is larger than {} bytes", crate::client::MAX_ANSWER)]
    TooLarge,
}

impl CrmClient {
    pub async fn call_action(
        &self,
        crm: &Crm,
        request: &ActionRequest,
        timeout: Duration,
    ) -> Result<Vec<ActionResult>, ActionCallError> {
        let url = crm
            .actions_webhook_url
            .as_ref()
            .ok_or_else(|| ActionCallError::NotConfigured(crm.bot_id.clone()))?;
        let a = self
            .post_signed(crm, url, &new_webhook_id(), &request.to_body(), timeout)
            .await
            .map_err(|e| {
                if e.is_timeout() {
                    ActionCallError::Timeout(timeout)
                } else {
                    ActionCallError::Transport(e.cause())
                }
            })?;
        if !(200..300).contains(&a.status) {
            return Err(ActionCallError::Status {
                status: a.status,
                body: snippet(&a.body, 200),
            });
        }
        if a.truncated {
            return Err(ActionCallError::TooLarge);
        }
        parse_action_response(&a.body).map_err(ActionCallError::BadAnswer)
    }
}
