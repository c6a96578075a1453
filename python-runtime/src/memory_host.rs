//! An in-memory [`Host`]: for this crate's tests, and as the reference for what the server's
//! store-backed implementation must do (idempotent tags and hand-offs, sticky A/B variants).

use crate::host::{
    ClassifyRequest, ConversationEvent, ConversationRef, HandOffOutcome, HandOffRequest, Host,
    TagAdded,
};
use crate::sheets::GoogleSheets;
use crate::Error;
use async_trait::async_trait;
use serde_json::{Map, Value};
use std::collections::HashMap;
use std::sync::Mutex;

/// One conversation's state.
#[derive(Debug, Default, Clone)]
pub struct MemConversation {
    pub metadata: Map<String, Value>,
    /// (tag id, tag)
    pub tags: Vec<(String, String)>,
    /// (event id, event)
    pub events: Vec<(String, ConversationEvent)>,
    /// Every hand-off request that reached the host, in order.
    pub hand_offs: Vec<HandOffRequest>,
    pub handed_off: bool,
    pub ab: HashMap<String, String>,
}

type Llm = Box<dyn Fn(&ClassifyRequest) -> Result<String, Error> + Send + Sync>;

/// Conversations in a map; an optional LLM function; an optional Sheets client; the
/// `host:port` pairs the code may connect to (no address policy: tests use loopback).
#[derive(Default)]
pub struct InMemoryHost {
    conversations: Mutex<HashMap<String, MemConversation>>,
    next_id: Mutex<u64>,
    llm: Option<Llm>,
    sheets: Option<GoogleSheets>,
    egress: Vec<String>,
}

impl InMemoryHost {
    pub fn new() -> Self {
        Self::default()
    }

    /// Answer LLM classifications with `f` (without it the bot "has no LLM configured").
    pub fn with_llm(
        mut self,
        f: impl Fn(&ClassifyRequest) -> Result<String, Error> + Send + Sync + 'static,
    ) -> Self {
        self.llm = Some(Box::new(f));
        self
    }

    /// Let the code connect to these `host:port` pairs (exactly as the code names them).
    pub fn with_egress(mut self, targets: &[&str]) -> Self {
        self.egress = targets.iter().map(|t| t.to_string()).collect();
        self
    }

    /// Append Sheets rows with this client.
    pub fn with_sheets(mut self, sheets: GoogleSheets) -> Self {
        self.sheets = Some(sheets);
        self
    }

    /// A snapshot of a conversation's state (default when never touched).
    pub fn conversation(&self, id: &str) -> MemConversation {
        self.conversations
            .lock()
            .unwrap()
            .get(id)
            .cloned()
            .unwrap_or_default()
    }

    /// Mark a conversation handed off (to test idempotence).
    pub fn set_handed_off(&self, id: &str) {
        self.conversations
            .lock()
            .unwrap()
            .entry(id.to_string())
            .or_default()
            .handed_off = true;
    }

    fn id(&self, prefix: &str) -> String {
        let mut n = self.next_id.lock().unwrap();
        *n += 1;
        format!("{prefix}_{n}")
    }

    fn with<T>(&self, conv: &ConversationRef, f: impl FnOnce(&mut MemConversation) -> T) -> T {
        let mut all = self.conversations.lock().unwrap();
        f(all.entry(conv.conversation_id.clone()).or_default())
    }
}

#[async_trait]
impl Host for InMemoryHost {
    async fn get_metadata(
        &self,
        conv: &ConversationRef,
        key: &str,
    ) -> Result<Option<Value>, Error> {
        Ok(self.with(conv, |c| c.metadata.get(key).cloned()))
    }

    async fn set_metadata(
        &self,
        conv: &ConversationRef,
        key: &str,
        value: Value,
    ) -> Result<(), Error> {
        self.with(conv, |c| c.metadata.insert(key.to_string(), value));
        Ok(())
    }

    async fn delete_metadata(&self, conv: &ConversationRef, key: &str) -> Result<bool, Error> {
        Ok(self.with(conv, |c| c.metadata.remove(key).is_some()))
    }

    async fn add_tag(&self, conv: &ConversationRef, tag: &str) -> Result<TagAdded, Error> {
        let fresh = self.id("tag");
        Ok(
            self.with(conv, |c| match c.tags.iter().find(|(_, t)| t == tag) {
                Some((id, _)) => TagAdded {
                    tag_id: id.clone(),
                    already_present: true,
                },
                None => {
                    c.tags.push((fresh.clone(), tag.to_string()));
                    TagAdded {
                        tag_id: fresh,
                        already_present: false,
                    }
                }
            }),
        )
    }

    async fn add_event(
        &self,
        conv: &ConversationRef,
        event: ConversationEvent,
    ) -> Result<String, Error> {
        let id = self.id("evt");
        self.with(conv, |c| c.events.push((id.clone(), event)));
        Ok(id)
    }

    async fn hand_off(
        &self,
        conv: &ConversationRef,
        request: HandOffRequest,
    ) -> Result<HandOffOutcome, Error> {
        Ok(self.with(conv, |c| {
            c.hand_offs.push(request.clone());
            if c.handed_off {
                HandOffOutcome::AlreadyHandedOff
            } else {
                c.handed_off = true;
                if request.phone_destination.is_some() {
                    HandOffOutcome::CallTransferred
                } else {
                    HandOffOutcome::HandedOff
                }
            }
        }))
    }

    async fn llm_classify(
        &self,
        _bot: &str,
        request: ClassifyRequest,
    ) -> Result<Option<String>, Error> {
        match &self.llm {
            None => Ok(None),
            Some(f) => f(&request).map(Some),
        }
    }

    async fn ab_test_variant(
        &self,
        conv: &ConversationRef,
        test: &str,
        candidate: &str,
        allowed: &[String],
    ) -> Result<String, Error> {
        Ok(self.with(conv, |c| match c.ab.get(test) {
            Some(v) if allowed.contains(v) => v.clone(),
            _ => {
                c.ab.insert(test.to_string(), candidate.to_string());
                candidate.to_string()
            }
        }))
    }

    async fn sheets_append(
        &self,
        _bot: &str,
        sheet_id: &str,
        row: Vec<Value>,
    ) -> Result<Value, Error> {
        match &self.sheets {
            Some(s) => s.append_row(sheet_id, row).await,
            None => Err(Error::Host(
                "Google Sheets is not configured for this bot".into(),
            )),
        }
    }

    async fn egress(
        &self,
        _bot: &str,
        host: &str,
        port: u16,
    ) -> Result<Vec<std::net::SocketAddr>, Error> {
        if !self.egress.contains(&format!("{host}:{port}")) {
            return Err(Error::Host(format!("`{host}:{port}` is not allowed")));
        }
        let found = tokio::net::lookup_host((host, port)).await?;
        Ok(found.collect())
    }
}
