//! Live tails: the streamed events of replies in progress, held in memory until they are durable.
//!
//! A reply's `message.started` and `message.delta` events are streamed as soon as the agent
//! produces them, without a commit each: they get their seq here, go to subscribers at once,
//! and wait in the thread's tail until the next durable write of that thread (the completed
//! message, the run's end, a hand-off, any other event) writes them as rows in its own commit,
//! before its own events. Readers of the log ([`crate::store::Store::events_after`]) see the
//! durable log followed by the tail, so a client resuming mid-reply gets the deltas from memory.
//!
//! A batch ends in two steps (see [`super::sqlite_sync`]): at its COMMIT the writer applies
//! what its next batch needs ([`Live::committed`]: runs started and ended, the rows written);
//! after the WAL flush that makes the batch durable, the sync thread publishes its events and
//! frees its threads ([`Live::synced`]). Batches are synced in commit order.
//!
//! Invariants (the writer, the sync thread and [`Live::stream`] keep them together, under one
//! lock):
//! - One seq counter per live thread (`last`), shared by streamed and durable events: seqs
//!   stay 1, 2, 3, … with no gap, and every event reaches subscribers in seq order.
//! - While a batch that wrote a thread is not synced yet (`holds` > 0), streamed events wait
//!   (`deferred`, no seq yet): they get their seq after that write is published, or are written
//!   by a later one. So a seq handed to a durable event is never overtaken by a streamed one.
//! - A streamed event never gets a seq above the thread's durable reservation (`reserved`,
//!   `threads.seq_reserved`): after a crash, the next start records every seq up to the
//!   reservation that the log lacks as `stream.lost` before the interrupted run's `run.failed`,
//!   so a seq a client saw is never given to another event.
//! - An event leaves the tail only after the flush that made it durable; a later batch does not
//!   write it again (`written`).
//! - A thread is live from the commit that starts a run on it to the commit that ends its last
//!   run; other threads have no tail and all their events are durable before they are streamed.

use std::collections::{HashMap, VecDeque};
use std::sync::{Arc, Mutex};

use natter_protocol::EventPayload;

use super::{EventSink, StoredEvent};
use crate::time::now_rfc3339;

/// Seqs reserved ahead of a live thread's last seq (one reservation covers a short reply).
pub const RESERVE: u64 = 32;
/// A new reservation is asked for when fewer seqs than this are left.
const LOW_WATER: u64 = 12;

/// An event serialized outside the writer, waiting for its seq.
#[derive(Debug, Clone)]
pub struct Prepared {
    pub event_type: &'static str,
    pub created_at: String,
    /// The payload as JSON (`{"type":…, …fields}`).
    payload: String,
}

impl Prepared {
    pub fn new(payload: &EventPayload) -> Self {
        Prepared {
            event_type: payload.event_type(),
            created_at: now_rfc3339(),
            payload: serde_json::to_string(payload).expect("event payloads serialize"),
        }
    }

    /// The stored event with this seq: the `EventEnvelope` JSON, spliced (no re-serialization).
    pub fn seal(&self, thread_id: &str, seq: u64) -> Arc<StoredEvent> {
        let mut json = String::with_capacity(self.payload.len() + thread_id.len() + 64);
        json.push_str("{\"seq\":");
        json.push_str(&seq.to_string());
        json.push_str(",\"threadId\":");
        json.push_str(&serde_json::to_string(thread_id).expect("strings serialize"));
        json.push_str(",\"createdAt\":\"");
        json.push_str(&self.created_at);
        json.push_str("\",");
        json.push_str(&self.payload[1..]);
        Arc::new(StoredEvent {
            seq,
            event_type: self.event_type.to_string(),
            json,
        })
    }
}

#[derive(Debug, Default)]
pub(super) struct Tail {
    /// Runs started and not ended on this thread.
    runs: u32,
    /// Last seq given out (durable or streamed).
    pub(super) last: u64,
    /// Waiting for a seq, in order.
    pub(super) deferred: VecDeque<Prepared>,
    /// Streamed events may use seqs up to this (durable).
    pub(super) reserved: u64,
    /// A reservation is being committed.
    reserving: bool,
    /// Batches that wrote this thread (or started a run on it) and are not synced yet.
    holds: u32,
    /// The last streamed event a committed batch wrote as a row (it stays in `pending` until
    /// that batch is synced).
    written: u64,
    /// Streamed and not durable yet, in seq order.
    pending: VecDeque<Arc<StoredEvent>>,
}

/// What [`Live::stream`] did.
#[derive(Debug, PartialEq, Eq)]
pub enum Streamed {
    /// Queued (and streamed, unless waiting for a commit or a reservation).
    Queued {
        /// The caller must ask the writer for a new reservation.
        reserve: bool,
    },
    /// The thread has no live run: the caller must append the events durably.
    NotLive,
}

/// What the writer must write before its own events on a live thread.
pub(super) struct Flush {
    /// Streamed events not yet written (in this transaction).
    pub rows: Vec<Arc<StoredEvent>>,
    /// Deferred events sealed now: written, and published after the commit.
    pub sealed: Vec<Arc<StoredEvent>>,
    /// The events moved out of `deferred` (restored if the write rolls back).
    pub taken: Vec<Prepared>,
}

/// The live tails of all threads with runs in progress.
pub struct Live {
    tails: Mutex<HashMap<String, Tail>>,
    sink: Arc<dyn EventSink>,
}

impl Live {
    pub fn new(sink: Arc<dyn EventSink>) -> Self {
        Live {
            tails: Mutex::default(),
            sink,
        }
    }

    pub fn sink(&self) -> &dyn EventSink {
        &*self.sink
    }

    /// Streams events of a reply in progress: seqs now, subscribers now, durable later.
    pub fn stream(&self, thread_id: &str, events: &[EventPayload]) -> Streamed {
        let prepared: Vec<Prepared> = events.iter().map(Prepared::new).collect();
        let mut tails = self.tails.lock().unwrap();
        let Some(tail) = tails.get_mut(thread_id) else {
            return Streamed::NotLive;
        };
        tail.deferred.extend(prepared);
        self.release(thread_id, tail);
        let wanted = tail.last + tail.deferred.len() as u64 + LOW_WATER;
        let short = tail.reserved < wanted;
        let reserve = short && !tail.reserving;
        if reserve {
            tail.reserving = true;
        }
        Streamed::Queued { reserve }
    }

    /// Seals and publishes deferred events while the thread is idle and reserved.
    fn release(&self, thread_id: &str, tail: &mut Tail) {
        if tail.holds > 0 {
            return;
        }
        let mut out = Vec::new();
        while tail.last < tail.reserved {
            let Some(p) = tail.deferred.pop_front() else {
                break;
            };
            tail.last += 1;
            let ev = p.seal(thread_id, tail.last);
            tail.pending.push_back(ev.clone());
            out.push(ev);
        }
        if !out.is_empty() {
            self.sink.published(thread_id, &out);
        }
    }

    /// The tail's events with seq > `after` (streamed, maybe not durable yet). Read it *before*
    /// the durable log: an event leaves the tail only once the log has it.
    pub fn tail_after(&self, thread_id: &str, after: u64) -> Vec<Arc<StoredEvent>> {
        let tails = self.tails.lock().unwrap();
        tails.get(thread_id).map_or_else(Vec::new, |t| {
            t.pending
                .iter()
                .filter(|e| e.seq > after)
                .cloned()
                .collect()
        })
    }

    /// Writer: the lock, for a sequence of writer steps.
    pub(super) fn lock(&self) -> std::sync::MutexGuard<'_, HashMap<String, Tail>> {
        self.tails.lock().unwrap()
    }
}

/// Writer-side operations on one locked map of tails.
pub(super) trait Tails {
    /// Returns what the thread's next write must write first (`None`: the thread is not
    /// live). `flushed`: the last seq already written in this transaction.
    fn begin_write(&mut self, thread_id: &str, flushed: u64) -> Option<Flush>;
    /// The batch being built wrote this live thread: it stays held until that batch is synced.
    fn hold(&mut self, thread_id: &str);
    /// Gives out the next seq of a live thread, or `None` if it is not live.
    fn next_seq(&mut self, thread_id: &str) -> Option<u64>;
    /// Rolls a write back: `last` as it was, the taken events deferred again.
    fn restore(&mut self, thread_id: &str, last: u64, taken: Vec<Prepared>);
}

impl Tails for HashMap<String, Tail> {
    fn begin_write(&mut self, thread_id: &str, flushed: u64) -> Option<Flush> {
        let tail = self.get_mut(thread_id)?;
        let flushed = flushed.max(tail.written);
        let rows: Vec<_> = tail
            .pending
            .iter()
            .filter(|e| e.seq > flushed)
            .cloned()
            .collect();
        let taken: Vec<Prepared> = tail.deferred.drain(..).collect();
        let mut sealed = Vec::with_capacity(taken.len());
        for p in &taken {
            tail.last += 1;
            sealed.push(p.seal(thread_id, tail.last));
        }
        Some(Flush {
            rows,
            sealed,
            taken,
        })
    }

    fn hold(&mut self, thread_id: &str) {
        if let Some(tail) = self.get_mut(thread_id) {
            tail.holds += 1;
        }
    }

    fn next_seq(&mut self, thread_id: &str) -> Option<u64> {
        let tail = self.get_mut(thread_id)?;
        tail.last += 1;
        Some(tail.last)
    }

    fn restore(&mut self, thread_id: &str, last: u64, taken: Vec<Prepared>) {
        if let Some(tail) = self.get_mut(thread_id) {
            tail.last = last;
            for p in taken.into_iter().rev() {
                tail.deferred.push_front(p);
            }
        }
    }
}

/// What a committed (or failed) batch changes in the tails: applied in part at its COMMIT
/// ([`Live::committed`]) and the rest after its flush ([`Live::synced`]).
#[derive(Default)]
pub(super) struct BatchEnd {
    /// Threads the batch wrote to while live (each held once), with the last seq written
    /// from their tail.
    pub written: Vec<(String, u64)>,
    /// Runs started: (thread, its last seq after the batch, reservation committed).
    pub started: Vec<(String, u64, u64)>,
    /// Threads whose run ended.
    pub ended: Vec<String>,
    /// Reservations committed: (thread, reserved).
    pub reserved: Vec<(String, u64)>,
}

impl Live {
    /// At the batch's COMMIT, on the writer thread, before its next batch: what that batch
    /// must see. The rows written from the tails are not written again; runs started make
    /// their thread live (held until the sync, so nothing streams before the start is
    /// durable); runs ended are counted. Nothing is published here.
    pub(super) fn committed(&self, committed: bool, end: &BatchEnd) {
        if !committed {
            return;
        }
        let mut tails = self.tails.lock().unwrap();
        for (thread, flushed) in &end.written {
            if let Some(tail) = tails.get_mut(thread) {
                tail.written = tail.written.max(*flushed);
            }
        }
        for (thread, last, _) in &end.started {
            // The writer gave the thread's seqs in this batch: `last` is exact.
            let tail = tails.entry(thread.clone()).or_default();
            tail.last = *last;
            tail.runs += 1;
            tail.holds += 1;
        }
        for thread in &end.ended {
            if let Some(tail) = tails.get_mut(thread) {
                tail.runs = tail.runs.saturating_sub(1);
            }
        }
    }

    /// After the batch's flush, on the sync thread, batches in commit order: publishes its
    /// events (under the lock, so no streamed event overtakes them), releases the holds,
    /// drops from the tails what is now durable, applies the reservations (a seq is streamed
    /// only once its reservation is durable) and streams what waited.
    pub(super) fn synced(
        &self,
        committed: bool,
        end: BatchEnd,
        publish: impl FnOnce(&dyn EventSink),
    ) {
        let mut tails = self.tails.lock().unwrap();
        if committed {
            publish(&*self.sink);
        }
        let mut touched: Vec<String> = Vec::new();
        for (thread, flushed) in end.written {
            if let Some(tail) = tails.get_mut(&thread) {
                tail.holds = tail.holds.saturating_sub(1);
                if committed {
                    while tail.pending.front().is_some_and(|e| e.seq <= flushed) {
                        tail.pending.pop_front();
                    }
                }
            }
            touched.push(thread);
        }
        if committed {
            for (thread, _, reserved) in end.started {
                if let Some(tail) = tails.get_mut(&thread) {
                    tail.holds = tail.holds.saturating_sub(1);
                    tail.reserved = tail.reserved.max(reserved);
                }
                touched.push(thread);
            }
            touched.extend(end.ended);
        }
        for (thread, reserved) in end.reserved {
            if let Some(tail) = tails.get_mut(&thread) {
                tail.reserving = false;
                if committed {
                    tail.reserved = tail.reserved.max(reserved);
                }
            }
            touched.push(thread);
        }
        for thread in touched {
            if let Some(tail) = tails.get_mut(&thread) {
                self.release(&thread, tail);
                if tail.runs == 0
                    && tail.holds == 0
                    && tail.pending.is_empty()
                    && tail.deferred.is_empty()
                {
                    tails.remove(&thread);
                }
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use natter_protocol::{ContentItem, Delta, EventEnvelope, Role};

    #[test]
    fn sealed_json_is_the_envelope_serde_writes() {
        let payload = EventPayload::MessageDelta {
            message_id: "m".into(),
            run_id: Some("r\"1".into()),
            delta: Delta {
                role: Role::Assistant,
                content: vec![ContentItem::text("c0", "He \"said\"")],
            },
        };
        let p = Prepared::new(&payload);
        let ev = p.seal("thr_\"x", 42);
        let envelope = EventEnvelope {
            seq: 42,
            thread_id: "thr_\"x".into(),
            created_at: p.created_at.clone(),
            payload,
        };
        assert_eq!(ev.json, serde_json::to_string(&envelope).unwrap());
        assert_eq!(ev.event_type, "message.delta");
    }
}
