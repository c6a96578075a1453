//! The SQLite store's sync thread: makes committed batches durable off the writer's path.
//!
//! The writer's connection commits without flushing (`synchronous = NORMAL` in WAL mode: the
//! COMMIT leaves the batch's frames in the WAL file, in the OS's cache). This thread flushes
//! the WAL file (`fdatasync`) while the writer runs its next batch, and only after that flush
//! answers the batch's callers, publishes its events, wakes the outbox worker and lets readers
//! see its events. One flush covers every batch committed before it; batches are handled in
//! commit order. With the flush inside the COMMIT the writer spent about 40 % of its time
//! waiting for the disk at 2,000 turns/s (bench/server/README.md).
//!
//! Invariants:
//! - No caller is answered, no subscriber sees an event and no read of a thread's log
//!   ([`Unsynced`]) returns an event before the flush that made it durable (with
//!   `Durability::Normal` there is no flush: a batch is handed over as soon as it commits).
//! - A flush that fails ends the process: after a failed `fdatasync` the kernel may have
//!   dropped the dirty pages, so neither "durable" nor "not written" can be told to a caller.
//!   The next start recovers from what the disk holds, as after a crash.

use std::collections::HashMap;
use std::fs::File;
use std::path::{Path, PathBuf};
use std::sync::{mpsc, Arc, Mutex};
use std::time::Instant;

use tokio::sync::oneshot;

use super::live::{BatchEnd, Live};
use super::sqlite_writer::Done;
use super::{EventSink, Result, StoreError, StoredEvent};
use crate::outbox::Planner;

/// One committed (or failed) batch, waiting for its flush.
pub(super) struct Batch {
    /// Its number, counted by the writer from 1.
    pub number: u64,
    pub committed: bool,
    pub end: BatchEnd,
    /// Each job's events, in commit order.
    pub events: Vec<Vec<(String, Arc<StoredEvent>)>>,
    pub replies: Vec<(oneshot::Sender<Result<Done>>, Result<Done>)>,
    /// Outbox jobs were inserted: wake the worker once they are durable.
    pub enqueued: bool,
}

/// Threads with events in batches committed but not flushed: readers of a thread's log stop
/// below the first such event, so a read never returns what a power cut could still take back.
#[derive(Default)]
pub struct Unsynced {
    /// Thread → (its first event not flushed, the last batch that wrote it).
    threads: Mutex<HashMap<String, (u64, u64)>>,
    /// Tests hold it to keep the sync thread from handing batches over.
    #[cfg(test)]
    pub(super) gate: Mutex<()>,
}

impl Unsynced {
    /// The writer committed batch `number`, which wrote these events.
    pub(super) fn committed(&self, number: u64, events: &[Vec<(String, Arc<StoredEvent>)>]) {
        let mut map = self.threads.lock().unwrap();
        for (thread, ev) in events.iter().flatten() {
            // Most events follow one of their thread's: no key copied for those.
            match map.get_mut(thread) {
                Some((first, batch)) => {
                    *first = (*first).min(ev.seq);
                    *batch = number;
                }
                None => {
                    map.insert(thread.clone(), (ev.seq, number));
                }
            }
        }
    }

    /// Batches up to `number` are flushed.
    fn synced(&self, number: u64) {
        self.threads
            .lock()
            .unwrap()
            .retain(|_, (_, batch)| *batch > number);
    }

    /// The bound a read of the thread's log must stay below (`seq < bound`).
    pub fn bound(&self, thread_id: &str) -> i64 {
        self.threads
            .lock()
            .unwrap()
            .get(thread_id)
            .map_or(i64::MAX, |(first, _)| *first as i64)
    }
}

/// The sync thread; [`Syncer::stop`] hands over what was sent and joins it.
pub(super) struct Syncer {
    tx: mpsc::Sender<Batch>,
    thread: std::thread::JoinHandle<()>,
}

/// What the sync thread works with.
pub(super) struct SyncTarget {
    /// The database's WAL file (`natter.db-wal`); `None`: commits are not flushed.
    pub wal: Option<PathBuf>,
    pub live: Arc<Live>,
    pub unsynced: Arc<Unsynced>,
    pub planner: Arc<dyn Planner>,
}

impl Syncer {
    pub fn start(target: SyncTarget) -> Result<Self> {
        let (tx, rx) = mpsc::channel::<Batch>();
        let thread = std::thread::Builder::new()
            .name("natter-store-sync".into())
            .spawn(move || run(target, rx))
            .map_err(|e| StoreError::Corrupt(format!("spawn sync thread: {e}")))?;
        Ok(Syncer { tx, thread })
    }

    pub fn send(&self, batch: Batch) {
        // The thread only ends when this sender is dropped (stop).
        let _ = self.tx.send(batch);
    }

    pub fn stop(self) {
        drop(self.tx);
        let _ = self.thread.join();
    }
}

fn run(target: SyncTarget, rx: mpsc::Receiver<Batch>) {
    let mut wal: Option<File> = None;
    while let Ok(first) = rx.recv() {
        #[cfg(test)]
        let _gate = target.unsynced.gate.lock().unwrap();
        let mut batches = vec![first];
        batches.extend(rx.try_iter());
        if let Some(path) = &target.wal {
            if batches.iter().any(|b| b.committed) {
                let started = Instant::now();
                if let Err(e) = flush(path, &mut wal) {
                    tracing::error!(error = %e, path = %path.display(), "WAL flush failed; stopping");
                    std::process::abort();
                }
                crate::metrics::global()
                    .store_flush
                    .observe(started.elapsed().as_secs_f64());
            }
        }
        let last = batches.last().map_or(0, |b| b.number);
        // Readers first, then the tails: a reader takes the tail before the log, so an event
        // is in one or the other at every moment.
        target.unsynced.synced(last);
        for batch in batches {
            let events = batch.events;
            target.live.synced(batch.committed, batch.end, |sink| {
                for job in events {
                    publish(sink, job);
                }
            });
            for (reply, res) in batch.replies {
                let _ = reply.send(res);
            }
            if batch.enqueued {
                target.planner.enqueued();
            }
        }
    }
}

/// `fdatasync` of the WAL file, opened on first use. The writer's connection keeps the file in
/// place (SQLite deletes it only when the last connection closes; checkpoints truncate it), so
/// one descriptor serves for the store's life; a sync through any descriptor flushes the file.
fn flush(path: &Path, wal: &mut Option<File>) -> std::io::Result<()> {
    let file = match wal {
        Some(f) => f,
        None => wal.insert(File::open(path)?),
    };
    file.sync_data()
}

fn publish(sink: &dyn EventSink, events: Vec<(String, Arc<StoredEvent>)>) {
    // Group consecutive events of one thread into one call.
    let mut iter = events.into_iter().peekable();
    while let Some((thread, first)) = iter.next() {
        let mut group = vec![first];
        while let Some((t, _)) = iter.peek() {
            if *t != thread {
                break;
            }
            group.push(iter.next().unwrap().1);
        }
        sink.published(&thread, &group);
    }
}

#[cfg(test)]
mod tests {
    use std::sync::{Arc, Mutex};
    use std::time::Duration;

    use natter_protocol::{ContentItem, EventPayload, Message, MessageOptions, Role};

    use crate::store::sqlite::{Durability, SqliteStore};
    use crate::store::{EventSink, NewThread, SendOutcome, Store, StoredEvent};

    #[derive(Default)]
    struct Seen(Mutex<Vec<String>>);

    impl EventSink for Seen {
        fn published(&self, _: &str, events: &[Arc<StoredEvent>]) {
            let mut seen = self.0.lock().unwrap();
            seen.extend(events.iter().map(|e| e.event_type.clone()));
        }
    }

    /// A committed send waits for its flush: until then its caller has no answer, no
    /// subscriber has its event and no read of the thread returns it; then all of them do.
    #[tokio::test]
    // The guard is held on purpose: it blocks the sync thread, not this runtime.
    #[allow(clippy::await_holding_lock)]
    async fn a_committed_batch_is_seen_only_after_its_flush() {
        let dir = tempfile::tempdir().unwrap();
        let seen = Arc::new(Seen::default());
        let store = Arc::new(
            SqliteStore::open(dir.path(), Durability::Full, seen.clone())
                .await
                .unwrap(),
        );
        let thread = store
            .create_thread(NewThread::plain("thr_sync", "P1"), None)
            .await
            .unwrap();
        let flushes = crate::metrics::global().store_flush.count();
        let message = Message {
            id: "msg_1".into(),
            role: Role::User,
            content: vec![ContentItem::text("c0", "hello")],
            message_options: MessageOptions::default(),
            created_at: "2026-12-07T00:00:00.000Z".into(),
            run_id: None,
            client_message_id: Some("cm1".into()),
        };

        let gate = store.hold_sync();
        let sender = store.clone();
        let send = tokio::spawn(async move {
            sender
                .send_user_message("thr_sync", message, None, "run_1".into())
                .await
        });
        // Committed: another connection sees the row.
        let db = rusqlite::Connection::open(dir.path().join("natter.db")).unwrap();
        let mut committed = false;
        for _ in 0..1000 {
            let rows: i64 = db
                .query_row(
                    "SELECT COUNT(*) FROM messages WHERE thread_id = 'thr_sync'",
                    [],
                    |r| r.get(0),
                )
                .unwrap();
            if rows == 1 {
                committed = true;
                break;
            }
            tokio::time::sleep(Duration::from_millis(5)).await;
        }
        assert!(committed, "the writer never committed the send");
        tokio::time::sleep(Duration::from_millis(50)).await;
        assert!(!send.is_finished(), "answered before the flush");
        assert!(
            seen.0.lock().unwrap().is_empty(),
            "published before the flush"
        );
        assert!(store
            .events_after(&thread.id, 0, 100)
            .await
            .unwrap()
            .is_empty());
        assert_eq!(store.last_seq(&thread.id).await.unwrap(), 0);
        assert!(store.history(&thread.id).await.unwrap().0.is_empty());
        assert!(store.message(&thread.id, "msg_1").await.unwrap().is_none());
        assert!(store
            .find_client_message(&thread.id, "cm1")
            .await
            .unwrap()
            .is_none());

        drop(gate);
        let outcome = send.await.unwrap().unwrap();
        assert!(
            matches!(outcome, SendOutcome::Created { .. }),
            "{outcome:?}"
        );
        assert_eq!(*seen.0.lock().unwrap(), ["message.created", "run.started"]);
        let events = store.events_after(&thread.id, 0, 100).await.unwrap();
        assert_eq!(events.len(), 2);
        assert!(matches!(
            serde_json::from_str::<natter_protocol::EventEnvelope>(&events[0].json)
                .unwrap()
                .payload,
            EventPayload::MessageCreated { .. }
        ));
        assert_eq!(store.history(&thread.id).await.unwrap().0.len(), 1);
        assert!(store.message(&thread.id, "msg_1").await.unwrap().is_some());
        assert!(store
            .find_client_message(&thread.id, "cm1")
            .await
            .unwrap()
            .is_some());
        assert!(crate::metrics::global().store_flush.count() > flushes);
        store.close().await;
    }
}
