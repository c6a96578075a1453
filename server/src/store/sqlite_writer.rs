//! The SQLite store's single writer: one OS thread owning the only writing connection.
//!
//! Why a thread with rusqlite rather than a sqlx connection: sqlx runs each SQLite statement
//! on a worker thread and hands the result back through channels, two thread hops per
//! statement. A group commit of hundreds of statements paid that hop on every one (measured:
//! ~80 µs per statement on the 2-core bench box, capping the server near 500 turns/s). Here the
//! statements of a batch run back to back on the thread that owns the connection, with cached
//! prepared statements; the async side pays one hop per *job*. Both use the same SQLite
//! (libsqlite3-sys is shared), and reads stay on sqlx.
//!
//! Group commit: the thread drains its queue into one transaction; each job runs in its own
//! savepoint, so a failing job is rolled back alone and the others still commit; then one
//! COMMIT covers the batch. The COMMIT does not wait for the disk: the sync thread
//! ([`super::sqlite_sync`]) flushes the WAL while this thread runs the next batch, and only
//! after that flush are callers answered and events handed to the sink, in commit order.
//!
//! The writer caches each thread's last seq and status (it is the only writer, so the caches
//! are exact); a job rolled back restores the entries it touched, a failed COMMIT empties them.
//! After each COMMIT it tells the readers' cache of thread rows what changed
//! ([`ThreadCache`]), before anyone is answered.

use std::collections::HashMap;
use std::path::PathBuf;
use std::sync::Arc;
use std::time::{Duration, Instant};

use natter_protocol::{ErrorDetail, EventPayload, FeedbackRequest, Message, Role, ThreadStatus};
use rusqlite::{params, Connection, OptionalExtension};
use serde_json::Value;
use tokio::sync::{mpsc, oneshot};

use super::live::{BatchEnd, Live, Prepared, Tails, RESERVE};
use super::sqlite::thread_cache::ThreadCache;
use super::sqlite::{fts, Durability};
use super::sqlite_checkpoint::{Checkpointer, Rewind, WAL_KEEP_BYTES};
use super::sqlite_sync::{Batch, SyncTarget, Syncer, Unsynced};
use super::{NewThread, Result, RunItem, RunOutcome, SendOutcome, StoreError, StoredEvent, Thread};
use crate::ids;
use crate::outbox::{NewJob, PlanThread, Planner, CRM_THREAD_PREFIX};
use crate::time::now_rfc3339;

const MIGRATIONS: &[(i64, &str)] = &[
    (1, include_str!("../../migrations/0001_init.sql")),
    (2, include_str!("../../migrations/0002_action_runs.sql")),
    (3, include_str!("../../migrations/0003_outbox.sql")),
    (4, include_str!("../../migrations/0004_run_attempts.sql")),
    (5, include_str!("../../migrations/0005_secret_metadata.sql")),
    (6, include_str!("../../migrations/0006_seq_reserved.sql")),
    (7, include_str!("../../migrations/0007_console.sql")),
    (8, include_str!("../../migrations/0008_instances.sql")),
    (
        9,
        include_str!("../../migrations/0009_message_user_defined.sql"),
    ),
    (
        10,
        include_str!("../../migrations/0010_console_fts_threads.sql"),
    ),
    (
        11,
        include_str!("../../migrations/0011_thread_channel_session.sql"),
    ),
    (12, include_str!("../../migrations/0012_attachments.sql")),
    (13, include_str!("../../migrations/0013_local_crm.sql")),
    (
        14,
        include_str!("../../migrations/0014_console_sessions.sql"),
    ),
    (15, include_str!("../../migrations/0015_fts_by_writer.sql")),
    (16, include_str!("../../migrations/0016_fts_progress.sql")),
];
/// Jobs per group commit; bounds the latency one batch adds.
const MAX_BATCH: usize = 1024;
/// Writer queue bound: callers wait (backpressure) rather than growing memory.
const QUEUE: usize = 16_384;
const CACHE_MAX: usize = 200_000;
/// The writer connection's page cache (KiB), filled only as pages are used. Large enough for
/// the pages a group of hundreds of writes dirties; not larger, because every page written
/// (an upload's file chunks too) stays in it: with 64 MiB the server's peak RSS grew by up to
/// that much after large uploads, for about the same turns/s (bench/server/README.md).
const WRITER_CACHE_KIB: u32 = 16_384;

pub(super) enum Op {
    CreateThread(NewThread, Option<Message>),
    Send {
        thread_id: String,
        message: Message,
        context: Option<Value>,
        run_id: String,
    },
    Append {
        thread_id: String,
        events: Vec<EventPayload>,
    },
    RunBatch {
        thread_id: String,
        items: Vec<RunItem>,
    },
    Complete {
        thread_id: String,
        run_id: Option<String>,
        message: Message,
    },
    FinishRun {
        thread_id: String,
        run_id: String,
        outcome: RunOutcome,
        state: Option<Value>,
    },
    Transition {
        thread_id: String,
        to: ThreadStatus,
        event: EventPayload,
    },
    Feedback {
        thread_id: String,
        feedback: FeedbackRequest,
    },
    Recover,
    /// Moves a live thread's durable seq reservation ahead of its last seq (see [`Live`]).
    Reserve {
        thread_id: String,
    },
    /// A write of another store module (store/sqlite/actions.rs: metadata, tags, A/B, action
    /// runs), run in the job's savepoint. It must append no events and change no thread's
    /// status: the writer's seq and status caches don't see it.
    Conn(ConnJob),
    /// Index the messages waiting for the search index in this group (a search is about to
    /// read it).
    IndexSearch,
    /// Stop after committing this batch.
    Shutdown,
}

/// The closure of an [`Op::Conn`] job.
pub(super) type ConnJob = Box<dyn FnOnce(&Connection) -> Result<Value> + Send>;

pub(super) enum Done {
    Thread(Box<Thread>),
    Send(SendOutcome),
    Events(Vec<Arc<StoredEvent>>),
    Bool(bool),
    Id(String),
    Recovered(super::Recovered),
    Value(Value),
    Unit,
}

pub(super) struct Job {
    pub op: Op,
    pub reply: oneshot::Sender<Result<Done>>,
}

/// Joins the writer thread.
pub(super) struct WriterHandle(oneshot::Receiver<()>);

impl WriterHandle {
    pub async fn join(self) {
        let _ = self.0.await;
    }
}

pub(super) struct Writer {
    conn: Connection,
    seq: HashMap<String, u64>,
    status: HashMap<String, ThreadStatus>,
    /// Tails of the threads with runs in progress; it also holds the event sink.
    live: Arc<Live>,
    /// Live threads this batch wrote to, and the last seq written from each one's tail.
    busy: Vec<String>,
    flushed: HashMap<String, u64>,
    /// The batch's time, for the events' `created_at` column (idle sweeps; the envelope has
    /// each event's own time).
    now: String,
    /// Decides the outbox jobs of transitions and CRM traffic (see [`crate::outbox`]).
    planner: Arc<dyn Planner>,
    /// Jobs were inserted in the batch being built: wake the outbox worker after the flush.
    enqueued: bool,
    /// Flushes committed batches and hands them over.
    syncer: Syncer,
    /// What readers must not see yet.
    unsynced: Arc<Unsynced>,
    /// Batches committed so far.
    batches: u64,
    /// Starts the WAL over when the checkpoint thread asks.
    rewind: Rewind,
    /// Committed messages not in the search index yet.
    search: fts::Pending,
    /// The thread rows readers keep; told of each group's changes once it committed.
    threads: Arc<ThreadCache>,
    /// `PRAGMA data_version` at the last group: it moves when another connection commits.
    data_version: i64,
}

/// A job of the group being built, run: where its answer goes, the answer, its scratch.
type Ran = (oneshot::Sender<Result<Done>>, Result<Done>, JobLog);

/// Per-job scratch: events to publish and the cache entries to restore on rollback.
#[derive(Default)]
struct JobLog {
    events: Vec<(String, Arc<StoredEvent>)>,
    seq_touched: Vec<(String, Option<u64>)>,
    status_touched: Vec<(String, Option<ThreadStatus>)>,
    /// Live writes: (thread, its tail's last seq and flushed mark before, events taken from
    /// its deferred queue).
    live_touched: Vec<(String, u64, Option<u64>, Vec<Prepared>)>,
    /// Runs started: (thread, seq reservation written).
    started: Vec<(String, u64)>,
    ended: Vec<String>,
    reserved: Vec<(String, u64)>,
    /// Rowids of the messages inserted, for the search index once the group commits.
    messages: Vec<i64>,
    /// Agent states written, for the thread cache once the group commits.
    states: Vec<(String, Value)>,
}

pub(super) fn db(e: rusqlite::Error) -> StoreError {
    StoreError::Corrupt(format!("sqlite: {e}"))
}

fn json_err(e: serde_json::Error) -> StoreError {
    StoreError::Corrupt(e.to_string())
}

impl Writer {
    /// Opens the database, applies migrations, and starts the thread.
    pub async fn start(
        path: PathBuf,
        durability: Durability,
        live: Arc<Live>,
        planner: Arc<dyn Planner>,
        unsynced: Arc<Unsynced>,
        threads: Arc<ThreadCache>,
    ) -> Result<(mpsc::Sender<Job>, WriterHandle)> {
        let checkpoint_path = path.clone();
        let wal = (durability == Durability::Full)
            .then(|| PathBuf::from(format!("{}-wal", path.display())));
        let conn = tokio::task::spawn_blocking(move || open(&path, durability))
            .await
            .map_err(|e| StoreError::Corrupt(e.to_string()))??;
        threads.watch(&conn);
        let data_version = data_version(&conn)?;
        let (tx, rx) = mpsc::channel(QUEUE);
        let (done_tx, done_rx) = oneshot::channel();
        let rewind = Rewind::default();
        let checkpointer = Checkpointer::start(checkpoint_path, &rewind)?;
        let syncer = Syncer::start(SyncTarget {
            wal,
            live: live.clone(),
            unsynced: unsynced.clone(),
            planner: planner.clone(),
        })?;
        let writer = Writer {
            conn,
            seq: HashMap::new(),
            status: HashMap::new(),
            live,
            busy: Vec::new(),
            flushed: HashMap::new(),
            now: String::new(),
            planner,
            enqueued: false,
            syncer,
            unsynced,
            batches: 0,
            rewind,
            search: fts::Pending::default(),
            threads,
            data_version,
        };
        std::thread::Builder::new()
            .name("natter-store-writer".into())
            .spawn(move || {
                writer.run(rx);
                checkpointer.stop();
                let _ = done_tx.send(());
            })
            .map_err(|e| StoreError::Corrupt(format!("spawn writer: {e}")))?;
        Ok((tx, WriterHandle(done_rx)))
    }

    /// Until a Shutdown is committed (or every sender is gone); then the sync thread hands over
    /// what is left.
    fn run(mut self, mut rx: mpsc::Receiver<Job>) {
        let mut batch = Vec::with_capacity(MAX_BATCH);
        while let Some(first) = rx.blocking_recv() {
            batch.push(first);
            while batch.len() < MAX_BATCH {
                match rx.try_recv() {
                    Ok(j) => batch.push(j),
                    Err(_) => break,
                }
            }
            let stop = batch.iter().any(|j| matches!(j.op, Op::Shutdown));
            self.commit_batch(&mut batch);
            self.rewind.after_group(&self.conn);
            if stop {
                rx.close();
                // Jobs that raced in after the Shutdown are refused, not lost silently.
                while let Ok(job) = rx.try_recv() {
                    let _ = job.reply.send(Err(StoreError::ShuttingDown));
                }
                break;
            }
        }
        self.syncer.stop();
    }

    fn exec(&self, sql: &str) -> Result<()> {
        self.conn
            .prepare_cached(sql)
            .and_then(|mut s| s.execute([]))
            .map(|_| ())
            .map_err(db)
    }

    fn commit_batch(&mut self, batch: &mut Vec<Job>) {
        let started = Instant::now();
        self.now = now_rfc3339();
        if let Err(e) = self.exec("BEGIN IMMEDIATE") {
            for job in batch.drain(..) {
                let _ = job
                    .reply
                    .send(Err(StoreError::Corrupt(format!("begin failed: {e}"))));
            }
            return;
        }
        // Under the write lock: no other connection commits until this group's COMMIT.
        let others = match data_version(&self.conn) {
            Ok(v) => std::mem::replace(&mut self.data_version, v) != v,
            Err(_) => true,
        };
        let mut results: Vec<Ran> = Vec::with_capacity(batch.len());
        for job in batch.drain(..) {
            let mut log = JobLog::default();
            let res = self.exec("SAVEPOINT job").and_then(|_| {
                let r = self.apply(job.op, &mut log);
                if r.is_err() {
                    self.exec("ROLLBACK TO job")?;
                }
                self.exec("RELEASE job")?;
                r
            });
            if res.is_err() {
                self.restore(&mut log);
            }
            results.push((job.reply, res, log));
        }
        // The group's own messages go into the index with those waiting, when it is time.
        let fresh: Vec<i64> = results
            .iter()
            .filter(|(_, res, _)| res.is_ok())
            .flat_map(|(_, _, log)| log.messages.iter().copied())
            .collect();
        let indexing = self.search.due();
        if let Some(waiting) = &indexing {
            let all = [waiting.as_slice(), &fresh].concat();
            let n = all.len();
            // A failure leaves these messages out of search (logged), not unsaved.
            if let Err(e) = fts::write(&self.conn, all) {
                tracing::error!(error = %e, messages = n, "indexing messages for search failed");
            }
        }
        let sync_start = Instant::now();
        let commit = self.exec("COMMIT");
        let m = crate::metrics::global();
        m.store_sync.observe(sync_start.elapsed().as_secs_f64());
        m.store_commit.observe(started.elapsed().as_secs_f64());
        m.store_jobs
            .fetch_add(results.len() as u64, std::sync::atomic::Ordering::Relaxed);
        let committed = commit.is_ok();
        // Before anyone is answered: the next read of a thread this group changed sees it.
        let states = results
            .iter_mut()
            .filter(|(_, res, _)| committed && res.is_ok())
            .flat_map(|(_, _, log)| std::mem::take(&mut log.states));
        self.threads.committed(others, states);
        match indexing {
            None if committed => self.search.committed(fresh),
            Some(waiting) if !committed => self.search.restore(waiting),
            _ => {}
        }
        if let Err(e) = &commit {
            tracing::error!(error = %e, "group commit failed");
            let _ = self.exec("ROLLBACK");
            // Tails as before the batch (their seqs were not published), caches refilled.
            for (_, _, log) in results.iter_mut().rev() {
                self.restore(log);
            }
            self.flushed.clear();
            self.seq.clear();
            self.status.clear();
        }
        let mut end = BatchEnd::default();
        for t in self.busy.drain(..) {
            let flushed = self.flushed.remove(&t).unwrap_or(0);
            end.written.push((t, flushed));
        }
        self.flushed.clear();
        for (_, res, log) in results.iter_mut() {
            // A failed reservation only ends the request (nothing more was reserved).
            let ok = res.is_ok();
            end.reserved.extend(
                log.reserved
                    .drain(..)
                    .map(|(t, r)| (t, if ok { r } else { 0 })),
            );
            if ok {
                for (t, reserved) in log.started.drain(..) {
                    let last = self.seq.get(&t).copied().unwrap_or(0);
                    end.started.push((t, last, reserved));
                }
                end.ended.append(&mut log.ended);
            }
        }
        let events: Vec<_> = results
            .iter_mut()
            .map(|(_, _, log)| std::mem::take(&mut log.events))
            .collect();
        self.live.committed(committed, &end);
        self.batches += 1;
        if committed {
            self.unsynced.committed(self.batches, &events);
        }
        let replies = results
            .into_iter()
            .map(|(reply, res, _)| match &commit {
                Ok(()) => (reply, res),
                Err(e) => (
                    reply,
                    Err(StoreError::Corrupt(format!("commit failed: {e}"))),
                ),
            })
            .collect();
        self.syncer.send(Batch {
            number: self.batches,
            committed,
            end,
            events,
            replies,
            enqueued: std::mem::take(&mut self.enqueued) && committed,
        });
        if self.seq.len() > CACHE_MAX || self.status.len() > CACHE_MAX {
            self.seq.clear();
            self.status.clear();
        }
    }

    fn restore(&mut self, log: &mut JobLog) {
        for (thread, old) in log.seq_touched.drain(..).rev() {
            match old {
                Some(v) => self.seq.insert(thread, v),
                None => self.seq.remove(&thread),
            };
        }
        for (thread, old) in log.status_touched.drain(..).rev() {
            match old {
                Some(v) => self.status.insert(thread, v),
                None => self.status.remove(&thread),
            };
        }
        if !log.live_touched.is_empty() {
            let mut tails = self.live.lock();
            for (thread, last, flushed, taken) in log.live_touched.drain(..).rev() {
                tails.restore(&thread, last, taken);
                match flushed {
                    Some(v) => self.flushed.insert(thread, v),
                    None => self.flushed.remove(&thread),
                };
            }
        }
        log.events.clear();
        log.started.clear();
        log.ended.clear();
        log.messages.clear();
        log.states.clear();
    }

    fn apply(&mut self, op: Op, log: &mut JobLog) -> Result<Done> {
        match op {
            Op::CreateThread(new, greeting) => {
                let now = now_rfc3339();
                self.conn
                    .prepare_cached(
                        "INSERT INTO threads (id, public_id, bot, sub, subject, status, metadata, created_at, updated_at, channel, browser_session) \
                         VALUES (?1, ?2, ?3, ?4, ?5, 'open', ?6, ?7, ?7, ?8, ?9)",
                    )
                    .and_then(|mut s| {
                        s.execute(params![
                            new.id,
                            new.public_id,
                            new.bot,
                            new.sub,
                            new.subject,
                            Value::Object(new.metadata.clone()).to_string(),
                            now,
                            new.channel,
                            new.browser_session.as_ref().map(Value::to_string)
                        ])
                    })
                    .map_err(db)?;
                let old = self.seq.insert(new.id.clone(), 0);
                log.seq_touched.push((new.id.clone(), old));
                self.set_status(&new.id, ThreadStatus::Open, log);
                if let Some(msg) = greeting {
                    self.store_message(&new.id, None, msg, None, log)?;
                }
                Ok(Done::Thread(Box::new(new.created(now))))
            }
            Op::Send {
                thread_id,
                message,
                context,
                run_id,
            } => {
                let status = self.status(&thread_id)?;
                if let Some(cmid) = &message.client_message_id {
                    let prior: Option<(String, String)> = self
                        .conn
                        .prepare_cached("SELECT id, body FROM messages WHERE thread_id = ?1 AND client_message_id = ?2")
                        .and_then(|mut s| s.query_row(params![thread_id, cmid], |r| Ok((r.get(0)?, r.get(1)?))).optional())
                        .map_err(db)?;
                    if let Some((id, body)) = prior {
                        let m: Message = serde_json::from_str(&body).map_err(json_err)?;
                        return Ok(Done::Send(SendOutcome::Duplicate {
                            message_id: id,
                            run_id: m.run_id,
                        }));
                    }
                }
                if status == ThreadStatus::Closed {
                    return Err(StoreError::ThreadClosed);
                }
                let run_id = (status == ThreadStatus::Open).then_some(run_id);
                let mut message = message;
                message.run_id = run_id.clone();
                let message_id = message.id.clone();
                let ctx = context.map(|c| c.to_string());
                let ev = self.append_event(
                    &thread_id,
                    EventPayload::MessageCreated {
                        message: message.clone(),
                    },
                    log,
                )?;
                self.insert_message_row(&thread_id, ev.seq, &message, ctx, log)?;
                let text = message.content.iter().find_map(|c| c.text.as_deref());
                if let Some(subject) = text.and_then(super::default_subject) {
                    self.conn
                        .prepare_cached(
                            "UPDATE threads SET subject = ?1 WHERE id = ?2 AND subject IS NULL",
                        )
                        .and_then(|mut s| s.execute(params![subject, thread_id]))
                        .map_err(db)?;
                }
                if status == ThreadStatus::HandedOff {
                    // The human side gets the visitor's message (widgetMessage), with this commit.
                    let (bot, pcid) = self.plan_thread(&thread_id)?;
                    let pt = PlanThread {
                        id: &thread_id,
                        bot: &bot,
                        crm_channel: pcid.as_deref(),
                    };
                    let jobs = self.planner.on_visitor_message(&pt, &message);
                    self.insert_jobs(&thread_id, &bot, jobs)?;
                }
                if let Some(run) = &run_id {
                    self.conn
                        .prepare_cached("INSERT INTO runs (id, thread_id, message_id, status, started_at) VALUES (?1, ?2, ?3, 'running', ?4)")
                        .and_then(|mut s| s.execute(params![run, thread_id, message_id, now_rfc3339()]))
                        .map_err(db)?;
                    let ev = self.append_event(
                        &thread_id,
                        EventPayload::RunStarted {
                            run_id: run.clone(),
                            message_id: message_id.clone(),
                        },
                        log,
                    )?;
                    // A live thread's reservation may cover this run already.
                    let covered = self.live.lock().get(&thread_id).map(|t| t.reserved);
                    let upto = ev.seq + RESERVE;
                    if covered.is_none_or(|r| r < ev.seq + RESERVE / 2) {
                        self.reserve(&thread_id, upto, log)?;
                        log.started.push((thread_id.clone(), upto));
                    } else {
                        log.started.push((thread_id.clone(), 0));
                    }
                }
                Ok(Done::Send(SendOutcome::Created { message_id, run_id }))
            }
            Op::Append { thread_id, events } => {
                self.status(&thread_id)?;
                let mut out = Vec::with_capacity(events.len());
                for ev in events {
                    out.push(self.append_event(&thread_id, ev, log)?);
                }
                Ok(Done::Events(out))
            }
            Op::RunBatch { thread_id, items } => {
                self.status(&thread_id)?;
                for item in items {
                    match item {
                        RunItem::Event(ev) => {
                            self.append_event(&thread_id, ev, log)?;
                        }
                        RunItem::Message { run_id, message } => {
                            self.store_message(&thread_id, run_id, message, None, log)?
                        }
                        RunItem::Finish {
                            run_id,
                            outcome,
                            agent_state,
                        } => {
                            self.finish_run(&thread_id, run_id, outcome, agent_state, log)?;
                        }
                    }
                }
                Ok(Done::Unit)
            }
            Op::Complete {
                thread_id,
                run_id,
                message,
            } => {
                self.status(&thread_id)?;
                self.store_message(&thread_id, run_id, message, None, log)?;
                Ok(Done::Unit)
            }
            Op::FinishRun {
                thread_id,
                run_id,
                outcome,
                state,
            } => {
                self.finish_run(&thread_id, run_id, outcome, state, log)?;
                Ok(Done::Unit)
            }
            Op::Transition {
                thread_id,
                to,
                event,
            } => {
                let from = self.status(&thread_id)?;
                let valid = matches!(
                    (from, to),
                    (ThreadStatus::Open, ThreadStatus::HandedOff)
                        | (ThreadStatus::Open, ThreadStatus::Closed)
                        | (ThreadStatus::HandedOff, ThreadStatus::Closed)
                        | (ThreadStatus::HandedOff, ThreadStatus::Open)
                );
                if !valid {
                    return Ok(Done::Bool(false));
                }
                self.conn
                    .prepare_cached("UPDATE threads SET status = ?1, updated_at = ?2 WHERE id = ?3")
                    .and_then(|mut s| s.execute(params![to.as_str(), now_rfc3339(), thread_id]))
                    .map_err(db)?;
                self.set_status(&thread_id, to, log);
                // The transition's outbox jobs (handlers, CRM webhooks) commit with it.
                let (bot, pcid) = self.plan_thread(&thread_id)?;
                let pt = PlanThread {
                    id: &thread_id,
                    bot: &bot,
                    crm_channel: pcid.as_deref(),
                };
                let jobs = self.planner.on_transition(&pt, from, to, &event);
                self.insert_jobs(&thread_id, &bot, jobs)?;
                self.append_event(&thread_id, event, log)?;
                Ok(Done::Bool(true))
            }
            Op::Feedback {
                thread_id,
                feedback,
            } => {
                self.status(&thread_id)?;
                let exists = self
                    .conn
                    .prepare_cached("SELECT 1 FROM messages WHERE id = ?1 AND thread_id = ?2 AND role != 'user'")
                    .and_then(|mut s| s.exists(params![feedback.message_id, thread_id]))
                    .map_err(db)?;
                if !exists {
                    return Err(StoreError::MessageNotFound);
                }
                let id = ids::feedback();
                let kind = match feedback.interaction_type {
                    natter_protocol::InteractionType::Button => "button",
                    natter_protocol::InteractionType::Details => "details",
                };
                let cats = serde_json::to_string(&feedback.categories.unwrap_or_default())
                    .map_err(json_err)?;
                self.conn
                    .prepare_cached(
                        "INSERT INTO feedback (id, thread_id, message_id, is_positive, interaction_type, text, categories, created_at) \
                         VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8)",
                    )
                    .and_then(|mut s| {
                        s.execute(params![id, thread_id, feedback.message_id, feedback.is_positive, kind, feedback.text, cats, now_rfc3339()])
                    })
                    .map_err(db)?;
                Ok(Done::Id(id))
            }
            Op::Recover => {
                // (rowid, id, thread, message, attempt), in the order the runs were created.
                type Row = (i64, String, String, String, i64);
                let running: Vec<Row> = self
                    .conn
                    .prepare_cached("SELECT rowid, id, thread_id, message_id, attempt FROM runs WHERE status = 'running' ORDER BY rowid")
                    .and_then(|mut s| s.query_map([], |r| Ok((r.get(0)?, r.get(1)?, r.get(2)?, r.get(3)?, r.get(4)?)))?.collect())
                    .map_err(db)?;
                let interrupted = running.len();
                let mut filled: Vec<&str> = Vec::new();
                for (_, run_id, thread_id, _, _) in &running {
                    if !filled.contains(&thread_id.as_str()) {
                        // The first running run of a thread is the one that was streaming.
                        filled.push(thread_id);
                        self.record_lost(thread_id, run_id, log)?;
                    }
                    self.conn
                        .prepare_cached("UPDATE runs SET status = 'failed', error = 'interrupted', ended_at = ?1 WHERE id = ?2")
                        .and_then(|mut s| s.execute(params![now_rfc3339(), run_id]))
                        .map_err(db)?;
                    let event = EventPayload::RunFailed {
                        run_id: run_id.clone(),
                        error: ErrorDetail {
                            code: "interrupted".into(),
                            message: "the server stopped during this run".into(),
                        },
                    };
                    self.append_event(thread_id, event, log)?;
                }
                let mut reruns = Vec::new();
                for (rowid, run_id, thread_id, message_id, attempt) in running {
                    if let Some(rerun) =
                        self.rerun(rowid, run_id, thread_id, message_id, attempt, log)?
                    {
                        reruns.push(rerun);
                    }
                }
                Ok(Done::Recovered(super::Recovered {
                    interrupted,
                    reruns,
                }))
            }
            Op::Reserve { thread_id } => {
                // Room for what waits and the next ones. Not live any more: nothing to reserve
                // (the request still ends).
                let wanted = self
                    .live
                    .lock()
                    .get(&thread_id)
                    .map(|t| t.last + t.deferred.len() as u64 + RESERVE);
                let upto = match wanted {
                    Some(upto) => {
                        self.reserve(&thread_id, upto, log)?;
                        upto
                    }
                    None => 0,
                };
                log.reserved.push((thread_id, upto));
                Ok(Done::Unit)
            }
            Op::Conn(f) => f(&self.conn).map(Done::Value),
            Op::IndexSearch | Op::Shutdown => {
                self.search.force();
                Ok(Done::Unit)
            }
        }
    }

    /// Creates the re-run of an interrupted run (see [`super::Store::recover_interrupted_runs`]),
    /// or `None` when its answer is no longer wanted or the message was re-run often enough.
    fn rerun(
        &mut self,
        rowid: i64,
        interrupted_run_id: String,
        thread_id: String,
        message_id: String,
        attempt: i64,
        log: &mut JobLog,
    ) -> Result<Option<super::Rerun>> {
        if attempt >= super::MAX_RERUNS {
            tracing::warn!(thread = %thread_id, run = %interrupted_run_id, attempt, "interrupted run not re-run: too many attempts");
            return Ok(None);
        }
        if self.status(&thread_id)? != ThreadStatus::Open {
            return Ok(None); // handed off or closed: the bot must not answer any more
        }
        let later_completed: bool = self
            .conn
            .prepare_cached("SELECT EXISTS (SELECT 1 FROM runs WHERE thread_id = ?1 AND rowid > ?2 AND status = 'completed')")
            .and_then(|mut s| s.query_row(params![thread_id, rowid], |r| r.get(0)))
            .map_err(db)?;
        if later_completed {
            return Ok(None); // a later message was answered: this answer would be stale
        }
        let row: Option<(String, Option<String>, String)> = self
            .conn
            .prepare_cached("SELECT m.body, m.context, t.bot FROM messages m JOIN threads t ON t.id = m.thread_id WHERE m.id = ?1 AND m.thread_id = ?2")
            .and_then(|mut s| s.query_row(params![message_id, thread_id], |r| Ok((r.get(0)?, r.get(1)?, r.get(2)?))).optional())
            .map_err(db)?;
        let Some((body, context, bot)) = row else {
            return Ok(None);
        };
        let message: Message = serde_json::from_str(&body).map_err(json_err)?;
        let text = message
            .content
            .iter()
            .filter_map(|c| c.text.as_deref())
            .collect::<Vec<_>>()
            .join("\n");
        let context = context
            .map(|c| serde_json::from_str::<Value>(&c))
            .transpose()
            .map_err(json_err)?;
        let run_id = ids::run();
        self.conn
            .prepare_cached("INSERT INTO runs (id, thread_id, message_id, status, started_at, attempt) VALUES (?1, ?2, ?3, 'running', ?4, ?5)")
            .and_then(|mut s| s.execute(params![run_id, thread_id, message_id, now_rfc3339(), attempt + 1]))
            .map_err(db)?;
        let ev = self.append_event(
            &thread_id,
            EventPayload::RunStarted {
                run_id: run_id.clone(),
                message_id,
            },
            log,
        )?;
        self.reserve(&thread_id, ev.seq + RESERVE, log)?;
        log.started.push((thread_id.clone(), ev.seq + RESERVE));
        Ok(Some(super::Rerun {
            thread_id,
            bot,
            run_id,
            interrupted_run_id,
            text,
            context,
        }))
    }

    /// Raises the thread's durable seq reservation (see [`Live`]) to at least `upto`.
    fn reserve(&self, thread_id: &str, upto: u64, _log: &mut JobLog) -> Result<()> {
        // Not a column of the thread readers see: the cached row stays right.
        self.threads
            .quiet(|| {
                self.conn
                    .prepare_cached(
                        "UPDATE threads SET seq_reserved = MAX(seq_reserved, ?1) WHERE id = ?2",
                    )
                    .and_then(|mut s| s.execute(params![upto as i64, thread_id]))
            })
            .map_err(db)?;
        Ok(())
    }

    /// At start, before an interrupted run's `run.failed`: every seq up to the thread's
    /// reservation that the log lacks may have been streamed from memory before the crash, so
    /// each is recorded as `stream.lost` (the log stays gap-free and no seq a client saw is
    /// given to another event).
    fn record_lost(&mut self, thread_id: &str, run_id: &str, log: &mut JobLog) -> Result<()> {
        let reserved: i64 = self
            .conn
            .prepare_cached("SELECT seq_reserved FROM threads WHERE id = ?1")
            .and_then(|mut s| s.query_row([thread_id], |r| r.get(0)))
            .map_err(db)?;
        let last = self.last_seq(thread_id, log)?;
        let lost = Prepared::new(&EventPayload::StreamLost {
            run_id: run_id.to_string(),
        });
        for _ in last..reserved.max(0) as u64 {
            self.append_prepared(thread_id, &lost, log)?;
        }
        Ok(())
    }

    fn finish_run(
        &mut self,
        thread_id: &str,
        run_id: String,
        outcome: RunOutcome,
        state: Option<Value>,
        log: &mut JobLog,
    ) -> Result<()> {
        let (status, error, event) = match outcome {
            RunOutcome::Completed => (
                "completed",
                None,
                EventPayload::RunCompleted {
                    run_id: run_id.clone(),
                },
            ),
            RunOutcome::Failed { code, message } => (
                "failed",
                Some(code.clone()),
                EventPayload::RunFailed {
                    run_id: run_id.clone(),
                    error: ErrorDetail { code, message },
                },
            ),
        };
        let now = now_rfc3339();
        let updated = self
            .conn
            .prepare_cached("UPDATE runs SET status = ?1, error = ?2, ended_at = ?3 WHERE id = ?4 AND status = 'running'")
            .and_then(|mut s| s.execute(params![status, error, now, run_id]))
            .map_err(db)?;
        if updated == 0 {
            return Ok(()); // already finished: finishing twice writes nothing
        }
        log.ended.push(thread_id.to_string());
        if let Some(state) = state {
            // Every turn writes it: the cached row takes the new state rather than going.
            self.threads
                .quiet(|| {
                    self.conn
                        .prepare_cached(
                            "UPDATE threads SET agent_state = ?1, updated_at = ?2 WHERE id = ?3",
                        )
                        .and_then(|mut s| s.execute(params![state.to_string(), now, thread_id]))
                })
                .map_err(db)?;
            log.states.push((thread_id.to_string(), state));
        }
        self.append_event(thread_id, event, log)?;
        Ok(())
    }

    fn status(&mut self, thread_id: &str) -> Result<ThreadStatus> {
        if let Some(s) = self.status.get(thread_id) {
            return Ok(*s);
        }
        let s: Option<String> = self
            .conn
            .prepare_cached("SELECT status FROM threads WHERE id = ?1")
            .and_then(|mut st| st.query_row([thread_id], |r| r.get(0)).optional())
            .map_err(db)?;
        let s = s.ok_or(StoreError::ThreadNotFound)?;
        let status =
            ThreadStatus::parse(&s).ok_or_else(|| StoreError::Corrupt(format!("status {s}")))?;
        // A cache fill is not a change: nothing to restore if the job rolls back.
        self.status.insert(thread_id.to_string(), status);
        Ok(status)
    }

    fn set_status(&mut self, thread_id: &str, status: ThreadStatus, log: &mut JobLog) {
        let old = self.status.insert(thread_id.to_string(), status);
        log.status_touched.push((thread_id.to_string(), old));
    }

    fn store_message(
        &mut self,
        thread_id: &str,
        run_id: Option<String>,
        mut message: Message,
        ctx: Option<String>,
        log: &mut JobLog,
    ) -> Result<()> {
        message.run_id = run_id.clone();
        let payload = if message.role == Role::Agent {
            EventPayload::AgentMessage {
                message: message.clone(),
            }
        } else {
            EventPayload::MessageCompleted {
                run_id,
                message: message.clone(),
            }
        };
        let ev = self.append_event(thread_id, payload, log)?;
        self.insert_message_row(thread_id, ev.seq, &message, ctx, log)?;
        if message.role == Role::Assistant && thread_id.starts_with(CRM_THREAD_PREFIX) {
            // The CRM is this conversation's channel: the reply goes out as `sendMessage`.
            let (bot, pcid) = self.plan_thread(thread_id)?;
            let pt = PlanThread {
                id: thread_id,
                bot: &bot,
                crm_channel: pcid.as_deref(),
            };
            let jobs = self.planner.on_bot_message(&pt, &message);
            self.insert_jobs(thread_id, &bot, jobs)?;
        }
        Ok(())
    }

    /// The thread's bot and, for a CRM-channel conversation, the CRM's id for it.
    fn plan_thread(&self, thread_id: &str) -> Result<(String, Option<String>)> {
        let bot: String = self
            .conn
            .prepare_cached("SELECT bot FROM threads WHERE id = ?1")
            .and_then(|mut s| s.query_row([thread_id], |r| r.get(0)))
            .map_err(db)?;
        let pcid = if thread_id.starts_with(CRM_THREAD_PREFIX) {
            self.conn
                .prepare_cached(
                    "SELECT platform_conversation_id FROM crm_conversations WHERE thread_id = ?1",
                )
                .and_then(|mut s| s.query_row([thread_id], |r| r.get(0)).optional())
                .map_err(db)?
        } else {
            None
        };
        Ok((bot, pcid))
    }

    fn insert_jobs(&mut self, thread_id: &str, bot: &str, jobs: Vec<NewJob>) -> Result<()> {
        if jobs.is_empty() {
            return Ok(());
        }
        let now = crate::outbox::now_ms();
        for j in jobs {
            self.conn
                .prepare_cached(
                    "INSERT INTO outbox (id, thread_id, bot, kind, lane, target, event_type, body, status, due_at, created_at) \
                     VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, 'pending', ?9, ?9)",
                )
                .and_then(|mut s| s.execute(params![j.id, thread_id, bot, j.kind.as_str(), j.lane, j.target, j.event_type, j.body, now]))
                .map_err(db)?;
        }
        self.enqueued = true;
        Ok(())
    }

    fn insert_message_row(
        &self,
        thread_id: &str,
        seq: u64,
        m: &Message,
        ctx: Option<String>,
        log: &mut JobLog,
    ) -> Result<()> {
        let body = serde_json::to_string(m).map_err(json_err)?;
        self.conn
            .prepare_cached(
                "INSERT INTO messages (id, thread_id, seq, role, body, client_message_id, context, created_at) VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8)",
            )
            .and_then(|mut s| s.execute(params![m.id, thread_id, seq as i64, m.role.as_str(), body, m.client_message_id, ctx, m.created_at]))
            .map_err(db)?;
        log.messages.push(self.conn.last_insert_rowid());
        Ok(())
    }

    /// The thread's last seq: from its live tail (after writing what the tail holds, so the
    /// log stays gap-free), else the cache or the log.
    fn last_seq(&mut self, thread_id: &str, log: &mut JobLog) -> Result<u64> {
        let flushed = self.flushed.get(thread_id).copied();
        let flush = {
            let mut tails = self.live.lock();
            let old_last = tails.get(thread_id).map(|t| t.last);
            let flush = tails
                .begin_write(thread_id, flushed.unwrap_or(0))
                .map(|f| (f, old_last.unwrap_or(0)));
            if flush.is_some() && !self.busy.iter().any(|t| t == thread_id) {
                tails.hold(thread_id);
                self.busy.push(thread_id.to_string());
            }
            flush
        };
        if let Some((flush, old_last)) = flush {
            let last = flush
                .sealed
                .last()
                .or(flush.rows.last())
                .map(|e| e.seq)
                .unwrap_or(old_last);
            log.live_touched
                .push((thread_id.to_string(), old_last, flushed, flush.taken));
            let rows: Vec<&StoredEvent> = flush
                .rows
                .iter()
                .chain(&flush.sealed)
                .map(|e| &**e)
                .collect();
            self.insert_events(thread_id, &rows)?;
            // Streamed ones were published already; the sealed ones go out with this commit.
            for ev in flush.sealed {
                log.events.push((thread_id.to_string(), ev));
            }
            self.flushed.insert(thread_id.to_string(), last);
            return Ok(last);
        }
        Ok(match self.seq.get(thread_id) {
            Some(v) => *v,
            None => {
                let v: i64 = self
                    .conn
                    .prepare_cached("SELECT COALESCE(MAX(seq), 0) FROM events WHERE thread_id = ?1")
                    .and_then(|mut s| s.query_row([thread_id], |r| r.get(0)))
                    .map_err(db)?;
                v as u64
            }
        })
    }

    fn insert_event(&self, thread_id: &str, ev: &StoredEvent) -> Result<()> {
        self.insert_events(thread_id, &[ev])
    }

    /// Inserts events of one thread, up to [`ROWS_PER_INSERT`] per statement: a reply's
    /// streamed events are written together, and one statement per row was most of the
    /// writer's time per turn.
    fn insert_events(&self, thread_id: &str, events: &[&StoredEvent]) -> Result<()> {
        for chunk in events.chunks(ROWS_PER_INSERT) {
            let sql = insert_events_sql(chunk.len());
            let mut stmt = self.conn.prepare_cached(&sql).map_err(db)?;
            let mut i = 1;
            for ev in chunk {
                stmt.raw_bind_parameter(i, thread_id).map_err(db)?;
                stmt.raw_bind_parameter(i + 1, ev.seq as i64).map_err(db)?;
                stmt.raw_bind_parameter(i + 2, &ev.event_type).map_err(db)?;
                stmt.raw_bind_parameter(i + 3, &ev.json).map_err(db)?;
                stmt.raw_bind_parameter(i + 4, &self.now).map_err(db)?;
                i += 5;
            }
            stmt.raw_execute().map_err(db)?;
        }
        Ok(())
    }

    fn append_event(
        &mut self,
        thread_id: &str,
        payload: EventPayload,
        log: &mut JobLog,
    ) -> Result<Arc<StoredEvent>> {
        self.append_prepared(thread_id, &Prepared::new(&payload), log)
    }

    fn append_prepared(
        &mut self,
        thread_id: &str,
        event: &Prepared,
        log: &mut JobLog,
    ) -> Result<Arc<StoredEvent>> {
        let last = self.last_seq(thread_id, log)?;
        let seq = last + 1;
        if let Some(s) = self.live.lock().next_seq(thread_id) {
            debug_assert_eq!(s, seq);
        }
        let ev = event.seal(thread_id, seq);
        self.insert_event(thread_id, &ev)?;
        if self.flushed.contains_key(thread_id) {
            self.flushed.insert(thread_id.to_string(), seq);
        }
        let old = self.seq.insert(thread_id.to_string(), seq);
        log.seq_touched.push((thread_id.to_string(), old));
        log.events.push((thread_id.to_string(), ev.clone()));
        Ok(ev)
    }
}

/// Rows per multi-row `INSERT INTO events` (5 parameters each, far below SQLite's limit).
const ROWS_PER_INSERT: usize = 16;

fn insert_events_sql(rows: usize) -> String {
    let mut sql =
        String::from("INSERT INTO events (thread_id, seq, type, data, created_at) VALUES ");
    for r in 0..rows {
        let b = r * 5;
        if r > 0 {
            sql.push(',');
        }
        sql.push_str(&format!(
            "(?{}, ?{}, ?{}, ?{}, ?{})",
            b + 1,
            b + 2,
            b + 3,
            b + 4,
            b + 5
        ));
    }
    sql
}

fn open(path: &std::path::Path, durability: Durability) -> Result<Connection> {
    let conn = Connection::open(path).map_err(db)?;
    conn.busy_timeout(Duration::from_secs(10)).map_err(db)?;
    let sync = match durability {
        Durability::Full => "FULL",
        Durability::Normal => "NORMAL",
    };
    // wal_autocheckpoint = 0: the COMMIT that crosses the WAL threshold would otherwise copy
    // the WAL into the database (and fsync it) while every queued caller waits; the
    // [`Checkpointer`] thread does that work beside the writer instead; journal_size_limit: see
    // [`super::sqlite_checkpoint`].
    // temp_store = MEMORY: each job's savepoint copies the pages it first touches into a
    // statement journal, by default a temporary file (a pwrite per page). cache_size: a group
    // commit of hundreds of jobs dirties more pages than the default 2 MiB cache holds, and
    // SQLite then spills them into the WAL before the COMMIT (and reads them back). Measured
    // (profile of the load bench at 1,000 users): the two were about a third of the writer's time.
    conn.execute_batch(&format!(
        "PRAGMA journal_mode = WAL; PRAGMA synchronous = {sync}; PRAGMA foreign_keys = ON; PRAGMA wal_autocheckpoint = 0; PRAGMA temp_store = MEMORY; PRAGMA cache_size = -{WRITER_CACHE_KIB}; PRAGMA journal_size_limit = {WAL_KEEP_BYTES};"
    ))
        .map_err(db)?;
    // Room for the writer's statements and the multi-row inserts of each size.
    conn.set_prepared_statement_cache_capacity(96);
    migrate(&conn)?;
    let caught_up = fts::catch_up(&conn).map_err(db)?;
    if caught_up > 0 {
        tracing::info!(
            messages = caught_up,
            "indexed messages the last run left out of search"
        );
    }
    // From here on the sync thread flushes the WAL after each COMMIT (sqlite_sync.rs), so
    // the COMMIT itself does not wait for the disk.
    conn.execute_batch("PRAGMA synchronous = NORMAL")
        .map_err(db)?;
    Ok(conn)
}

fn data_version(conn: &Connection) -> Result<i64> {
    conn.query_row("PRAGMA data_version", [], |r| r.get(0))
        .map_err(db)
}

fn migrate(conn: &Connection) -> Result<()> {
    conn.execute_batch("CREATE TABLE IF NOT EXISTS schema_version (version INTEGER PRIMARY KEY, applied_at TEXT NOT NULL)")
        .map_err(db)?;
    // Every version not applied yet, in order (not only those above the highest: migrations
    // written in parallel may land in a database out of order).
    let applied: Vec<i64> = conn
        .prepare("SELECT version FROM schema_version")
        .and_then(|mut s| s.query_map([], |r| r.get(0))?.collect())
        .map_err(db)?;
    for (version, sql) in MIGRATIONS.iter().filter(|(v, _)| !applied.contains(v)) {
        conn.execute_batch(&format!(
            "BEGIN IMMEDIATE; {sql}; INSERT INTO schema_version (version, applied_at) VALUES ({version}, '{}'); COMMIT;",
            now_rfc3339()
        ))
        .map_err(|e| {
            let _ = conn.execute_batch("ROLLBACK");
            db(e)
        })?;
        tracing::info!(version, "applied migration");
    }
    Ok(())
}
