//! The SQLite store's WAL checkpoints, and the disk the WAL keeps.
//!
//! A thread of its own copies the WAL into the database every [`CHECKPOINT_EVERY`] (PASSIVE:
//! it never blocks the writer or readers), so commits never pay for it; at stop a TRUNCATE
//! checkpoint folds the WAL into the database and empties it. It flushes the database file
//! after every pass that copied pages: otherwise the pages copied pile up in the OS's cache
//! until one large flush (the kernel's, or the one below) keeps the disk busy for a while, and
//! every commit's WAL flush waits behind it (measured: periods of 0.3–0.8 s in which every
//! reply was late, starting with each large flush).
//!
//! SQLite writes the WAL from its start again only when a write begins after a checkpoint
//! copied all of it. With the first pause in writes that happens on its own, and the writer's
//! connection (`journal_size_limit` = [`WAL_KEEP_BYTES`], set in [`super::sqlite_writer`])
//! then cuts the file back, so a burst's WAL does not keep its disk. But while commits follow
//! each other faster than a pass ends (a few hundred turns/s on a small box), every pass ends
//! behind the writer and the WAL would grow by every page written, without bound.
//!
//! So once a pass finds more than [`REWIND_AT`] in the WAL, the thread runs passes back to
//! back (each copies what came during the one before) and then asks the writer to copy the
//! rest itself between two groups ([`Rewind::after_group`]): its next group writes from the
//! WAL's start, unless a reader still reads frames of the old WAL (SQLite checks that; the
//! next pass asks again). The thread flushes the database file after each of its passes
//! first, so that the writer's checkpoint flushes only the pages it copies itself. That step
//! still holds the writer for its copy and two flushes (10–20 ms at 2,000 turns/s in the load
//! bench), which is why it waits for a large WAL rather than running after every pass, and why
//! the file is not cut back then (a cut, and the blocks allocated again, would add to it).
//! Reusing the file is also cheaper for the writer than growing it: no blocks to allocate, no
//! new pages in the OS's cache.
//!
//! Invariant: the writer checkpoints only between groups, outside any transaction.

use std::path::PathBuf;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::mpsc::{self, RecvTimeoutError};
use std::sync::Arc;
use std::time::{Duration, Instant};

use rusqlite::Connection;

use super::sqlite_writer::db;
use super::{Result, StoreError};

/// Pause between background checkpoints.
const CHECKPOINT_EVERY: Duration = Duration::from_millis(250);

/// The WAL file's size kept on disk once it starts over after a pause (`journal_size_limit`).
#[cfg(not(test))]
pub(super) const WAL_KEEP_BYTES: u64 = 64 << 20;
#[cfg(test)]
pub(super) const WAL_KEEP_BYTES: u64 = 1 << 20;

/// A WAL holding more than this is started over even while writes go on.
#[cfg(not(test))]
const REWIND_AT: u64 = 256 << 20;
#[cfg(test)]
const REWIND_AT: u64 = 4 << 20;

/// Passes back to back at most before the writer is asked to copy the rest.
const MAX_PASSES: usize = 4;

/// A pass this short leaves the writer little to copy: it ends the series early.
const SHORT_PASS: Duration = Duration::from_millis(5);

/// The checkpoint thread, on a connection of its own.
pub(super) struct Checkpointer {
    stop: mpsc::Sender<()>,
    thread: std::thread::JoinHandle<()>,
}

/// The writer's side of starting the WAL over: the checkpoint thread sets `asked`.
#[derive(Default)]
pub(super) struct Rewind {
    asked: Arc<AtomicBool>,
    /// The WAL starts over at the next COMMIT: `journal_size_limit` is lifted until then.
    limit_lifted: bool,
}

impl Rewind {
    /// After each group's COMMIT, outside any transaction. When asked, copies into the
    /// database what the thread's passes could not, so that the next group starts the WAL over.
    pub fn after_group(&mut self, conn: &Connection) {
        if std::mem::take(&mut self.limit_lifted) {
            let _ = conn.execute_batch(&format!("PRAGMA journal_size_limit = {WAL_KEEP_BYTES}"));
        }
        if !self.asked.swap(false, Ordering::Relaxed) {
            return;
        }
        let started = Instant::now();
        // No cut at the WAL's restart (module docs).
        self.limit_lifted = conn.execute_batch("PRAGMA journal_size_limit = -1").is_ok();
        let frames = checkpoint(conn, "PASSIVE");
        crate::metrics::global()
            .store_rewind
            .observe(started.elapsed().as_secs_f64());
        tracing::debug!(
            ?frames,
            "the writer's WAL checkpoint, to start the WAL over"
        );
    }
}

/// Runs a checkpoint; its WAL frames and those copied, if it ran.
fn checkpoint(conn: &Connection, mode: &str) -> Option<(u64, u64)> {
    conn.query_row(&format!("PRAGMA wal_checkpoint({mode})"), [], |r| {
        Ok((
            r.get::<_, i64>(1)?.max(0) as u64,
            r.get::<_, i64>(2)?.max(0) as u64,
        ))
    })
    .map_err(|e| tracing::warn!(error = %e, mode, "WAL checkpoint failed"))
    .ok()
}

impl Checkpointer {
    /// `path`: the database file.
    pub fn start(path: PathBuf, rewind: &Rewind) -> Result<Self> {
        let asked = rewind.asked.clone();
        let conn = Connection::open(&path).map_err(db)?;
        conn.busy_timeout(Duration::from_secs(10)).map_err(db)?;
        let page: u64 = conn
            .query_row("PRAGMA page_size", [], |r| r.get::<_, i64>(0))
            .map_err(db)?
            .max(512) as u64;
        // Only flushed through (the pages are SQLite's to write).
        let db_file = std::fs::File::open(&path)
            .map_err(|e| StoreError::Corrupt(format!("open {}: {e}", path.display())))?;
        let (stop, stopped) = mpsc::channel::<()>();
        let thread = std::thread::Builder::new()
            .name("natter-store-checkpoint".into())
            .spawn(move || {
                let flush = || {
                    if let Err(e) = db_file.sync_data() {
                        tracing::warn!(error = %e, "flushing the database file failed");
                    }
                };
                // Until stop() is called (or the sender is dropped).
                while let Err(RecvTimeoutError::Timeout) = stopped.recv_timeout(CHECKPOINT_EVERY) {
                    let Some((frames, copied)) = checkpoint(&conn, "PASSIVE") else {
                        continue;
                    };
                    if copied > 0 {
                        flush(); // a little at a time (module docs)
                    }
                    if frames * page <= REWIND_AT {
                        continue;
                    }
                    // SQLite flushes the database file only after a pass that copied all of
                    // the WAL, which under such a load none does: the pages copied meanwhile
                    // would all be flushed by the writer's checkpoint (measured: 35–80 ms).
                    for _ in 1..MAX_PASSES {
                        let started = Instant::now();
                        checkpoint(&conn, "PASSIVE");
                        let short = started.elapsed() < SHORT_PASS;
                        flush();
                        if short {
                            break;
                        }
                    }
                    asked.store(true, Ordering::Relaxed);
                }
                checkpoint(&conn, "TRUNCATE");
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
    use std::sync::atomic::{AtomicU64, Ordering};
    use std::sync::Arc;
    use std::time::{Duration, Instant};

    use natter_protocol::EventPayload;

    use super::{CHECKPOINT_EVERY, REWIND_AT, WAL_KEEP_BYTES};
    use crate::store::open::NoSink;
    use crate::store::sqlite::{Durability, SqliteStore};
    use crate::store::{NewThread, Store};

    fn wal_bytes(dir: &std::path::Path) -> u64 {
        std::fs::metadata(dir.join("natter.db-wal")).map_or(0, |m| m.len())
    }

    /// The WAL header's checkpoint sequence: SQLite adds one each time the WAL starts over.
    fn wal_restarts(dir: &std::path::Path) -> u32 {
        use std::io::Read;
        let mut header = [0; 16];
        std::fs::File::open(dir.join("natter.db-wal"))
            .and_then(|mut f| f.read_exact(&mut header))
            .map_or(0, |_| u32::from_be_bytes(header[12..].try_into().unwrap()))
    }

    async fn store_with_threads(dir: &std::path::Path, n: usize) -> Arc<SqliteStore> {
        let store = Arc::new(
            SqliteStore::open(dir, Durability::Full, Arc::new(NoSink))
                .await
                .unwrap(),
        );
        for i in 0..n {
            let thread = NewThread::plain(&format!("thr_{i}"), &format!("P{i}"));
            store.create_thread(thread, None).await.unwrap();
        }
        store
    }

    fn typing() -> Vec<EventPayload> {
        vec![EventPayload::AgentTyping { typing: true }; 8]
    }

    /// `n` tasks append to threads `thr_0..n` back to back until `done` says so (checked after
    /// each append); each returns the seq of its last event.
    async fn write_until(
        store: &Arc<SqliteStore>,
        n: usize,
        done: impl Fn() -> bool + Clone + Send + 'static,
    ) -> Vec<u64> {
        let tasks: Vec<_> = (0..n)
            .map(|i| {
                let (store, done) = (store.clone(), done.clone());
                tokio::spawn(async move {
                    let until = Instant::now() + Duration::from_secs(20);
                    loop {
                        let last =
                            store.append(&format!("thr_{i}"), typing()).await.unwrap()[7].seq;
                        if done() || Instant::now() > until {
                            break last;
                        }
                    }
                })
            })
            .collect();
        let mut last = Vec::new();
        for t in tasks {
            last.push(t.await.unwrap());
        }
        last
    }

    /// Writes without a pause grow the WAL past what is kept; once they pause, the next write
    /// starts it over and its file is cut back, and every write is still there.
    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn a_bursts_wal_is_given_back_after_the_burst() {
        let dir = tempfile::tempdir().unwrap();
        let store = store_with_threads(dir.path(), 8).await;
        let path = dir.path().to_owned();
        let last = write_until(&store, 8, move || wal_bytes(&path) >= 4 * WAL_KEEP_BYTES).await;
        let grown = wal_bytes(dir.path());
        assert!(
            grown >= 4 * WAL_KEEP_BYTES,
            "the writes grew the WAL to {grown} bytes only"
        );

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
            assert_eq!(
                store.last_seq(&thread).await.unwrap(),
                *last + 8 * (i == 0) as u64
            );
        }
    }

    /// Writes that never pause: the WAL still starts over (SQLite alone would only append to
    /// it), and after a restart of the store every write is there.
    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn a_wal_written_without_pause_still_starts_over() {
        let dir = tempfile::tempdir().unwrap();
        // Enough writers that the store writer always has the next group waiting.
        const WRITERS: usize = 128;
        let store = store_with_threads(dir.path(), WRITERS).await;
        let before = wal_restarts(dir.path());
        let (path, largest) = (dir.path().to_owned(), Arc::new(AtomicU64::new(0)));
        let seen = largest.clone();
        let last = write_until(&store, WRITERS, move || {
            seen.fetch_max(wal_bytes(&path), Ordering::Relaxed);
            wal_restarts(&path) >= before + 2
        })
        .await;
        let restarts = wal_restarts(dir.path()) - before;
        let largest = largest.load(Ordering::Relaxed);
        assert!(
            largest > REWIND_AT,
            "the writes never filled the WAL past {REWIND_AT} bytes ({largest}): the test shows nothing"
        );
        assert!(
            restarts >= 2,
            "the WAL started over {restarts} times while written, reaching {largest} bytes"
        );

        store.close().await;
        drop(store);
        let store = SqliteStore::open(dir.path(), Durability::Full, Arc::new(NoSink))
            .await
            .unwrap();
        for (i, last) in last.iter().enumerate() {
            assert_eq!(store.last_seq(&format!("thr_{i}")).await.unwrap(), *last);
        }
    }
}
