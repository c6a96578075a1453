//! In-process delivery in order per conversation, for callers without a durable outbox (the
//! demo, tools, tests). The server's outbox does the same durably and should be preferred:
//! what is queued here is lost when the process stops.
//!
//! Invariants: one lane (task) per conversation key; a lane delivers its jobs strictly one
//! after another, retrying each per the client's [`RetryPolicy`](crate::RetryPolicy) until it
//! is `Delivered` or `Failed`, so a conversation's events arrive in the order submitted. Lanes
//! are bounded (queued jobs per lane, lanes in all) and end when idle.

use std::collections::HashMap;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use tokio::sync::mpsc;

use crate::client::CrmClient;
use crate::config::Crm;
use crate::deliver::{Job, Outcome};

/// Called once per job with its final outcome (`Delivered` or `Failed`).
pub type OnOutcome = Arc<dyn Fn(&str, &Job, &Outcome) + Send + Sync>;

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum LaneError {
    #[error("conversation `{0}` already has {1} webhooks waiting")]
    LaneFull(String, usize),
    #[error("{0} conversations already have webhooks waiting")]
    TooManyLanes(usize),
}

type Queued = (Arc<Crm>, Job);

pub struct Lanes {
    client: CrmClient,
    on_outcome: OnOutcome,
    per_lane: usize,
    max_lanes: usize,
    idle: Duration,
    lanes: Mutex<HashMap<String, mpsc::Sender<Queued>>>,
}

impl Lanes {
    /// `per_lane` jobs may wait per conversation, `max_lanes` conversations at once.
    pub fn new(
        client: CrmClient,
        per_lane: usize,
        max_lanes: usize,
        on_outcome: OnOutcome,
    ) -> Arc<Lanes> {
        Arc::new(Lanes {
            client,
            on_outcome,
            per_lane: per_lane.max(1),
            max_lanes: max_lanes.max(1),
            idle: Duration::from_secs(30),
            lanes: Mutex::new(HashMap::new()),
        })
    }

    /// Queues `job` behind the earlier jobs of `conversation` (e.g. the
    /// `platformConversationId`, prefixed with the bot when several bots share the lanes).
    pub fn submit(
        self: &Arc<Self>,
        conversation: &str,
        crm: Arc<Crm>,
        job: Job,
    ) -> Result<(), LaneError> {
        let mut lanes = self.lanes.lock().unwrap();
        if let Some(tx) = lanes.get(conversation) {
            return tx
                .try_send((crm, job))
                .map_err(|_| LaneError::LaneFull(conversation.to_string(), self.per_lane));
        }
        if lanes.len() >= self.max_lanes {
            return Err(LaneError::TooManyLanes(self.max_lanes));
        }
        let (tx, rx) = mpsc::channel(self.per_lane);
        tx.try_send((crm, job)).expect("a new lane has room");
        lanes.insert(conversation.to_string(), tx);
        tokio::spawn(self.clone().run(conversation.to_string(), rx));
        Ok(())
    }

    /// Conversations with a live lane.
    pub fn active(&self) -> usize {
        self.lanes.lock().unwrap().len()
    }

    async fn run(self: Arc<Self>, key: String, mut rx: mpsc::Receiver<Queued>) {
        loop {
            let next = match tokio::time::timeout(self.idle, rx.recv()).await {
                Ok(Some(item)) => item,
                // Closed cannot happen while the map holds the sender; treat it as idle.
                Ok(None) | Err(_) => {
                    // Under the map's lock no job can be added behind our back: retire only
                    // if nothing arrived meanwhile.
                    let mut lanes = self.lanes.lock().unwrap();
                    match rx.try_recv() {
                        Ok(item) => {
                            drop(lanes);
                            item
                        }
                        Err(_) => {
                            lanes.remove(&key);
                            return;
                        }
                    }
                }
            };
            let (crm, mut job) = next;
            let outcome = loop {
                match self.client.deliver(&crm, &job).await {
                    Outcome::RetryAt { after, .. } => {
                        tokio::time::sleep(after).await;
                        job.attempt += 1;
                    }
                    done => break done,
                }
            };
            (self.on_outcome)(&key, &job, &outcome);
        }
    }
}
