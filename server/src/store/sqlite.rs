//! SQLite implementation of [`Store`]: one file in WAL mode.
//!
//! Writes go through a single writer task that owns the only writing connection. It drains its
//! queue into one transaction (group commit): each job runs in its own savepoint, so a failing
//! job is rolled back alone and the others still commit; then one COMMIT (one fsync) covers the
//! batch. Only after the COMMIT are callers answered and events handed to the sink. Reads use a
//! separate pool; WAL lets them run beside the writer.
//!
//! The writer caches each thread's last seq (it is the only writer, so the cache is exact);
//! a job rolled back restores the entries it touched, a failed COMMIT empties the cache.

use std::collections::HashMap;
use std::path::Path;
use std::str::FromStr;
use std::sync::Arc;
use std::time::Duration;

use async_trait::async_trait;
use natter_protocol::{
    ErrorDetail, EventEnvelope, EventPayload, FeedbackRequest, Message, Role, ThreadStatus,
};
use serde_json::Value;
use sqlx::sqlite::{SqliteConnectOptions, SqliteJournalMode, SqlitePoolOptions, SqliteSynchronous};
use sqlx::{Connection, Row, SqliteConnection, SqlitePool};
use tokio::sync::{mpsc, oneshot, Mutex};
use tokio::task::JoinHandle;

use super::*;
use crate::ids;
use crate::time::now_rfc3339;

const MIGRATIONS: &[(i64, &str)] = &[(1, include_str!("../../migrations/0001_init.sql"))];
/// Jobs per group commit; bounds the latency one batch adds.
const MAX_BATCH: usize = 512;
/// Writer queue bound: callers wait (backpressure) rather than growing memory.
const QUEUE: usize = 8192;
const SEQ_CACHE_MAX: usize = 200_000;

pub struct SqliteStore {
    read: SqlitePool,
    jobs: mpsc::Sender<Job>,
    writer: Mutex<Option<JoinHandle<()>>>,
}

/// Durability of a commit: `Full` fsyncs every group commit (survives power loss);
/// `Normal` survives a process crash (kill -9) but may lose the last commits on power loss.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Durability {
    Full,
    Normal,
}

impl SqliteStore {
    /// Opens (creating if needed) `dir/natter.db`, runs migrations, starts the writer.
    pub async fn open(dir: &Path, durability: Durability, sink: Arc<dyn EventSink>) -> Result<Self> {
        std::fs::create_dir_all(dir).map_err(|e| StoreError::Corrupt(format!("create {}: {e}", dir.display())))?;
        let path = dir.join("natter.db");
        let opts = SqliteConnectOptions::from_str(&format!("sqlite://{}", path.display()))?
            .create_if_missing(true)
            .journal_mode(SqliteJournalMode::Wal)
            .synchronous(match durability {
                Durability::Full => SqliteSynchronous::Full,
                Durability::Normal => SqliteSynchronous::Normal,
            })
            .busy_timeout(Duration::from_secs(10))
            .foreign_keys(true);
        let mut conn = SqliteConnection::connect_with(&opts).await?;
        migrate(&mut conn).await?;
        let read = SqlitePoolOptions::new()
            .max_connections(4)
            .connect_with(opts.clone().read_only(true))
            .await?;
        let (tx, rx) = mpsc::channel(QUEUE);
        let writer = Writer { conn, seq: HashMap::new(), sink };
        let handle = tokio::spawn(writer.run(rx));
        Ok(SqliteStore { read, jobs: tx, writer: Mutex::new(Some(handle)) })
    }

    async fn submit(&self, op: Op) -> Result<Done> {
        let (reply, rx) = oneshot::channel();
        self.jobs.send(Job { op, reply }).await.map_err(|_| StoreError::ShuttingDown)?;
        rx.await.map_err(|_| StoreError::ShuttingDown)?
    }
}

async fn migrate(conn: &mut SqliteConnection) -> Result<()> {
    sqlx::query("CREATE TABLE IF NOT EXISTS schema_version (version INTEGER PRIMARY KEY, applied_at TEXT NOT NULL)")
        .execute(&mut *conn)
        .await?;
    let current: i64 = sqlx::query_scalar("SELECT COALESCE(MAX(version), 0) FROM schema_version")
        .fetch_one(&mut *conn)
        .await?;
    for (version, sql) in MIGRATIONS.iter().filter(|(v, _)| *v > current) {
        let mut tx = conn.begin().await?;
        sqlx::raw_sql(sql).execute(&mut *tx).await?;
        sqlx::query("INSERT INTO schema_version (version, applied_at) VALUES (?, ?)")
            .bind(version)
            .bind(now_rfc3339())
            .execute(&mut *tx)
            .await?;
        tx.commit().await?;
        tracing::info!(version, "applied migration");
    }
    Ok(())
}

enum Op {
    CreateThread(NewThread, Option<Message>),
    Send { thread_id: String, message: Message, context: Option<Value>, run_id: String },
    Append { thread_id: String, events: Vec<EventPayload> },
    Complete { thread_id: String, run_id: Option<String>, message: Message },
    FinishRun { thread_id: String, run_id: String, outcome: RunOutcome, state: Option<Value> },
    Transition { thread_id: String, to: ThreadStatus, event: EventPayload },
    Feedback { thread_id: String, feedback: FeedbackRequest },
    Recover,
    /// Stop after committing this batch.
    Shutdown,
}

enum Done {
    Thread(Box<Thread>),
    Send(SendOutcome),
    Events(Vec<Arc<StoredEvent>>),
    Bool(bool),
    Id(String),
    Count(usize),
    Unit,
}

struct Job {
    op: Op,
    reply: oneshot::Sender<Result<Done>>,
}

struct Writer {
    conn: SqliteConnection,
    seq: HashMap<String, u64>,
    sink: Arc<dyn EventSink>,
}

/// Per-job scratch: events to publish and the seq-cache entries to restore on rollback.
#[derive(Default)]
struct JobLog {
    events: Vec<(String, Arc<StoredEvent>)>,
    touched: Vec<(String, Option<u64>)>,
}

impl Writer {
    // Plain `query` on purpose: `raw_sql(..).execute(&mut conn)` inside this spawned task trips
    // a higher-ranked `Send` inference bug ("Executor is not general enough").
    async fn exec(&mut self, sql: &'static str) -> Result<()> {
        sqlx::query(sql).execute(&mut self.conn).await?;
        Ok(())
    }

    async fn run(mut self, mut rx: mpsc::Receiver<Job>) {
        let mut batch = Vec::with_capacity(MAX_BATCH);
        while rx.recv_many(&mut batch, MAX_BATCH).await > 0 {
            let stop = batch.iter().any(|j| matches!(j.op, Op::Shutdown));
            self.commit_batch(&mut batch).await;
            if stop {
                rx.close();
                // Jobs that raced in after the Shutdown are refused, not lost silently.
                while let Ok(job) = rx.try_recv() {
                    let _ = job.reply.send(Err(StoreError::ShuttingDown));
                }
                break;
            }
        }
        let _ = self.conn.close().await;
    }

    async fn commit_batch(&mut self, batch: &mut Vec<Job>) {
        let started = std::time::Instant::now();
        let mut results: Vec<(oneshot::Sender<Result<Done>>, Result<Done>, JobLog)> = Vec::with_capacity(batch.len());
        if let Err(e) = sqlx::query("BEGIN IMMEDIATE").execute(&mut self.conn).await {
            for job in batch.drain(..) {
                let _ = job.reply.send(Err(StoreError::Corrupt(format!("begin failed: {e}"))));
            }
            return;
        }
        for job in batch.drain(..) {
            let mut log = JobLog::default();
            let res = match sqlx::query("SAVEPOINT job").execute(&mut self.conn).await {
                Err(e) => Err(e.into()),
                Ok(_) => {
                    let r = self.apply(job.op, &mut log).await;
                    let end = if r.is_ok() { Ok(()) } else { self.exec("ROLLBACK TO job").await };
                    match end.and(self.exec("RELEASE job").await) {
                        Ok(()) => r,
                        Err(e) => Err(e),
                    }
                }
            };
            if res.is_err() {
                for (thread, old) in log.touched.drain(..).rev() {
                    match old {
                        Some(v) => self.seq.insert(thread, v),
                        None => self.seq.remove(&thread),
                    };
                }
                log.events.clear();
            }
            results.push((job.reply, res, log));
        }
        let commit = sqlx::query("COMMIT").execute(&mut self.conn).await;
        crate::metrics::global().store_commit.observe(started.elapsed().as_secs_f64());
        match commit {
            Ok(_) => {
                for (reply, res, log) in results {
                    publish(&*self.sink, log.events);
                    let _ = reply.send(res);
                }
            }
            Err(e) => {
                tracing::error!(error = %e, "group commit failed");
                let _ = sqlx::query("ROLLBACK").execute(&mut self.conn).await;
                self.seq.clear();
                for (reply, _, _) in results {
                    let _ = reply.send(Err(StoreError::Corrupt(format!("commit failed: {e}"))));
                }
            }
        }
        if self.seq.len() > SEQ_CACHE_MAX {
            self.seq.clear();
        }
    }

    async fn apply(&mut self, op: Op, log: &mut JobLog) -> Result<Done> {
        match op {
            Op::CreateThread(new, greeting) => {
                let now = now_rfc3339();
                sqlx::query(
                    "INSERT INTO threads (id, public_id, bot, sub, subject, status, metadata, created_at, updated_at) \
                     VALUES (?, ?, ?, ?, ?, 'open', ?, ?, ?)",
                )
                .bind(&new.id)
                .bind(&new.public_id)
                .bind(&new.bot)
                .bind(&new.sub)
                .bind(&new.subject)
                .bind(Value::Object(new.metadata.clone()).to_string())
                .bind(&now)
                .bind(&now)
                .execute(&mut self.conn)
                .await?;
                self.seq.insert(new.id.clone(), 0);
                log.touched.push((new.id.clone(), None));
                if let Some(msg) = greeting {
                    self.store_message(&new.id, None, msg, None, log).await?;
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
            Op::Send { thread_id, message, context, run_id } => {
                let status = self.status(&thread_id).await?;
                if let Some(cmid) = &message.client_message_id {
                    let prior = sqlx::query("SELECT id, body FROM messages WHERE thread_id = ? AND client_message_id = ?")
                        .bind(&thread_id)
                        .bind(cmid)
                        .fetch_optional(&mut self.conn)
                        .await?;
                    if let Some(row) = prior {
                        let body: String = row.get(1);
                        let m: Message = serde_json::from_str(&body).map_err(|e| StoreError::Corrupt(e.to_string()))?;
                        return Ok(Done::Send(SendOutcome::Duplicate { message_id: row.get(0), run_id: m.run_id }));
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
                let ev = self.append_event(&thread_id, EventPayload::MessageCreated { message: message.clone() }, log).await?;
                self.insert_message_row(&thread_id, ev.seq, &message, ctx).await?;
                if let Some(run) = &run_id {
                    sqlx::query("INSERT INTO runs (id, thread_id, message_id, status, started_at) VALUES (?, ?, ?, 'running', ?)")
                        .bind(run)
                        .bind(&thread_id)
                        .bind(&message_id)
                        .bind(now_rfc3339())
                        .execute(&mut self.conn)
                        .await?;
                    self.append_event(&thread_id, EventPayload::RunStarted { run_id: run.clone(), message_id: message_id.clone() }, log)
                        .await?;
                }
                Ok(Done::Send(SendOutcome::Created { message_id, run_id }))
            }
            Op::Append { thread_id, events } => {
                self.status(&thread_id).await?;
                let mut out = Vec::with_capacity(events.len());
                for ev in events {
                    out.push(self.append_event(&thread_id, ev, log).await?);
                }
                Ok(Done::Events(out))
            }
            Op::Complete { thread_id, run_id, message } => {
                self.status(&thread_id).await?;
                self.store_message(&thread_id, run_id, message, None, log).await?;
                Ok(Done::Unit)
            }
            Op::FinishRun { thread_id, run_id, outcome, state } => {
                let (status, error, event) = match outcome {
                    RunOutcome::Completed => ("completed", None, EventPayload::RunCompleted { run_id: run_id.clone() }),
                    RunOutcome::Failed { code, message } => (
                        "failed",
                        Some(code.clone()),
                        EventPayload::RunFailed { run_id: run_id.clone(), error: ErrorDetail { code, message } },
                    ),
                };
                let updated = sqlx::query("UPDATE runs SET status = ?, error = ?, ended_at = ? WHERE id = ? AND status = 'running'")
                    .bind(status)
                    .bind(error)
                    .bind(now_rfc3339())
                    .bind(&run_id)
                    .execute(&mut self.conn)
                    .await?;
                if updated.rows_affected() == 0 {
                    return Ok(Done::Unit); // already finished: finishing twice writes nothing
                }
                if let Some(state) = state {
                    sqlx::query("UPDATE threads SET agent_state = ?, updated_at = ? WHERE id = ?")
                        .bind(state.to_string())
                        .bind(now_rfc3339())
                        .bind(&thread_id)
                        .execute(&mut self.conn)
                        .await?;
                }
                self.append_event(&thread_id, event, log).await?;
                Ok(Done::Unit)
            }
            Op::Transition { thread_id, to, event } => {
                let from = self.status(&thread_id).await?;
                let valid = matches!(
                    (from, to),
                    (ThreadStatus::Open, ThreadStatus::HandedOff)
                        | (ThreadStatus::Open, ThreadStatus::Closed)
                        | (ThreadStatus::HandedOff, ThreadStatus::Closed)
                );
                if !valid {
                    return Ok(Done::Bool(false));
                }
                sqlx::query("UPDATE threads SET status = ?, updated_at = ? WHERE id = ?")
                    .bind(to.as_str())
                    .bind(now_rfc3339())
                    .bind(&thread_id)
                    .execute(&mut self.conn)
                    .await?;
                self.append_event(&thread_id, event, log).await?;
                Ok(Done::Bool(true))
            }
            Op::Feedback { thread_id, feedback } => {
                self.status(&thread_id).await?;
                let exists = sqlx::query("SELECT id FROM messages WHERE id = ? AND thread_id = ? AND role != 'user'")
                    .bind(&feedback.message_id)
                    .bind(&thread_id)
                    .fetch_optional(&mut self.conn)
                    .await?;
                if exists.is_none() {
                    return Err(StoreError::MessageNotFound);
                }
                let id = ids::feedback();
                sqlx::query(
                    "INSERT INTO feedback (id, thread_id, message_id, is_positive, interaction_type, text, categories, created_at) \
                     VALUES (?, ?, ?, ?, ?, ?, ?, ?)",
                )
                .bind(&id)
                .bind(&thread_id)
                .bind(&feedback.message_id)
                .bind(feedback.is_positive)
                .bind(serde_json::to_value(feedback.interaction_type).unwrap_or_default().as_str().unwrap_or("button").to_string())
                .bind(&feedback.text)
                .bind(serde_json::to_string(&feedback.categories.unwrap_or_default()).unwrap_or_default())
                .bind(now_rfc3339())
                .execute(&mut self.conn)
                .await?;
                Ok(Done::Id(id))
            }
            Op::Recover => {
                let rows = sqlx::query("SELECT id, thread_id FROM runs WHERE status = 'running'")
                    .fetch_all(&mut self.conn)
                    .await?;
                let n = rows.len();
                for row in rows {
                    let (run_id, thread_id): (String, String) = (row.get(0), row.get(1));
                    sqlx::query("UPDATE runs SET status = 'failed', error = 'interrupted', ended_at = ? WHERE id = ?")
                        .bind(now_rfc3339())
                        .bind(&run_id)
                        .execute(&mut self.conn)
                        .await?;
                    let event = EventPayload::RunFailed {
                        run_id,
                        error: ErrorDetail { code: "interrupted".into(), message: "the server stopped during this run".into() },
                    };
                    self.append_event(&thread_id, event, log).await?;
                }
                Ok(Done::Count(n))
            }
            Op::Shutdown => Ok(Done::Unit),
        }
    }

    async fn status(&mut self, thread_id: &str) -> Result<ThreadStatus> {
        let s: Option<String> = sqlx::query("SELECT status FROM threads WHERE id = ?")
            .bind(thread_id)
            .fetch_optional(&mut self.conn)
            .await?
            .map(|r| r.get(0));
        let s = s.ok_or(StoreError::ThreadNotFound)?;
        ThreadStatus::parse(&s).ok_or_else(|| StoreError::Corrupt(format!("status {s}")))
    }

    async fn store_message(&mut self, thread_id: &str, run_id: Option<String>, mut message: Message, ctx: Option<String>, log: &mut JobLog) -> Result<()> {
        message.run_id = run_id.clone();
        let payload = if message.role == Role::Agent {
            EventPayload::AgentMessage { message: message.clone() }
        } else {
            EventPayload::MessageCompleted { run_id, message: message.clone() }
        };
        let ev = self.append_event(thread_id, payload, log).await?;
        self.insert_message_row(thread_id, ev.seq, &message, ctx).await
    }

    async fn insert_message_row(&mut self, thread_id: &str, seq: u64, m: &Message, ctx: Option<String>) -> Result<()> {
        sqlx::query(
            "INSERT INTO messages (id, thread_id, seq, role, body, client_message_id, context, created_at) VALUES (?, ?, ?, ?, ?, ?, ?, ?)",
        )
        .bind(&m.id)
        .bind(thread_id)
        .bind(seq as i64)
        .bind(m.role.as_str())
        .bind(serde_json::to_string(m).map_err(|e| StoreError::Corrupt(e.to_string()))?)
        .bind(&m.client_message_id)
        .bind(ctx)
        .bind(&m.created_at)
        .execute(&mut self.conn)
        .await?;
        Ok(())
    }

    async fn append_event(&mut self, thread_id: &str, payload: EventPayload, log: &mut JobLog) -> Result<Arc<StoredEvent>> {
        let last = match self.seq.get(thread_id) {
            Some(v) => *v,
            None => {
                let v: i64 = sqlx::query("SELECT COALESCE(MAX(seq), 0) FROM events WHERE thread_id = ?")
                    .bind(thread_id)
                    .fetch_one(&mut self.conn)
                    .await?
                    .get(0);
                v as u64
            }
        };
        let seq = last + 1;
        let created_at = now_rfc3339();
        let event_type = payload.event_type();
        let envelope = EventEnvelope { seq, thread_id: thread_id.to_string(), created_at, payload };
        let json = serde_json::to_string(&envelope).map_err(|e| StoreError::Corrupt(e.to_string()))?;
        sqlx::query("INSERT INTO events (thread_id, seq, type, data, created_at) VALUES (?, ?, ?, ?, ?)")
            .bind(thread_id)
            .bind(seq as i64)
            .bind(event_type)
            .bind(&json)
            .bind(&envelope.created_at)
            .execute(&mut self.conn)
            .await?;
        let old = self.seq.insert(thread_id.to_string(), seq);
        log.touched.push((thread_id.to_string(), old));
        let ev = Arc::new(StoredEvent { seq, event_type: event_type.to_string(), json });
        log.events.push((thread_id.to_string(), ev.clone()));
        Ok(ev)
    }
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

fn thread_from_row(row: &sqlx::sqlite::SqliteRow) -> Result<Thread> {
    let status: String = row.get("status");
    let corrupt = |e: serde_json::Error| StoreError::Corrupt(e.to_string());
    Ok(Thread {
        id: row.get("id"),
        public_id: row.get("public_id"),
        bot: row.get("bot"),
        sub: row.get("sub"),
        subject: row.get("subject"),
        status: ThreadStatus::parse(&status).ok_or_else(|| StoreError::Corrupt(status.clone()))?,
        tags: serde_json::from_str(row.get::<&str, _>("tags")).map_err(corrupt)?,
        metadata: serde_json::from_str(row.get::<&str, _>("metadata")).map_err(corrupt)?,
        agent_state: serde_json::from_str(row.get::<&str, _>("agent_state")).map_err(corrupt)?,
        created_at: row.get("created_at"),
    })
}

#[async_trait]
impl Store for SqliteStore {
    async fn create_thread(&self, new: NewThread, greeting: Option<Message>) -> Result<Thread> {
        match self.submit(Op::CreateThread(new, greeting)).await? {
            Done::Thread(t) => Ok(*t),
            _ => unreachable!("writer answers CreateThread with Thread"),
        }
    }

    async fn thread(&self, id: &str) -> Result<Option<Thread>> {
        let row = sqlx::query("SELECT * FROM threads WHERE id = ?").bind(id).fetch_optional(&self.read).await?;
        row.as_ref().map(thread_from_row).transpose()
    }

    async fn send_user_message(&self, thread_id: &str, message: Message, context: Option<Value>, run_id: String) -> Result<SendOutcome> {
        match self.submit(Op::Send { thread_id: thread_id.into(), message, context, run_id }).await? {
            Done::Send(s) => Ok(s),
            _ => unreachable!(),
        }
    }

    async fn append(&self, thread_id: &str, events: Vec<EventPayload>) -> Result<Vec<Arc<StoredEvent>>> {
        match self.submit(Op::Append { thread_id: thread_id.into(), events }).await? {
            Done::Events(e) => Ok(e),
            _ => unreachable!(),
        }
    }

    async fn complete_message(&self, thread_id: &str, run_id: Option<String>, message: Message) -> Result<()> {
        self.submit(Op::Complete { thread_id: thread_id.into(), run_id, message }).await.map(|_| ())
    }

    async fn finish_run(&self, thread_id: &str, run_id: &str, outcome: RunOutcome, state: Option<Value>) -> Result<()> {
        self.submit(Op::FinishRun { thread_id: thread_id.into(), run_id: run_id.into(), outcome, state }).await.map(|_| ())
    }

    async fn transition(&self, thread_id: &str, to: ThreadStatus, event: EventPayload) -> Result<bool> {
        match self.submit(Op::Transition { thread_id: thread_id.into(), to, event }).await? {
            Done::Bool(b) => Ok(b),
            _ => unreachable!(),
        }
    }

    async fn add_feedback(&self, thread_id: &str, feedback: FeedbackRequest) -> Result<String> {
        match self.submit(Op::Feedback { thread_id: thread_id.into(), feedback }).await? {
            Done::Id(id) => Ok(id),
            _ => unreachable!(),
        }
    }

    async fn history(&self, thread_id: &str) -> Result<(Vec<Message>, u64)> {
        // Seq first, then only messages at or below it: a message committed in between shows
        // up in the stream after `lastSeq`, not twice.
        let last = self.last_seq(thread_id).await?;
        let rows: Vec<String> = sqlx::query_scalar("SELECT body FROM messages WHERE thread_id = ? AND seq <= ? ORDER BY seq")
            .bind(thread_id)
            .bind(last as i64)
            .fetch_all(&self.read)
            .await?;
        let messages = rows
            .iter()
            .map(|b| serde_json::from_str(b).map_err(|e| StoreError::Corrupt(e.to_string())))
            .collect::<Result<_>>()?;
        Ok((messages, last))
    }

    async fn find_client_message(&self, thread_id: &str, cmid: &str) -> Result<Option<SendOutcome>> {
        let row: Option<(String, String)> = sqlx::query_as("SELECT id, body FROM messages WHERE thread_id = ? AND client_message_id = ?")
            .bind(thread_id)
            .bind(cmid)
            .fetch_optional(&self.read)
            .await?;
        row.map(|(id, body)| {
            let m: Message = serde_json::from_str(&body).map_err(|e| StoreError::Corrupt(e.to_string()))?;
            Ok(SendOutcome::Duplicate { message_id: id, run_id: m.run_id })
        })
        .transpose()
    }

    async fn message(&self, thread_id: &str, message_id: &str) -> Result<Option<Message>> {
        let row: Option<String> = sqlx::query_scalar("SELECT body FROM messages WHERE thread_id = ? AND id = ?")
            .bind(thread_id)
            .bind(message_id)
            .fetch_optional(&self.read)
            .await?;
        row.map(|b| serde_json::from_str(&b).map_err(|e| StoreError::Corrupt(e.to_string()))).transpose()
    }

    async fn events_after(&self, thread_id: &str, after: u64, limit: u32) -> Result<Vec<Arc<StoredEvent>>> {
        let rows = sqlx::query("SELECT seq, type, data FROM events WHERE thread_id = ? AND seq > ? ORDER BY seq LIMIT ?")
            .bind(thread_id)
            .bind(after as i64)
            .bind(limit as i64)
            .fetch_all(&self.read)
            .await?;
        Ok(rows
            .into_iter()
            .map(|r| Arc::new(StoredEvent { seq: r.get::<i64, _>(0) as u64, event_type: r.get(1), json: r.get(2) }))
            .collect())
    }

    async fn last_seq(&self, thread_id: &str) -> Result<u64> {
        let v: i64 = sqlx::query_scalar("SELECT COALESCE(MAX(seq), 0) FROM events WHERE thread_id = ?")
            .bind(thread_id)
            .fetch_one(&self.read)
            .await?;
        Ok(v as u64)
    }

    async fn recover_interrupted_runs(&self) -> Result<usize> {
        match self.submit(Op::Recover).await? {
            Done::Count(n) => Ok(n),
            _ => unreachable!(),
        }
    }

    async fn close(&self) {
        let handle = self.writer.lock().await.take();
        if let Some(handle) = handle {
            // Everything queued before the Shutdown job is committed before the writer stops.
            let _ = self.submit(Op::Shutdown).await;
            let _ = handle.await;
        }
        self.read.close().await;
    }
}
