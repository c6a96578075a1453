//! [`Plan`]: the store's [`Planner`] — which outbox jobs a change needs.
//!
//! - A transition to `closed` / `handed_off`: one job per handler of `conversation_closed` /
//!   `conversation_handed_off` of the bot (independent: no lane), and for a widget
//!   conversation of a bot with a CRM webhook, `widgetEscalate` (hand-off) or
//!   `widgetEndSession` (close after a hand-off).
//! - A visitor message while handed off: `widgetMessage`.
//! - A bot message on the CRM channel: `sendMessage`.
//!
//! CRM jobs of a conversation share the lane `crm:<thread id>`, so they arrive in order.

use std::collections::HashMap;
use std::sync::Arc;

use natter_protocol::{EventPayload, Message, ThreadStatus};
use tokio::sync::Notify;

use super::handlers::Catalog;
use crate::crm::{payloads, CrmBot};
use crate::outbox::{
    JobKind, NewJob, PlanThread, Planner, EVENT_BOT_MESSAGE, EVENT_CLOSED, EVENT_HANDED_OFF,
    EVENT_VISITOR_MESSAGE,
};

pub struct Plan {
    pub handlers: Catalog,
    /// Bots with a CRM, by slug; set once the server knows its address (the local CRM's URL).
    pub crm: std::sync::OnceLock<HashMap<String, Arc<CrmBot>>>,
    /// Wakes the outbox worker.
    pub notify: Arc<Notify>,
}

fn job_id() -> String {
    natter_crm::new_webhook_id()
}

fn webhook(thread_id: &str, event_type: &str, target: &str, body: Vec<u8>) -> NewJob {
    NewJob {
        id: job_id(),
        kind: JobKind::Webhook,
        lane: Some(format!("crm:{thread_id}")),
        target: target.into(),
        event_type: event_type.into(),
        body: String::from_utf8(body).unwrap_or_default(),
    }
}

impl Plan {
    /// Finds every bot's handlers; the CRM connections are set later ([`Plan::crm`]).
    pub fn prepare(bots: &crate::bots::BotRegistry) -> anyhow::Result<Arc<Plan>> {
        let handlers = Catalog::discover(bots)
            .map_err(|errs| anyhow::anyhow!("event handler errors:\n{}", errs.join("\n")))?;
        Ok(Arc::new(Plan {
            handlers,
            crm: Default::default(),
            notify: Arc::new(Notify::new()),
        }))
    }

    pub fn crm(&self) -> &HashMap<String, Arc<CrmBot>> {
        static EMPTY: std::sync::OnceLock<HashMap<String, Arc<CrmBot>>> =
            std::sync::OnceLock::new();
        self.crm
            .get()
            .unwrap_or_else(|| EMPTY.get_or_init(HashMap::new))
    }

    fn crm_with_webhook(&self, bot: &str) -> Option<&CrmBot> {
        self.crm()
            .get(bot)
            .map(|c| &**c)
            .filter(|c| c.crm.chat_webhook_url.is_some())
    }
}

impl Planner for Plan {
    fn on_transition(
        &self,
        t: &PlanThread<'_>,
        from: ThreadStatus,
        to: ThreadStatus,
        _event: &EventPayload,
    ) -> Vec<NewJob> {
        let event_type = match to {
            ThreadStatus::Closed => EVENT_CLOSED,
            ThreadStatus::HandedOff => EVENT_HANDED_OFF,
            ThreadStatus::Open => return Vec::new(),
        };
        let mut jobs: Vec<NewJob> = self
            .handlers
            .for_event(t.bot, event_type)
            .map(|h| NewJob {
                id: job_id(),
                kind: JobKind::Handler,
                lane: None,
                target: h.name.clone(),
                event_type: event_type.into(),
                body: String::new(),
            })
            .collect();
        if let (Some(crm), None) = (self.crm_with_webhook(t.bot), t.crm_channel) {
            match to {
                ThreadStatus::HandedOff => {
                    jobs.push(webhook(
                        t.id,
                        event_type,
                        "widgetEscalate",
                        payloads::widget_escalate(crm, t.id),
                    ));
                }
                ThreadStatus::Closed if from == ThreadStatus::HandedOff => {
                    jobs.push(webhook(
                        t.id,
                        event_type,
                        "widgetEndSession",
                        payloads::widget_end_session(crm, t.id),
                    ));
                }
                _ => {}
            }
        }
        jobs
    }

    fn on_visitor_message(&self, t: &PlanThread<'_>, m: &Message) -> Vec<NewJob> {
        match (self.crm_with_webhook(t.bot), t.crm_channel) {
            (Some(crm), None) => {
                vec![webhook(
                    t.id,
                    EVENT_VISITOR_MESSAGE,
                    "widgetMessage",
                    payloads::widget_message(crm, t.id, m),
                )]
            }
            _ => Vec::new(),
        }
    }

    fn on_bot_message(&self, t: &PlanThread<'_>, m: &Message) -> Vec<NewJob> {
        match (self.crm_with_webhook(t.bot), t.crm_channel) {
            (Some(crm), Some(pcid)) => {
                vec![webhook(
                    t.id,
                    EVENT_BOT_MESSAGE,
                    "sendMessage",
                    payloads::send_message(crm, pcid, t.id, m),
                )]
            }
            _ => Vec::new(),
        }
    }

    fn enqueued(&self) {
        self.notify.notify_one();
    }
}
