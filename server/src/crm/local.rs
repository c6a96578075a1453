//! The built-in local CRM (`[crm] local = true`): the receiving end of the bot's chat webhook
//! inside Natter itself, so the demo's agent console works without a third-party CRM.
//!
//! It is a CRM like any other to the rest of the server — webhooks reach it signed, over HTTP,
//! through the outbox — and the console answers through the public inbound API
//! (`POST /agent/converse/send-message-to-widget`) with the bot's API key. What it heard (its
//! conversations and their lines, the webhook ids it took) and when each agent console last
//! looked live in the store ([`crate::store::local_crm`]), so every instance on one database
//! shows the same queue and a webhook delivered again changes nothing. `escalate` is accepted
//! and `isTeamOnline` answers `true` while a console of the bot polled within the last minute.

use std::sync::Arc;

use serde_json::Value;

use crate::attachments::{sign, SIGNED_URL_TTL};
use crate::outbox::now_ms;
use crate::store::local_crm::{Conversation, Note};
use crate::store::{Store, StoreError};

pub const WEBHOOK_PATH: &str = "/local-crm/converse-webhook";
/// A console that polled within this long counts as an agent online.
const ONLINE_MS: i64 = 60_000;

pub struct LocalCrm {
    store: Arc<dyn Store>,
}

impl LocalCrm {
    pub fn new(store: Arc<dyn Store>) -> Self {
        LocalCrm { store }
    }

    /// Takes one received chat webhook (signature already checked). Returns the synchronous
    /// answer body for `isTeamOnline`.
    pub async fn receive(
        &self,
        bot: &str,
        webhook_id: &str,
        body: &Value,
    ) -> Result<Option<Value>, StoreError> {
        let data = &body["data"];
        let event = data["eventType"].as_str().unwrap_or_default();
        if event == "isTeamOnline" {
            let online = self
                .store
                .local_crm_online(bot, now_ms() - ONLINE_MS)
                .await?;
            return Ok(Some(serde_json::json!({ "isOnline": online })));
        }
        let Some(pcid) = data["platformConversationId"].as_str() else {
            return Ok(None);
        };
        let text = data["text"].as_str().unwrap_or_default().to_string();
        let mut files = Vec::new();
        let (from, text, status) = match event {
            "widgetEscalate" => (
                "system",
                "The visitor asked for a person.".into(),
                Some("waiting"),
            ),
            "widgetMessage" => {
                files = data["attachments"]
                    .as_array()
                    .map(|a| a.iter().map(unsigned).collect())
                    .unwrap_or_default();
                ("visitor", text, None)
            }
            "widgetEndSession" => (
                "system",
                "The visitor ended the conversation.".into(),
                Some("ended"),
            ),
            _ => return Ok(None),
        };
        self.store
            .local_crm_note(Note {
                bot: bot.into(),
                platform_conversation_id: pcid.into(),
                webhook_id: Some(webhook_id.into()),
                from: from.into(),
                text,
                files,
                status: status.map(Into::into),
            })
            .await?;
        Ok(None)
    }

    /// An agent's action through the inbound API (with the files of an agent's message), for
    /// the console's view.
    pub async fn note_agent(
        &self,
        bot: &str,
        pcid: &str,
        from: &str,
        text: String,
        files: &[Value],
        status: Option<&str>,
    ) -> Result<(), StoreError> {
        self.store
            .local_crm_note(Note {
                bot: bot.into(),
                platform_conversation_id: pcid.into(),
                webhook_id: None,
                from: from.into(),
                text,
                files: files.iter().map(unsigned).collect(),
                status: status.map(Into::into),
            })
            .await
            .map(|_| ())
    }

    /// The bot's conversations, newest first, as `agent`'s console sees them (which counts
    /// as that agent being online).
    pub async fn list(&self, bot: &str, agent: &str) -> Result<Vec<Conversation>, StoreError> {
        self.store
            .local_crm_agent_seen(bot, agent, now_ms())
            .await?;
        let mut convs = self.store.local_crm_conversations(bot).await?;
        // Stored without URLs (a signed URL expires): each answer signs them anew. The local
        // CRM's conversation id is the thread id.
        for c in &mut convs {
            for f in c.lines.iter_mut().flat_map(|l| l.files.iter_mut()) {
                if let Some(id) = f["id"].as_str() {
                    let url = sign::signed_path(&c.platform_conversation_id, id, SIGNED_URL_TTL);
                    f["url"] = Value::String(url);
                }
            }
        }
        Ok(convs)
    }
}

/// A file as stored for the console: `{id, name, type, size}` (no URL).
fn unsigned(f: &Value) -> Value {
    serde_json::json!({"id": f["id"], "name": f["name"], "type": f["type"], "size": f["size"]})
}
