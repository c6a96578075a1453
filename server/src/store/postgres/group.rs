//! Group commit of the PostgreSQL store's hot-path writes ([`Op`]: sends, streamed events,
//! run batches): one writer per instance runs the writes queued meanwhile in one transaction,
//! with one COMMIT (one WAL flush) and one NOTIFY statement for all of them.
//!
//! Why: a transaction that notifies holds a database-wide lock from its NOTIFY to the end of its
//! COMMIT, WAL flush included, so notifying commits run one at a time, each waiting for its
//! own flush, whatever the number of connections or instances. One commit per write caps a
//! database at one write per flush. A group pays that once for all its writes.
//!
//! Why a busy writer waits a little when other instances write too: each writer then sees only
//! its share of the writes, so its groups are smaller and the group's fixed cost (its
//! transaction, its round trips, its COMMIT) is paid more often per write: measured, twice the
//! database CPU per write with three instances. When a group's first write comes right after
//! the last COMMIT (the writer is busy) and the group is small, the writer waits for more
//! writes, at most as long as the last group took (capped at 20 ms): a write then waits at most
//! about twice a group's time. A writer that is not busy, or the only one writing (no other
//! instance's commit reached this one within the last second: its groups are as large as the
//! load makes them), never waits: there the wait only added latency (measured with one
//! instance at 1,000 turns/s: first delta p50 31 → 91 ms).
//!
//! Why a thread of its own: a group's statements run back to back on one connection, each
//! waiting for the previous one's answer. On the server's runtime every answer would wait
//! behind the ready tasks of every request; the writer runs its own single-threaded runtime
//! and connection on an OS thread, so it waits only for the database (as the SQLite writer).
//!
//! Invariants:
//! - Every op is atomic as seen by readers: its statement commits with its group or not at
//!   all. A failing statement aborts the group's transaction; the group is then rolled back
//!   and each of its ops runs again alone, so one op's error is its caller's only. A COMMIT that
//!   fails (or whose answer is lost) fails every op of the group: none is re-run, as the
//!   transaction may have committed.
//! - Per-thread seqs stay gap-free in commit order: each op's statement takes its seqs from
//!   `threads.last_seq` under the thread's row lock, which the group holds until its COMMIT.
//!   A group runs its ops sorted by thread (stable, so one thread's ops keep their order), each
//!   kind in one statement per round (a thread's n-th op in round n). Before writing, it takes
//!   an advisory lock per thread in one global order ([`fast::lock_threads`]): two groups, of
//!   this or another instance, never deadlock on the rows they share.
//! - Events reach the sink after the COMMIT, in each thread's seq order, then callers are
//!   answered.
//! - A group of streamed events only commits without waiting for the WAL flush (what the
//!   stream path always did); any other group waits for it, which also flushes earlier
//!   unflushed groups (WAL is flushed in order).

use std::sync::atomic::{AtomicI64, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use sqlx::postgres::PgConnectOptions;
use sqlx::{Connection, PgConnection};
use tokio::sync::{mpsc, oneshot};
use tokio_util::sync::CancellationToken;

use super::super::{EventSink, Result, StoreError};
use super::fanout;
use super::fast::{self, Op, Written};
use super::tx::CHANNEL;

/// Ops per group: bounds a group's transaction and the latency it adds.
const MAX_GROUP: usize = 512;
/// Queue bound: callers wait (backpressure) rather than growing memory.
const QUEUE: usize = 16_384;

/// A group smaller than this waits for more writes (up to [`linger`]) when the writer is busy.
const LINGER_TARGET: usize = 256;
/// Other instances write while their commits reached this one within this.
const PEERS_WRITING: Duration = Duration::from_secs(1);
/// The writer is busy when a group's first write came within this of the last COMMIT's end.
const BUSY_GAP: Duration = Duration::from_millis(1);

/// The longest a busy writer's small group waits for more writes: `NATTER_PG_GROUP_LINGER_MS`
/// (a benchmark knob; `0` = never wait), else 20 ms.
fn linger() -> Duration {
    let ms = std::env::var("NATTER_PG_GROUP_LINGER_MS")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(20);
    Duration::from_millis(ms)
}

/// Moves what is queued into the group, up to [`MAX_GROUP`].
fn drain(rx: &mut mpsc::Receiver<Job>, group: &mut Vec<Job>) {
    while group.len() < MAX_GROUP {
        match rx.try_recv() {
            Ok(job) => group.push(job),
            Err(_) => break,
        }
    }
}

struct Job {
    op: Op,
    reply: oneshot::Sender<Result<bool>>,
}

/// How a group failed.
enum Failure {
    /// Before COMMIT: the transaction rolled back; its ops may run again.
    Rolled(StoreError),
    /// At COMMIT: it may have committed; its ops must not run again.
    Commit(String),
}

impl From<StoreError> for Failure {
    fn from(e: StoreError) -> Self {
        Failure::Rolled(e)
    }
}

impl From<sqlx::Error> for Failure {
    fn from(e: sqlx::Error) -> Self {
        Failure::Rolled(e.into())
    }
}

/// The handle callers queue ops on.
pub(super) struct Group {
    tx: mpsc::Sender<Job>,
    stop: CancellationToken,
    done: tokio::sync::Mutex<Option<oneshot::Receiver<()>>>,
}

impl Group {
    /// Starts the writer thread; it connects (and reconnects) with `connect`.
    /// `peers`: when another instance's commit last reached this instance (ms).
    pub fn start(
        connect: PgConnectOptions,
        instance: String,
        sink: Arc<dyn EventSink>,
        peers: Arc<AtomicI64>,
    ) -> Result<Group> {
        let (tx, rx) = mpsc::channel(QUEUE);
        let stop = CancellationToken::new();
        let writer = Writer {
            connect,
            conn: None,
            instance,
            sink,
            peers,
        };
        let token = stop.clone();
        let done_rx = super::on_own_thread("natter-pg-writer", move || writer.run(rx, token))
            .map_err(|e| StoreError::Corrupt(format!("spawn the PostgreSQL writer: {e}")))?;
        Ok(Group {
            tx,
            stop,
            done: tokio::sync::Mutex::new(Some(done_rx)),
        })
    }

    /// Runs `op` in the next group; `true` once it is committed and its events published,
    /// `false` when it wrote nothing (its preconditions did not hold).
    pub async fn run(&self, op: Op) -> Result<bool> {
        let (reply, answer) = oneshot::channel();
        self.tx
            .send(Job { op, reply })
            .await
            .map_err(|_| StoreError::ShuttingDown)?;
        answer.await.map_err(|_| StoreError::ShuttingDown)?
    }

    /// Commits what is queued, then stops the writer; later ops fail with `ShuttingDown`.
    pub async fn close(&self) {
        self.stop.cancel();
        if let Some(done) = self.done.lock().await.take() {
            let _ = done.await;
        }
    }
}

struct Writer {
    connect: PgConnectOptions,
    /// `None` after a connection error: the next group reconnects.
    conn: Option<PgConnection>,
    instance: String,
    sink: Arc<dyn EventSink>,
    /// When another instance's commit last reached this one (ms): only while other instances
    /// write do the writes split between writers.
    peers: Arc<AtomicI64>,
}

impl Writer {
    async fn run(mut self, mut rx: mpsc::Receiver<Job>, stop: CancellationToken) {
        let mut group = Vec::with_capacity(MAX_GROUP);
        let max_linger = linger();
        // When the last group's COMMIT ended, and how long that group took.
        let mut idle_since = Instant::now();
        let mut last_took = Duration::ZERO;
        loop {
            let first = tokio::select! {
                biased;
                job = rx.recv() => job,
                _ = stop.cancelled() => None,
            };
            let Some(first) = first else { break };
            let arrived = Instant::now();
            group.push(first);
            drain(&mut rx, &mut group);
            // Busy (the write came right after the last COMMIT) and a small group: wait for
            // more, at most as long as the last group took (so lingering at most doubles a
            // write's wait for the writer), so the group's fixed cost is shared by more writes.
            let shared = crate::outbox::now_ms().saturating_sub(self.peers.load(Ordering::Relaxed))
                < PEERS_WRITING.as_millis() as i64;
            let linger = match shared {
                true => max_linger.min(last_took),
                false => Duration::ZERO,
            };
            if !linger.is_zero()
                && group.len() < LINGER_TARGET
                && arrived.duration_since(idle_since) < BUSY_GAP
            {
                let until = tokio::time::Instant::from_std(arrived + linger);
                while group.len() < LINGER_TARGET {
                    let job = tokio::select! {
                        biased;
                        job = rx.recv() => job,
                        _ = stop.cancelled() => None,
                        _ = tokio::time::sleep_until(until) => None,
                    };
                    let Some(job) = job else { break };
                    group.push(job);
                    drain(&mut rx, &mut group);
                }
            }
            let started = Instant::now();
            self.commit(&mut group).await;
            idle_since = Instant::now();
            last_took = idle_since - started;
        }
        // Stopping: what was queued before still commits; later sends are refused.
        rx.close();
        while let Some(job) = rx.recv().await {
            group.push(job);
            if group.len() == MAX_GROUP {
                self.commit(&mut group).await;
            }
        }
        if !group.is_empty() {
            self.commit(&mut group).await;
        }
        if let Some(conn) = self.conn.take() {
            let _ = conn.close().await;
        }
    }

    /// Commits the group (or, after a statement failed, each op alone) and answers its callers.
    async fn commit(&mut self, group: &mut Vec<Job>) {
        group.sort_by(|a, b| a.op.thread().cmp(b.op.thread()));
        let ops: Vec<&Op> = group.iter().map(|j| &j.op).collect();
        match self.attempt(&ops).await {
            Ok(written) => {
                for (job, w) in group.drain(..).zip(written) {
                    self.answer(job, Ok(w));
                }
            }
            Err(Failure::Rolled(e)) if group.len() > 1 && is_statement_error(&e) => {
                tracing::debug!(error = %e, ops = group.len(), "group rolled back; its ops run alone");
                for job in group.drain(..) {
                    let r = match self.attempt(&[&job.op]).await {
                        Ok(mut w) => Ok(w.pop().flatten()),
                        Err(Failure::Rolled(e)) => Err(e),
                        Err(Failure::Commit(msg)) => Err(group_failed(&msg)),
                    };
                    self.answer(job, r);
                }
            }
            Err(Failure::Rolled(e)) if group.len() == 1 => {
                let job = group.pop().expect("one job");
                let _ = job.reply.send(Err(e));
            }
            Err(Failure::Rolled(e)) => {
                tracing::warn!(error = %e, "PostgreSQL writer: group failed");
                let msg = e.to_string();
                for job in group.drain(..) {
                    let _ = job.reply.send(Err(group_failed(&msg)));
                }
            }
            Err(Failure::Commit(msg)) => {
                tracing::error!(error = %msg, "PostgreSQL group commit failed");
                for job in group.drain(..) {
                    let _ = job.reply.send(Err(group_failed(&msg)));
                }
            }
        }
    }

    /// Publishes what a committed op wrote, then answers its caller.
    fn answer(&self, job: Job, r: std::result::Result<Written, StoreError>) {
        if let Ok(Some(events)) = &r {
            if !events.is_empty() {
                self.sink.published(job.op.thread(), events);
            }
        }
        let _ = job.reply.send(r.map(|w| w.is_some()));
    }

    /// One transaction: every op's statement in order, the NOTIFYs, COMMIT.
    async fn attempt(&mut self, ops: &[&Op]) -> std::result::Result<Vec<Written>, Failure> {
        let started = Instant::now();
        let instance = self.instance.clone();
        let conn = self.connection().await?;
        let r = Self::transaction(conn, &instance, ops).await;
        if let Err(Failure::Rolled(StoreError::Db(e))) = &r {
            if !matches!(e, sqlx::Error::Database(_)) {
                self.conn = None; // the connection itself failed
            }
        }
        if matches!(r, Err(Failure::Commit(_))) {
            self.conn = None;
        }
        if r.is_ok() {
            let m = crate::metrics::global();
            m.store_commit.observe(started.elapsed().as_secs_f64());
            m.store_jobs
                .fetch_add(ops.len() as u64, std::sync::atomic::Ordering::Relaxed);
        }
        r
    }

    async fn transaction(
        conn: &mut PgConnection,
        instance: &str,
        ops: &[&Op],
    ) -> std::result::Result<Vec<Written>, Failure> {
        let mut tx = conn.begin().await?;
        let async_commit = ops.iter().all(|op| op.is_stream());
        let mut threads: Vec<&str> = ops.iter().map(|op| op.thread()).collect();
        threads.dedup(); // sorted by thread
        fast::lock_threads(&mut tx, &threads).await?;
        // Round r runs each thread's r-th op: a statement writes a thread at most once.
        let mut rounds: Vec<Vec<usize>> = Vec::new();
        let mut nth = 0;
        for (i, op) in ops.iter().enumerate() {
            nth = match i {
                0 => 0,
                _ if ops[i - 1].thread() == op.thread() => nth + 1,
                _ => 0,
            };
            if rounds.len() <= nth {
                rounds.push(Vec::new());
            }
            rounds[nth].push(i);
        }
        let mut written: Vec<Written> = vec![None; ops.len()];
        for round in &rounds {
            fast::run_round(&mut tx, ops, round, async_commit, &mut written).await?;
        }
        // The events themselves go in the notifications (ops are sorted by thread, a thread's
        // ops in seq order): the other instances need no read.
        let payloads = fanout::payloads(
            instance,
            ops.iter()
                .zip(&written)
                .flat_map(|(op, w)| w.iter().flatten().map(move |ev| (op.thread(), ev.as_ref()))),
        );
        if !payloads.is_empty() {
            sqlx::query("SELECT pg_notify($1, p) FROM UNNEST($2::text[]) AS p")
                .bind(CHANNEL)
                .bind(payloads)
                .execute(&mut *tx)
                .await?;
        }
        let sync = Instant::now();
        tx.commit()
            .await
            .map_err(|e| Failure::Commit(e.to_string()))?;
        crate::metrics::global()
            .store_sync
            .observe(sync.elapsed().as_secs_f64());
        Ok(written)
    }

    async fn connection(&mut self) -> std::result::Result<&mut PgConnection, Failure> {
        if self.conn.is_none() {
            let conn = tokio::time::timeout(
                Duration::from_secs(10),
                PgConnection::connect_with(&self.connect),
            )
            .await
            .map_err(|_| {
                let late =
                    std::io::Error::new(std::io::ErrorKind::TimedOut, "no connection in 10 s");
                Failure::Rolled(StoreError::Db(sqlx::Error::Io(late)))
            })??;
            self.conn = Some(conn);
        }
        Ok(self.conn.as_mut().expect("connected above"))
    }
}

/// An error of one statement (a constraint, a deadlock, …), not of the connection: the other
/// ops of its group may well succeed alone.
fn is_statement_error(e: &StoreError) -> bool {
    matches!(e, StoreError::Db(sqlx::Error::Database(_)))
}

/// The error each op of a failed group gets (`sqlx::Error` is not `Clone`).
fn group_failed(msg: &str) -> StoreError {
    StoreError::Db(sqlx::Error::Io(std::io::Error::other(format!(
        "group of writes failed: {msg}"
    ))))
}
