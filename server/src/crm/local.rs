//! The built-in local CRM (`[crm] local = true`): the receiving end of the bot's chat webhook
//! inside Natter itself, so the demo's agent console works without a third-party CRM.
//!
//! It is a CRM like any other to the rest of the server — webhooks reach it signed, over HTTP,
//! through the outbox — and the console answers through the public inbound API
//! (`POST /agent/converse/send-message-to-widget`) with the bot's API key. It keeps the
//! conversations it heard of in memory (bounded; lost on restart: a demo, not a CRM).
//! `escalate` is accepted and `isTeamOnline` answers `true` while a console polled within the
//! last minute.

use std::collections::{HashMap, VecDeque};
use std::sync::Mutex;
use std::time::{Duration, Instant};

use serde::Serialize;
use serde_json::Value;

pub const WEBHOOK_PATH: &str = "/local-crm/converse-webhook";
/// Conversations kept; the oldest is dropped beyond this.
const MAX_CONVERSATIONS: usize = 1000;
const MAX_LINES: usize = 500;

#[derive(Debug, Clone, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct Line {
    /// `visitor`, `agent` or `system`.
    pub from: String,
    pub text: String,
    /// Files sent with the line: `{id, name, type, size, url}` (`url` signed, short-lived).
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub files: Vec<Value>,
}

#[derive(Debug, Clone, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct Conversation {
    pub platform_conversation_id: String,
    pub bot: String,
    /// `waiting`, `active` (an agent joined) or `ended`.
    pub status: String,
    pub lines: Vec<Line>,
}

#[derive(Default)]
pub struct LocalCrm {
    inner: Mutex<Inner>,
}

#[derive(Default)]
struct Inner {
    convs: HashMap<String, Conversation>,
    order: VecDeque<String>,
    /// Webhook ids seen (the outbox delivers at least once).
    seen: VecDeque<String>,
    console_seen: Option<Instant>,
}

impl LocalCrm {
    /// Takes one received chat webhook (signature already checked). Returns the synchronous
    /// answer body for `isTeamOnline`.
    pub fn receive(&self, bot: &str, webhook_id: &str, body: &Value) -> Option<Value> {
        let mut g = self.inner.lock().unwrap();
        let data = &body["data"];
        let event = data["eventType"].as_str().unwrap_or_default();
        if event == "isTeamOnline" {
            let online = g
                .console_seen
                .is_some_and(|t| t.elapsed() < Duration::from_secs(60));
            return Some(serde_json::json!({ "isOnline": online }));
        }
        if g.seen.contains(&webhook_id.to_string()) {
            return None;
        }
        g.seen.push_back(webhook_id.to_string());
        if g.seen.len() > 4 * MAX_CONVERSATIONS {
            g.seen.pop_front();
        }
        let pcid = data["platformConversationId"].as_str()?;
        let text = data["text"].as_str().unwrap_or_default().to_string();
        match event {
            "widgetEscalate" => {
                let c = g.conv(bot, pcid);
                c.status = "waiting".into();
                c.push("system", "The visitor asked for a person.".into());
            }
            "widgetMessage" => {
                let files = data["attachments"].as_array().cloned().unwrap_or_default();
                g.conv(bot, pcid).push_files("visitor", text, files)
            }
            "widgetEndSession" => {
                let c = g.conv(bot, pcid);
                c.status = "ended".into();
                c.push("system", "The visitor ended the conversation.".into());
            }
            _ => {}
        }
        None
    }

    /// An agent's action through the inbound API, for the console's view.
    pub fn note_agent(
        &self,
        bot: &str,
        pcid: &str,
        from: &str,
        text: String,
        status: Option<&str>,
    ) {
        let mut g = self.inner.lock().unwrap();
        let c = g.conv(bot, pcid);
        if let Some(s) = status {
            c.status = s.into();
        }
        c.push(from, text);
    }

    /// An agent's message (text and files), for the console's view.
    pub fn note_agent_files(&self, bot: &str, pcid: &str, text: String, files: Vec<Value>) {
        let mut g = self.inner.lock().unwrap();
        let c = g.conv(bot, pcid);
        c.status = "active".into();
        c.push_files("agent", text, files);
    }

    /// The bot's conversations, newest first.
    pub fn list(&self, bot: &str) -> Vec<Conversation> {
        let mut g = self.inner.lock().unwrap();
        g.console_seen = Some(Instant::now());
        g.order
            .iter()
            .rev()
            .filter_map(|id| g.convs.get(id))
            .filter(|c| c.bot == bot)
            .cloned()
            .collect()
    }
}

impl Inner {
    fn conv(&mut self, bot: &str, pcid: &str) -> &mut Conversation {
        let key = format!("{bot}\u{0}{pcid}");
        if !self.convs.contains_key(&key) {
            if self.order.len() >= MAX_CONVERSATIONS {
                if let Some(old) = self.order.pop_front() {
                    self.convs.remove(&old);
                }
            }
            self.order.push_back(key.clone());
            let c = Conversation {
                platform_conversation_id: pcid.into(),
                bot: bot.into(),
                status: "waiting".into(),
                lines: vec![],
            };
            self.convs.insert(key.clone(), c);
        }
        self.convs.get_mut(&key).expect("inserted")
    }
}

impl Conversation {
    fn push(&mut self, from: &str, text: String) {
        self.push_files(from, text, Vec::new());
    }

    fn push_files(&mut self, from: &str, text: String, files: Vec<Value>) {
        if self.lines.len() >= MAX_LINES {
            self.lines.remove(0);
        }
        self.lines.push(Line {
            from: from.into(),
            text,
            files,
        });
    }
}
