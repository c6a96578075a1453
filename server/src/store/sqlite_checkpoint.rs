//! The SQLite store's WAL checkpoints, and the disk the WAL keeps.
//!
//! A thread of its own copies the WAL into the database every [`CHECKPOINT_EVERY`] (PASSIVE:
//! it never blocks the writer or readers), so commits never pay for it; at stop a TRUNCATE
//! checkpoint folds the WAL into the database and empties it.
//!
//! SQLite writes the WAL from its start again only when a write begins after a checkpoint
//! copied all of it. While writes never pause (a load near the writer's capacity) that does
//! not happen and the file grows by every page written; with the first pause it does, and the
//! writer's connection (`journal_size_limit` = [`WAL_KEEP_BYTES`], set in
//! [`super::sqlite_writer`]) then cuts the file back, so a burst's WAL does not keep its disk
//! until the next stop. A WAL at or under that size is reused as it is (no blocks to allocate).

use std::path::PathBuf;
use std::sync::mpsc::{self, RecvTimeoutError};
use std::time::Duration;

use rusqlite::Connection;

use super::{Result, StoreError};

/// Pause between background checkpoints.
const CHECKPOINT_EVERY: Duration = Duration::from_millis(500);

/// The WAL file's size kept on disk once it starts over (`journal_size_limit`).
#[cfg(not(test))]
pub(super) const WAL_KEEP_BYTES: u64 = 64 << 20;
#[cfg(test)]
pub(super) const WAL_KEEP_BYTES: u64 = 1 << 20;

/// The checkpoint thread, on a connection of its own.
pub(super) struct Checkpointer {
    stop: mpsc::Sender<()>,
    thread: std::thread::JoinHandle<()>,
}

impl Checkpointer {
    /// `path`: the database file.
    pub fn start(path: PathBuf) -> Result<Self> {
        let db = |e: rusqlite::Error| StoreError::Corrupt(format!("sqlite: {e}"));
        let conn = Connection::open(&path).map_err(db)?;
        conn.busy_timeout(Duration::from_secs(10)).map_err(db)?;
        let (stop, stopped) = mpsc::channel::<()>();
        let thread = std::thread::Builder::new()
            .name("natter-store-checkpoint".into())
            .spawn(move || {
                let checkpoint = |mode: &str| {
                    if let Err(e) =
                        conn.query_row(&format!("PRAGMA wal_checkpoint({mode})"), [], |_| Ok(()))
                    {
                        tracing::warn!(error = %e, mode, "WAL checkpoint failed");
                    }
                };
                // Until stop() is called (or the sender is dropped).
                while let Err(RecvTimeoutError::Timeout) = stopped.recv_timeout(CHECKPOINT_EVERY)
                {
                    checkpoint("PASSIVE");
                }
                checkpoint("TRUNCATE");
            })
            .map_err(|e| StoreError::Corrupt(format!("spawn checkpointer: {e}")))?;
        Ok(Checkpointer { stop, thread })
    }

    pub fn stop(self) {
        let _ = self.stop.send(());
        let _ = self.thread.join();
    }
}

#[cfg(test)]
mod tests {
    use std::sync::Arc;
    use std::time::{Duration, Instant};

    use natter_protocol::EventPayload;

    use super::{CHECKPOINT_EVERY, WAL_KEEP_BYTES};
    use crate::store::sqlite::{Durability, SqliteStore};
    use crate::store::{EventSink, NewThread, Store, StoredEvent};

    struct Nobody;

    impl EventSink for Nobody {
        fn published(&self, _: &str, _: &[Arc<StoredEvent>]) {}
    }

    fn wal_bytes(dir: &std::path::Path) -> u64 {
        std::fs::metadata(dir.join("natter.db-wal")).map_or(0, |m| m.len())
    }

    /// Writes without a pause grow the WAL past what is kept; once they pause, the next write
    /// starts it over and its file is cut back, and every write is still there.
    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn a_bursts_wal_is_given_back_after_the_burst() {
        let dir = tempfile::tempdir().unwrap();
        let store = Arc::new(
            SqliteStore::open(dir.path(), Durability::Full, Arc::new(Nobody))
                .await
                .unwrap(),
        );
        const WRITERS: usize = 8;
        for i in 0..WRITERS {
            let thread = NewThread {
                id: format!("thr_{i}"),
                public_id: format!("P{i}"),
                bot: "b".into(),
                sub: None,
                subject: None,
                metadata: Default::default(),
                channel: "web".into(),
                browser_session: None,
            };
            store.create_thread(thread, None).await.unwrap();
        }
        let typing = || vec![EventPayload::AgentTyping { typing: true }; 8];
        // Until the WAL is well past the size kept (a few hundred writes).
        let writers: Vec<_> = (0..WRITERS)
            .map(|i| {
                let (store, dir) = (store.clone(), dir.path().to_owned());
                tokio::spawn(async move {
                    let until = Instant::now() + Duration::from_secs(20);
                    loop {
                        let last = store.append(&format!("thr_{i}"), typing()).await.unwrap()[7].seq;
                        if wal_bytes(&dir) >= 4 * WAL_KEEP_BYTES || Instant::now() > until {
                            break last;
                        }
                    }
                })
            })
            .collect();
        let mut last = Vec::new();
        for w in writers {
            last.push(w.await.unwrap());
        }
        let grown = wal_bytes(dir.path());
        assert!(grown >= 4 * WAL_KEEP_BYTES, "the writes grew the WAL to {grown} bytes only");

        // A pause long enough for a checkpoint to copy all of it, then a write.
        tokio::time::sleep(CHECKPOINT_EVERY * 3).await;
        store.append("thr_0", typing()).await.unwrap();
        let after = wal_bytes(dir.path());
        assert!(
            after <= WAL_KEEP_BYTES,
            "the WAL kept {after} bytes after the burst (grown to {grown}, {WAL_KEEP_BYTES} kept)"
        );
        for (i, last) in last.iter().enumerate() {
            let thread = format!("thr_{i}");
            assert_eq!(store.last_seq(&thread).await.unwrap(), *last + 8 * (i == 0) as u64);
        }
    }
}
