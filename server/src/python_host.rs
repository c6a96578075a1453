//! The Python helpers' [`Host`], over the real store: what `set_conversation_metadata`,
//! `add_conversation_tag`, `hand_off_conversation`, … do on the server.
//!
//! Used by actions (`crate::actions`) and by event handlers: build one
//! [`StoreHost`] per server and hand it to the python runtime.
//!
//! Invariants:
//! - Every method is one store job answered after its commit, so a later helper call of the
//!   same run (and the rest of the server) sees the change at once.
//! - A hand-off is the same transition as the workflow `handoff` step: open → handed_off once,
//!   with one `thread.handed_off` event; after it no run starts for the thread. The runtime
//!   never calls it in a test run.
//! - Credentials (Google service accounts, LLM keys) stay here; store failures are logged and
//!   reach Python only as "the conversation store failed".
//! - The code's connections (the runtime's egress proxy asks [`Host::egress`]) go only to a
//!   `host:port` on the bot's `[python] egress` list, and then only to the addresses its
//!   `[network]` policy allows, checked as for API actions (`natter_actions::allowed_addresses`).

use std::collections::HashMap;
use std::sync::{Arc, Mutex};

use async_trait::async_trait;
use natter_protocol::{EventPayload, ThreadStatus};
use natter_python_runtime::{
    ClassifyRequest, ConversationEvent, ConversationRef, Error, GoogleSheets, HandOffOutcome,
    HandOffRequest, Host, ServiceAccountKey, SheetsConfig, TagAdded,
};
use serde_json::Value;

use crate::bots::{BotRegistry, SheetsSettings};
use crate::store::{Store, StoreError};

/// All of a conversation's metadata together, serialized.
pub const MAX_METADATA_BYTES: usize = 1024 * 1024;

/// `llm_classify_*` behind a seam: the bot's `[llm]` endpoint when it has one.
#[async_trait]
pub trait Classifier: Send + Sync + 'static {
    /// `Ok(None)`: this bot has no LLM configured (the helper returns its fallback or raises).
    async fn classify(&self, bot: &str, request: ClassifyRequest) -> Result<Option<String>, Error>;
}

/// No LLM for any bot.
pub struct NoLlm;

#[async_trait]
impl Classifier for NoLlm {
    async fn classify(
        &self,
        _bot: &str,
        _request: ClassifyRequest,
    ) -> Result<Option<String>, Error> {
        Ok(None)
    }
}

/// The helpers' host over a [`Store`].
pub struct StoreHost {
    store: Arc<dyn Store>,
    bots: Arc<BotRegistry>,
    classifier: Arc<dyn Classifier>,
    /// One Sheets client per bot (its token cache lives inside), built on first use.
    sheets: Mutex<HashMap<String, Arc<GoogleSheets>>>,
    /// The lifecycle services (set once the server built them): a hand-off asks the bot's CRM
    /// (`escalate`) first, like the workflow `handoff` step. Weak: the lifecycle holds this
    /// host (its handlers run with it).
    lifecycle: std::sync::OnceLock<std::sync::Weak<crate::lifecycle::Lifecycle>>,
}

impl StoreHost {
    pub fn new(
        store: Arc<dyn Store>,
        bots: Arc<BotRegistry>,
        classifier: Arc<dyn Classifier>,
    ) -> StoreHost {
        StoreHost {
            store,
            bots,
            classifier,
            sheets: Mutex::default(),
            lifecycle: std::sync::OnceLock::new(),
        }
    }

    /// Links the lifecycle services so `hand_off_conversation` escalates to the bot's CRM.
    pub fn set_lifecycle(&self, lifecycle: &Arc<crate::lifecycle::Lifecycle>) {
        let _ = self.lifecycle.set(Arc::downgrade(lifecycle));
    }

    fn sheets_client(&self, bot: &str) -> Result<Arc<GoogleSheets>, Error> {
        if let Some(c) = self.sheets.lock().unwrap().get(bot) {
            return Ok(c.clone());
        }
        let settings = self
            .bots
            .get(bot)
            .and_then(|b| b.sheets.clone())
            .ok_or_else(|| {
                Error::Host(
                    "Google Sheets is not configured for this bot ([sheets] in bot.toml)".into(),
                )
            })?;
        let client = Arc::new(build_sheets(&settings)?);
        self.sheets
            .lock()
            .unwrap()
            .insert(bot.to_string(), client.clone());
        Ok(client)
    }
}

fn build_sheets(s: &SheetsSettings) -> Result<GoogleSheets, Error> {
    // Read at first use, not at load: a rotated key file is picked up after a restart only,
    // but a missing one doesn't stop bots that never append rows.
    let text = match (&s.service_account_env, &s.service_account_file) {
        (Some(var), _) => std::env::var(var).map_err(|_| {
            Error::Sheets(format!(
                "environment variable `{var}` (the service account key) is not set"
            ))
        })?,
        (None, Some(file)) => std::fs::read_to_string(file).map_err(|e| {
            Error::Sheets(format!(
                "can't read the service account key {}: {e}",
                file.display()
            ))
        })?,
        (None, None) => return Err(Error::Sheets("no service account configured".into())),
    };
    let key = ServiceAccountKey::from_json(&text)?;
    let mut cfg = SheetsConfig::default();
    if let Some(u) = &s.token_url {
        cfg.token_url = Some(u.clone());
    }
    if let Some(u) = &s.api_base {
        cfg.api_base = u.clone();
    }
    if let Some(r) = &s.range {
        cfg.range = r.clone();
    }
    GoogleSheets::new(key, cfg)
}

/// Store failures: the cause goes to the log, Python gets a plain message.
fn store_err(e: StoreError) -> Error {
    match e {
        StoreError::ThreadNotFound => Error::Host("the conversation does not exist".into()),
        other => {
            tracing::error!(error = %other, "python helper: store failed");
            Error::Host("the conversation store failed".into())
        }
    }
}

#[async_trait]
impl Host for StoreHost {
    async fn get_metadata(
        &self,
        conv: &ConversationRef,
        key: &str,
    ) -> Result<Option<Value>, Error> {
        let thread = self
            .store
            .thread(&conv.conversation_id)
            .await
            .map_err(store_err)?;
        let thread = thread.ok_or_else(|| store_err(StoreError::ThreadNotFound))?;
        Ok(thread.metadata.get(key).cloned())
    }

    async fn set_metadata(
        &self,
        conv: &ConversationRef,
        key: &str,
        value: Value,
    ) -> Result<(), Error> {
        // Each value is capped by the runtime (64 KiB); the whole object is capped here, so a
        // loop of sets can't grow a conversation row without bound.
        let thread = self
            .store
            .thread(&conv.conversation_id)
            .await
            .map_err(store_err)?;
        let mut meta = thread
            .ok_or_else(|| store_err(StoreError::ThreadNotFound))?
            .metadata;
        meta.insert(key.to_string(), value.clone());
        if Value::Object(meta).to_string().len() > MAX_METADATA_BYTES {
            return Err(Error::InvalidArgument(format!(
                "the conversation's metadata would exceed {} KiB",
                MAX_METADATA_BYTES / 1024
            )));
        }
        self.store
            .set_metadata(&conv.conversation_id, key, Some(value))
            .await
            .map_err(store_err)?;
        Ok(())
    }

    async fn delete_metadata(&self, conv: &ConversationRef, key: &str) -> Result<bool, Error> {
        self.store
            .set_metadata(&conv.conversation_id, key, None)
            .await
            .map_err(store_err)
    }

    async fn add_tag(&self, conv: &ConversationRef, tag: &str) -> Result<TagAdded, Error> {
        let t = self
            .store
            .add_tag(&conv.conversation_id, tag)
            .await
            .map_err(store_err)?;
        Ok(TagAdded {
            tag_id: t.tag_id,
            already_present: t.already_present,
        })
    }

    async fn add_event(
        &self,
        conv: &ConversationRef,
        event: ConversationEvent,
    ) -> Result<String, Error> {
        let ev = EventPayload::ThreadEvent {
            name: event.name,
            data: event.data.unwrap_or(Value::Null),
        };
        let stored = self
            .store
            .append(&conv.conversation_id, vec![ev])
            .await
            .map_err(store_err)?;
        // The event's seq in the thread's log is its identity.
        Ok(format!("evt_{}", stored.first().map_or(0, |e| e.seq)))
    }

    async fn hand_off(
        &self,
        conv: &ConversationRef,
        request: HandOffRequest,
    ) -> Result<HandOffOutcome, Error> {
        // Same path as the workflow `handoff` step: with a CRM, `escalate` (synchronous) first,
        // only while the thread is open (a second hand-off stays a no-op that asks no one).
        // A refusal leaves the conversation open. The widget webhooks (`widgetEscalate`) are
        // queued by the transition itself, as for the step.
        if let Some(lc) = self.lifecycle.get().and_then(|w| w.upgrade()) {
            let thread = self
                .store
                .thread(&conv.conversation_id)
                .await
                .map_err(store_err)?;
            if let Some(t) = thread.filter(|t| t.status == ThreadStatus::Open) {
                if lc.escalate(&t.bot, &conv.conversation_id).await == Some(false) {
                    return Ok(HandOffOutcome::Refused(
                        "the CRM refused the hand-off (escalate); the conversation stays open"
                            .into(),
                    ));
                }
            }
        }
        let ev = EventPayload::ThreadHandedOff {
            reason: request.reason.clone(),
        };
        let changed = self
            .store
            .transition(&conv.conversation_id, ThreadStatus::HandedOff, ev)
            .await
            .map_err(store_err)?;
        if changed {
            // The runtime passes a phone destination only on the phone channel; Natter has no
            // telephony yet, so a transfer is recorded as the hand-off it falls back to.
            return Ok(match request.phone_destination {
                Some(_) => HandOffOutcome::CallTransferred,
                None => HandOffOutcome::HandedOff,
            });
        }
        let thread = self
            .store
            .thread(&conv.conversation_id)
            .await
            .map_err(store_err)?;
        match thread.map(|t| t.status) {
            Some(ThreadStatus::HandedOff) => Ok(HandOffOutcome::AlreadyHandedOff),
            Some(ThreadStatus::Closed) => Err(Error::Host(
                "the conversation is closed; it can't be handed off".into(),
            )),
            _ => Err(store_err(StoreError::ThreadNotFound)),
        }
    }

    async fn llm_classify(
        &self,
        bot: &str,
        request: ClassifyRequest,
    ) -> Result<Option<String>, Error> {
        self.classifier.classify(bot, request).await
    }

    async fn ab_test_variant(
        &self,
        conv: &ConversationRef,
        test_name: &str,
        candidate: &str,
        allowed: &[String],
    ) -> Result<String, Error> {
        self.store
            .ab_variant(
                &conv.conversation_id,
                test_name,
                candidate,
                allowed.to_vec(),
            )
            .await
            .map_err(store_err)
    }

    async fn sheets_append(
        &self,
        bot: &str,
        sheet_id: &str,
        row: Vec<Value>,
    ) -> Result<Value, Error> {
        self.sheets_client(bot)?.append_row(sheet_id, row).await
    }

    async fn egress(
        &self,
        bot: &str,
        host: &str,
        port: u16,
    ) -> Result<Vec<std::net::SocketAddr>, Error> {
        let b = self
            .bots
            .get(bot)
            .ok_or_else(|| Error::Host(format!("no bot `{bot}`")))?;
        if !b.python_egress.allows(host, port) {
            return Err(Error::Host(format!(
                "`{host}:{port}` is not in this bot's [python] egress allow-list"
            )));
        }
        let name = host.trim_start_matches('[').trim_end_matches(']');
        let ips =
            natter_actions::allowed_addresses(&b.network, &natter_actions::SystemLookup, name)
                .await
                .map_err(|e| match e {
                    natter_actions::ResolveError::Policy(p) => {
                        Error::Host(format!("refused by the bot's [network] policy: {p}"))
                    }
                    other => Error::Host(other.to_string()),
                })?;
        Ok(ips
            .into_iter()
            .map(|ip| std::net::SocketAddr::new(ip, port))
            .collect())
    }

    async fn read_attachment(
        &self,
        conv: &ConversationRef,
        attachment_id: &str,
        max_bytes: usize,
    ) -> Result<Vec<u8>, Error> {
        let found = self
            .store
            .attachments(&conv.conversation_id, &[attachment_id.to_string()])
            .await
            .map_err(store_err)?;
        let a = found.first().ok_or_else(|| {
            Error::Host(format!(
                "no attachment `{attachment_id}` in this conversation"
            ))
        })?;
        if a.size as usize > max_bytes {
            return Err(Error::Host(format!(
                "attachment `{attachment_id}` is {} bytes; read_attachment returns at most {max_bytes} (download its url instead)",
                a.size
            )));
        }
        let blobs = crate::attachments::blobs_for(&self.store);
        let mut out = Vec::with_capacity(a.size as usize);
        let mut n = 0;
        while let Some(chunk) = blobs.get(&a.id, n).await.map_err(store_err)? {
            out.extend_from_slice(&chunk);
            n += 1;
        }
        Ok(out)
    }
}
