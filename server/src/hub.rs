//! Live fan-out of events to open SSE streams.
//!
//! The store calls [`Hub::published`] in seq order: after each commit, and at once for the
//! streamed events of a reply in progress (see [`crate::store::live`]). Each thread
//! with at least one subscriber has a broadcast channel; threads nobody watches cost nothing
//! (events are not buffered for them: a subscriber always reads the log first).
//!
//! Subscribers must subscribe *before* reading the log, then skip what they already sent:
//! anything committed after the subscription is in the channel, anything before is in the log.
//! A subscriber that lags (channel overflow) or sees a seq gap reads the gap from the log.

use std::collections::HashMap;
use std::sync::{Arc, Mutex};

use tokio::sync::broadcast;

use crate::store::{EventSink, StoredEvent};

/// Events buffered per thread for slow subscribers before they must re-read the log. Small on
/// purpose: the ring is allocated up front for every watched thread (10,000 idle streams), and
/// a lagging subscriber loses nothing, it only pays a log read.
const CAPACITY: usize = 64;

#[derive(Default)]
pub struct Hub {
    channels: Mutex<HashMap<String, broadcast::Sender<Arc<StoredEvent>>>>,
}

/// A subscription; dropping it removes the thread's channel when it was the last one.
pub struct Subscription {
    pub rx: broadcast::Receiver<Arc<StoredEvent>>,
    hub: Arc<Hub>,
    thread_id: String,
}

impl Hub {
    pub fn subscribe(self: &Arc<Self>, thread_id: &str) -> Subscription {
        let mut map = self.channels.lock().unwrap();
        let rx = map
            .entry(thread_id.to_string())
            .or_insert_with(|| broadcast::channel(CAPACITY).0)
            .subscribe();
        Subscription {
            rx,
            hub: self.clone(),
            thread_id: thread_id.to_string(),
        }
    }

    pub fn open_channels(&self) -> usize {
        self.channels.lock().unwrap().len()
    }
}

impl Drop for Subscription {
    fn drop(&mut self) {
        let mut map = self.hub.channels.lock().unwrap();
        // Our receiver is still alive here, so "1" means we are the last one.
        if map
            .get(&self.thread_id)
            .is_some_and(|tx| tx.receiver_count() <= 1)
        {
            map.remove(&self.thread_id);
        }
    }
}

impl EventSink for Hub {
    fn published(&self, thread_id: &str, events: &[Arc<StoredEvent>]) {
        let map = self.channels.lock().unwrap();
        if let Some(tx) = map.get(thread_id) {
            for ev in events {
                let _ = tx.send(ev.clone());
            }
        }
    }

    fn watching(&self, thread_id: &str) -> bool {
        self.channels.lock().unwrap().contains_key(thread_id)
    }

    fn watched(&self) -> Vec<String> {
        self.channels.lock().unwrap().keys().cloned().collect()
    }
}
