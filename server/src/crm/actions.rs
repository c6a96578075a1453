//! `kind = "crm"` actions: the CRM actions webhook, called by the action runner
//! (`crate::actions::runner`) through [`CrmActions`].
//!
//! The request is natter-actions' `crm_data()` in the seed's shape; the answer's `results` are
//! stored in the conversation's metadata under their `key` (so later steps, actions and
//! handlers read them), and returned to the bot as `{"results": {key: value}}`. A value the CRM
//! marks `sanitize` is never stored, logged or shown: it reads `[redacted]` in what the bot
//! gets, in the run log and everywhere else. It is kept apart from the metadata (the store's
//! `secret_metadata`), where only a later API or CRM action's argument `"$secret.<key>"` reads
//! it, when the call is made (the run log keeps the placeholder).

use std::sync::Arc;
use std::time::Duration;

use async_trait::async_trait;
use natter_actions::Action;
use natter_crm::wire::ActionData;
use serde_json::{json, Map, Value};

use crate::lifecycle::Lifecycle;
use crate::store::Thread;

/// What a CRM action call gave: the run's status, what the bot gets, the cause of a failure.
pub struct CrmCall {
    pub status: &'static str,
    pub result: Value,
    pub error: Option<String>,
}

#[async_trait]
pub trait CrmActions: Send + Sync + 'static {
    async fn call(
        &self,
        bot: &str,
        action: &Action,
        args: &Value,
        thread: Option<&Thread>,
        timeout: Duration,
    ) -> CrmCall;
}

fn failed(status: &'static str, error: String, said: &str) -> CrmCall {
    CrmCall {
        status,
        result: json!({"error": said}),
        error: Some(error),
    }
}

#[async_trait]
impl CrmActions for Lifecycle {
    async fn call(
        &self,
        bot: &str,
        action: &Action,
        args: &Value,
        thread: Option<&Thread>,
        timeout: Duration,
    ) -> CrmCall {
        let Some(crm) = self.crm(bot).cloned() else {
            return failed(
                "failed",
                format!("bot `{bot}` has no [crm] table"),
                "The action is not available",
            );
        };
        let map = match action.validate_args(args) {
            Ok(m) => m,
            Err(e) => return failed("invalid_args", e.to_string(), &e.to_string()),
        };
        let data = match action
            .crm_data(map)
            .map_err(|e| e.to_string())
            .and_then(|d| ActionData::from_crm_data(d).map_err(|e| e.to_string()))
        {
            Ok(d) => d,
            Err(e) => return failed("invalid_args", e.clone(), &e),
        };
        let (conversation_id, pcid) = match thread {
            Some(t) => (t.id.clone(), self.platform_id(bot, &t.id).await),
            None => ("test".to_string(), "test".to_string()),
        };
        let request = crm
            .crm
            .action_request(conversation_id, pcid, action.name.clone(), data);
        let results = match self.client.call_action(&crm.crm, &request, timeout).await {
            Ok(r) => r,
            Err(e) => {
                let status = if matches!(e, natter_crm::ActionCallError::Timeout(_)) {
                    "timeout"
                } else {
                    "failed"
                };
                return failed(status, e.to_string(), "The action failed");
            }
        };
        let mut shown = Map::new();
        for r in &results {
            if r.sanitize() {
                // Kept apart (store secret_metadata): later actions read it as `$secret.<key>`.
                if let Some(t) = thread {
                    if let Err(e) = self
                        .store
                        .set_secret(&t.id, &r.key, r.value.expose().to_json())
                        .await
                    {
                        return failed(
                            "failed",
                            format!("storing sanitized result `{}`: {e}", r.key),
                            "The action failed",
                        );
                    }
                }
                shown.insert(r.key.clone(), Value::String("[redacted]".into()));
                continue;
            }
            let v = r.value.expose().to_json();
            if let Some(t) = thread {
                if let Err(e) = self
                    .store
                    .set_metadata(&t.id, &r.key, Some(v.clone()))
                    .await
                {
                    return failed(
                        "failed",
                        format!("storing result `{}`: {e}", r.key),
                        "The action failed",
                    );
                }
            }
            shown.insert(r.key.clone(), v);
        }
        CrmCall {
            status: "ok",
            result: json!({ "results": shown }),
            error: None,
        }
    }
}

/// The runner's handle, set once the lifecycle exists.
pub type SharedCrmActions = Arc<dyn CrmActions>;
