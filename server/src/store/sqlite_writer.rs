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
//! COMMIT (one fsync with `Durability::Full`) covers the batch. Only after the COMMIT are
//! callers answered and events handed to the sink, in commit order.
//!
//! The writer caches each thread's last seq and status (it is the only writer, so the caches
//! are exact); a job rolled back restores the entries it touched, a failed COMMIT empties them.

use std::collections::HashMap;
use std::path::PathBuf;
use std::sync::Arc;
use std::time::{Duration, Instant};

use natter_protocol::{
    ErrorDetail, EventEnvelope, EventPayload, FeedbackRequest, Message, Role, ThreadStatus,
};
use rusqlite::{params, Connection, OptionalExtension};
use serde_json::Value;
use tokio::sync::{mpsc, oneshot};

use super::sqlite::Durability;
use super::{
    EventSink, NewThread, Result, RunItem, RunOutcome, SendOutcome, StoreError, StoredEvent, Thread,
};
use crate::ids;
use crate::outbox::{NewJob, PlanThread, Planner, CRM_THREAD_PREFIX};
use crate::time::now_rfc3339;

const MIGRATIONS: &[(i64, &str)] = &[
    (1, include_str!("../../migrations/0001_init.sql")),
    (2, include_str!("../../migrations/0002_action_runs.sql")),
    (3, include_str!("../../migrations/0003_outbox.sql")),
    (4, include_str!("../../migrations/0004_run_attempts.sql")),
    (5, include_str!("../../migrations/0005_secret_metadata.sql")),
    (6, include_str!("../../migrations/0006_console.sql")),
];
/// Jobs per group commit; bounds the latency one batch adds.
const MAX_BATCH: usize = 1024;
/// Writer queue bound: callers wait (backpressure) rather than growing memory.
const QUEUE: usize = 16_384;
const CACHE_MAX: usize = 200_000;

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
    /// A write of another store module (store/sqlite/actions.rs: metadata, tags, A/B, action
    /// runs), run in the job's savepoint. It must append no events and change no thread's
    /// status: the writer's seq and status caches don't see it.
    Conn(ConnJob),
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
    sink: Arc<dyn EventSink>,
    /// Decides the outbox jobs of transitions and CRM traffic (see [`crate::outbox`]).
    planner: Arc<dyn Planner>,
    /// Jobs were inserted in the batch being built: wake the outbox worker after the COMMIT.
    enqueued: bool,
}

/// Per-job scratch: events to publish and the cache entries to restore on rollback.
#[derive(Default)]
struct JobLog {
    events: Vec<(String, Arc<StoredEvent>)>,
    seq_touched: Vec<(String, Option<u64>)>,
    status_touched: Vec<(String, Option<ThreadStatus>)>,
}

fn db(e: rusqlite::Error) -> StoreError {
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
        sink: Arc<dyn EventSink>,
        planner: Arc<dyn Planner>,
    ) -> Result<(mpsc::Sender<Job>, WriterHandle)> {
        let checkpoint_path = path.clone();
        let conn = tokio::task::spawn_blocking(move || open(&path, durability))
            .await
            .map_err(|e| StoreError::Corrupt(e.to_string()))??;
        let (tx, rx) = mpsc::channel(QUEUE);
        let (done_tx, done_rx) = oneshot::channel();
        let checkpointer = Checkpointer::start(checkpoint_path)?;
        let writer = Writer {
            conn,
            seq: HashMap::new(),
            status: HashMap::new(),
            sink,
            planner,
            enqueued: false,
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
            if stop {
                rx.close();
                // Jobs that raced in after the Shutdown are refused, not lost silently.
                while let Ok(job) = rx.try_recv() {
                    let _ = job.reply.send(Err(StoreError::ShuttingDown));
                }
                break;
            }
        }
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
        if let Err(e) = self.exec("BEGIN IMMEDIATE") {
            for job in batch.drain(..) {
                let _ = job
                    .reply
                    .send(Err(StoreError::Corrupt(format!("begin failed: {e}"))));
            }
            return;
        }
        let mut results = Vec::with_capacity(batch.len());
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
        let sync_start = Instant::now();
        let commit = self.exec("COMMIT");
        let m = crate::metrics::global();
        m.store_sync.observe(sync_start.elapsed().as_secs_f64());
        m.store_commit.observe(started.elapsed().as_secs_f64());
        m.store_jobs
            .fetch_add(results.len() as u64, std::sync::atomic::Ordering::Relaxed);
        match commit {
            Ok(()) => {
                for (reply, res, log) in results {
                    publish(&*self.sink, log.events);
                    let _ = reply.send(res);
                }
                if std::mem::take(&mut self.enqueued) {
                    self.planner.enqueued();
                }
            }
            Err(e) => {
                tracing::error!(error = %e, "group commit failed");
                let _ = self.exec("ROLLBACK");
                self.seq.clear();
                self.status.clear();
                for (reply, _, _) in results {
                    let _ = reply.send(Err(StoreError::Corrupt(format!("commit failed: {e}"))));
                }
            }
        }
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
        log.events.clear();
    }

    fn apply(&mut self, op: Op, log: &mut JobLog) -> Result<Done> {
        match op {
            Op::CreateThread(new, greeting) => {
                let now = now_rfc3339();
                self.conn
                    .prepare_cached(
                        "INSERT INTO threads (id, public_id, bot, sub, subject, status, metadata, created_at, updated_at) \
                         VALUES (?1, ?2, ?3, ?4, ?5, 'open', ?6, ?7, ?7)",
                    )
                    .and_then(|mut s| {
                        s.execute(params![new.id, new.public_id, new.bot, new.sub, new.subject, Value::Object(new.metadata.clone()).to_string(), now])
                    })
                    .map_err(db)?;
                let old = self.seq.insert(new.id.clone(), 0);
                log.seq_touched.push((new.id.clone(), old));
                self.set_status(&new.id, ThreadStatus::Open, log);
                if let Some(msg) = greeting {
                    self.store_message(&new.id, None, msg, None, log)?;
                }
                Ok(Done::Thread(Box::new(Thread {
                    id: new.id,
                    public_id: new.public_id,
                    bot: new.bot,
                    sub: new.sub,
                    subject: new.subject,
                    status: ThreadStatus::Open,
                    tags: vec![],
                    metadata: new.metadata,
                    agent_state: Value::Null,
                    created_at: now,
                })))
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
                self.insert_message_row(&thread_id, ev.seq, &message, ctx)?;
                if status == ThreadStatus::HandedOff {
                    // The human side gets the visitor's words (widgetMessage), with this commit.
                    let text = message
                        .content
                        .iter()
                        .filter_map(|c| c.text.as_deref())
                        .collect::<Vec<_>>()
                        .join("\n");
                    let (bot, pcid) = self.plan_thread(&thread_id)?;
                    let pt = PlanThread {
                        id: &thread_id,
                        bot: &bot,
                        crm_channel: pcid.as_deref(),
                    };
                    let jobs = self.planner.on_visitor_message(&pt, &text);
                    self.insert_jobs(&thread_id, &bot, jobs)?;
                }
                if let Some(run) = &run_id {
                    self.conn
                        .prepare_cached("INSERT INTO runs (id, thread_id, message_id, status, started_at) VALUES (?1, ?2, ?3, 'running', ?4)")
                        .and_then(|mut s| s.execute(params![run, thread_id, message_id, now_rfc3339()]))
                        .map_err(db)?;
                    self.append_event(
                        &thread_id,
                        EventPayload::RunStarted {
                            run_id: run.clone(),
                            message_id: message_id.clone(),
                        },
                        log,
                    )?;
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
                for (_, run_id, thread_id, _, _) in &running {
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
            Op::Conn(f) => f(&self.conn).map(Done::Value),
            Op::Shutdown => Ok(Done::Unit),
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
        self.append_event(
            &thread_id,
            EventPayload::RunStarted {
                run_id: run_id.clone(),
                message_id,
            },
            log,
        )?;
        Ok(Some(super::Rerun {
            thread_id,
            bot,
            run_id,
            interrupted_run_id,
            text,
            context,
        }))
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
        if let Some(state) = state {
            self.conn
                .prepare_cached(
                    "UPDATE threads SET agent_state = ?1, updated_at = ?2 WHERE id = ?3",
                )
                .and_then(|mut s| s.execute(params![state.to_string(), now, thread_id]))
                .map_err(db)?;
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
        self.insert_message_row(thread_id, ev.seq, &message, ctx)?;
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
    ) -> Result<()> {
        let body = serde_json::to_string(m).map_err(json_err)?;
        self.conn
            .prepare_cached(
                "INSERT INTO messages (id, thread_id, seq, role, body, client_message_id, context, created_at) VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8)",
            )
            .and_then(|mut s| s.execute(params![m.id, thread_id, seq as i64, m.role.as_str(), body, m.client_message_id, ctx, m.created_at]))
            .map_err(db)?;
        Ok(())
    }

    fn append_event(
        &mut self,
        thread_id: &str,
        payload: EventPayload,
        log: &mut JobLog,
    ) -> Result<Arc<StoredEvent>> {
        let last = match self.seq.get(thread_id) {
            Some(v) => *v,
            None => {
                let v: i64 = self
                    .conn
                    .prepare_cached("SELECT COALESCE(MAX(seq), 0) FROM events WHERE thread_id = ?1")
                    .and_then(|mut s| s.query_row([thread_id], |r| r.get(0)))
                    .map_err(db)?;
                v as u64
            }
        };
        let seq = last + 1;
        let event_type = payload.event_type();
        let envelope = EventEnvelope {
            seq,
            thread_id: thread_id.to_string(),
            created_at: now_rfc3339(),
            payload,
        };
        let json = serde_json::to_string(&envelope).map_err(json_err)?;
        self.conn
            .prepare_cached("INSERT INTO events (thread_id, seq, type, data, created_at) VALUES (?1, ?2, ?3, ?4, ?5)")
            .and_then(|mut s| s.execute(params![thread_id, seq as i64, event_type, json, envelope.created_at]))
            .map_err(db)?;
        let old = self.seq.insert(thread_id.to_string(), seq);
        log.seq_touched.push((thread_id.to_string(), old));
        let ev = Arc::new(StoredEvent {
            seq,
            event_type: event_type.to_string(),
            json,
        });
        log.events.push((thread_id.to_string(), ev.clone()));
        Ok(ev)
    }
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
    // [`Checkpointer`] thread does that work beside the writer instead.
    conn.execute_batch(&format!(
        "PRAGMA journal_mode = WAL; PRAGMA synchronous = {sync}; PRAGMA foreign_keys = ON; PRAGMA wal_autocheckpoint = 0;"
    ))
        .map_err(db)?;
    conn.set_prepared_statement_cache_capacity(64);
    migrate(&conn)?;
    Ok(conn)
}

/// Background WAL checkpoints on their own connection, so commits never pay for them.
/// PASSIVE checkpoints never block the writer or readers; at stop a TRUNCATE checkpoint
/// folds the WAL into the database and empties it.
struct Checkpointer {
    stop: std::sync::mpsc::Sender<()>,
    thread: std::thread::JoinHandle<()>,
}

/// Pause between background checkpoints.
const CHECKPOINT_EVERY: Duration = Duration::from_millis(500);

impl Checkpointer {
    fn start(path: PathBuf) -> Result<Self> {
        let conn = Connection::open(&path).map_err(db)?;
        conn.busy_timeout(Duration::from_secs(10)).map_err(db)?;
        let (stop, stopped) = std::sync::mpsc::channel::<()>();
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
                while let Err(std::sync::mpsc::RecvTimeoutError::Timeout) =
                    stopped.recv_timeout(CHECKPOINT_EVERY)
                {
                    checkpoint("PASSIVE");
                }
                checkpoint("TRUNCATE");
            })
            .map_err(|e| StoreError::Corrupt(format!("spawn checkpointer: {e}")))?;
        Ok(Checkpointer { stop, thread })
    }

    fn stop(self) {
        let _ = self.stop.send(());
        let _ = self.thread.join();
    }
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
