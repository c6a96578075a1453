//! SQLite implementation of [`Store`]: one file in WAL mode.
//!
//! Writes go through a single writer (see [`super::sqlite_writer`]) that owns the only writing
//! connection and commits queued jobs in groups; callers are answered after the flush that
//! makes the COMMIT durable ([`super::sqlite_sync`]). Reads use a sqlx pool of read-only
//! connections; WAL lets them run beside the writer. Reads of a thread's log and messages stop
//! below its first event not flushed yet ([`Unsynced`]). Replies in progress stream through the
//! [`Live`] tails and become durable with the thread's next write.

use std::path::Path;
use std::str::FromStr;
use std::sync::Arc;
use std::time::Duration;

use async_trait::async_trait;
use natter_protocol::{EventPayload, FeedbackRequest, Message, ThreadStatus};
use serde_json::Value;
use sqlx::sqlite::{SqliteConnectOptions, SqliteJournalMode, SqlitePoolOptions};
use sqlx::{Row, SqlitePool};
use tokio::sync::{mpsc, oneshot, Mutex};

use super::live::{Live, Streamed};
use super::sqlite_sync::Unsynced;
use super::sqlite_writer::{Done, Job, Op, Writer, WriterHandle};
use super::*;

mod actions;
mod attachments;
mod console;
mod console_sessions;
pub(super) mod fts;
mod local_crm;
mod outbox;
mod retention;
mod session;
pub(super) mod thread_cache;
mod user_defined;

pub struct SqliteStore {
    read: SqlitePool,
    jobs: mpsc::Sender<Job>,
    writer: Mutex<Option<WriterHandle>>,
    live: Arc<Live>,
    unsynced: Arc<Unsynced>,
    /// Thread rows as last committed (see [`thread_cache`]).
    threads: Arc<thread_cache::ThreadCache>,
    /// The attachment bytes' backend when it is not the chunk table.
    objects: std::sync::OnceLock<Arc<dyn crate::attachments::blobs::Blobs>>,
}

/// Durability of a commit: `Full` flushes every group commit to disk before anyone sees it
/// (survives power loss);
/// `Normal` survives a process crash (kill -9) but may lose the last commits on power loss.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Durability {
    Full,
    Normal,
}

impl SqliteStore {
    /// Opens (creating if needed) `dir/natter.db`, runs migrations, starts the writer.
    pub async fn open(
        dir: &Path,
        durability: Durability,
        sink: Arc<dyn EventSink>,
    ) -> Result<Self> {
        Self::open_with_planner(dir, durability, sink, Arc::new(crate::outbox::NoJobs)).await
    }

    /// Like [`SqliteStore::open`], with the planner that decides each change's outbox jobs.
    pub async fn open_with_planner(
        dir: &Path,
        durability: Durability,
        sink: Arc<dyn EventSink>,
        planner: Arc<dyn crate::outbox::Planner>,
    ) -> Result<Self> {
        std::fs::create_dir_all(dir)
            .map_err(|e| StoreError::Corrupt(format!("create {}: {e}", dir.display())))?;
        let path = dir.join("natter.db");
        if !sqlite_pcache::install() {
            tracing::debug!("SQLite started before the store: its default page cache stays");
        }
        let live = Arc::new(Live::new(sink));
        let unsynced = Arc::new(Unsynced::default());
        let threads = Arc::new(thread_cache::ThreadCache::default());
        let (jobs, writer) = Writer::start(
            path.clone(),
            durability,
            live.clone(),
            planner,
            unsynced.clone(),
            threads.clone(),
        )
        .await?;
        let opts = SqliteConnectOptions::from_str(&format!("sqlite://{}", path.display()))?
            .journal_mode(SqliteJournalMode::Wal)
            .busy_timeout(Duration::from_secs(10))
            .read_only(true);
        let read = SqlitePoolOptions::new()
            .max_connections(4)
            .connect_with(opts)
            .await?;
        Ok(SqliteStore {
            read,
            jobs,
            writer: Mutex::new(Some(writer)),
            live,
            unsynced,
            threads,
            objects: Default::default(),
        })
    }

    /// Keeps the sync thread from handing over committed batches while the guard lives.
    #[cfg(test)]
    pub(super) fn hold_sync(&self) -> std::sync::MutexGuard<'_, ()> {
        self.unsynced.gate.lock().unwrap()
    }

    async fn submit(&self, op: Op) -> Result<Done> {
        let (reply, rx) = oneshot::channel();
        self.jobs
            .send(Job { op, reply })
            .await
            .map_err(|_| StoreError::ShuttingDown)?;
        rx.await.map_err(|_| StoreError::ShuttingDown)?
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
        channel: row.get("channel"),
        browser_session: row
            .get::<Option<&str>, _>("browser_session")
            .map(serde_json::from_str)
            .transpose()
            .map_err(corrupt)?,
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
        let ticket = match self.threads.get(id) {
            thread_cache::Lookup::Hit(t) => return Ok(Some(*t)),
            thread_cache::Lookup::Miss(ticket) => ticket,
        };
        let row = sqlx::query("SELECT rowid AS row_id, * FROM threads WHERE id = ?")
            .bind(id)
            .fetch_optional(&self.read)
            .await?;
        let Some(row) = row else { return Ok(None) };
        let thread = thread_from_row(&row)?;
        self.threads.fill(ticket, row.get("row_id"), &thread);
        Ok(Some(thread))
    }

    async fn send_user_message(
        &self,
        thread_id: &str,
        message: Message,
        context: Option<Value>,
        run_id: String,
    ) -> Result<SendOutcome> {
        match self
            .submit(Op::Send {
                thread_id: thread_id.into(),
                message,
                context,
                run_id,
            })
            .await?
        {
            Done::Send(s) => Ok(s),
            _ => unreachable!(),
        }
    }

    async fn append(
        &self,
        thread_id: &str,
        events: Vec<EventPayload>,
    ) -> Result<Vec<Arc<StoredEvent>>> {
        match self
            .submit(Op::Append {
                thread_id: thread_id.into(),
                events,
            })
            .await?
        {
            Done::Events(e) => Ok(e),
            _ => unreachable!(),
        }
    }

    async fn stream(&self, thread_id: &str, events: Vec<EventPayload>) -> Result<()> {
        match self.live.stream(thread_id, &events) {
            Streamed::NotLive => self.append(thread_id, events).await.map(|_| ()),
            Streamed::Queued { reserve: false } => Ok(()),
            Streamed::Queued { reserve: true } => {
                // Not awaited: the reply goes on streaming while the reservation commits.
                let (reply, _) = oneshot::channel();
                let op = Op::Reserve {
                    thread_id: thread_id.into(),
                };
                self.jobs
                    .send(Job { op, reply })
                    .await
                    .map_err(|_| StoreError::ShuttingDown)
            }
        }
    }

    async fn run_batch(&self, thread_id: &str, items: Vec<RunItem>) -> Result<()> {
        self.submit(Op::RunBatch {
            thread_id: thread_id.into(),
            items,
        })
        .await
        .map(|_| ())
    }

    async fn complete_message(
        &self,
        thread_id: &str,
        run_id: Option<String>,
        message: Message,
    ) -> Result<()> {
        self.submit(Op::Complete {
            thread_id: thread_id.into(),
            run_id,
            message,
        })
        .await
        .map(|_| ())
    }

    async fn finish_run(
        &self,
        thread_id: &str,
        run_id: &str,
        outcome: RunOutcome,
        state: Option<Value>,
    ) -> Result<()> {
        self.submit(Op::FinishRun {
            thread_id: thread_id.into(),
            run_id: run_id.into(),
            outcome,
            state,
        })
        .await
        .map(|_| ())
    }

    async fn transition(
        &self,
        thread_id: &str,
        to: ThreadStatus,
        event: EventPayload,
    ) -> Result<bool> {
        match self
            .submit(Op::Transition {
                thread_id: thread_id.into(),
                to,
                event,
            })
            .await?
        {
            Done::Bool(b) => Ok(b),
            _ => unreachable!(),
        }
    }

    async fn add_feedback(&self, thread_id: &str, feedback: FeedbackRequest) -> Result<String> {
        match self
            .submit(Op::Feedback {
                thread_id: thread_id.into(),
                feedback,
            })
            .await?
        {
            Done::Id(id) => Ok(id),
            _ => unreachable!(),
        }
    }

    async fn history(&self, thread_id: &str) -> Result<(Vec<Message>, u64)> {
        // Seq first, then only messages at or below it: a message committed in between shows
        // up in the stream after `lastSeq`, not twice.
        let last = self.last_seq(thread_id).await?;
        let rows: Vec<String> = sqlx::query_scalar(
            "SELECT body FROM messages WHERE thread_id = ? AND seq <= ? ORDER BY seq",
        )
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

    async fn feedback_choices(
        &self,
        thread_id: &str,
    ) -> Result<Vec<natter_protocol::FeedbackChoice>> {
        let rows: Vec<(String, i64)> =
            sqlx::query_as("SELECT message_id, is_positive FROM feedback WHERE thread_id = ? ORDER BY created_at, rowid")
                .bind(thread_id)
                .fetch_all(&self.read)
                .await?;
        let mut out: Vec<natter_protocol::FeedbackChoice> = Vec::new();
        for (message_id, positive) in rows {
            match out.iter_mut().find(|c| c.message_id == message_id) {
                Some(c) => c.is_positive = positive != 0,
                None => out.push(natter_protocol::FeedbackChoice {
                    message_id,
                    is_positive: positive != 0,
                }),
            }
        }
        Ok(out)
    }

    async fn find_client_message(
        &self,
        thread_id: &str,
        cmid: &str,
    ) -> Result<Option<SendOutcome>> {
        let row: Option<(String, String)> = sqlx::query_as(
            "SELECT id, body FROM messages WHERE thread_id = ? AND client_message_id = ? AND seq < ?",
        )
        .bind(thread_id)
        .bind(cmid)
        .bind(self.unsynced.bound(thread_id))
        .fetch_optional(&self.read)
        .await?;
        row.map(|(id, body)| {
            let m: Message =
                serde_json::from_str(&body).map_err(|e| StoreError::Corrupt(e.to_string()))?;
            Ok(SendOutcome::Duplicate {
                message_id: id,
                run_id: m.run_id,
            })
        })
        .transpose()
    }

    async fn message(&self, thread_id: &str, message_id: &str) -> Result<Option<Message>> {
        let row: Option<String> = sqlx::query_scalar(
            "SELECT body FROM messages WHERE thread_id = ? AND id = ? AND seq < ?",
        )
        .bind(thread_id)
        .bind(message_id)
        .bind(self.unsynced.bound(thread_id))
        .fetch_optional(&self.read)
        .await?;
        row.map(|b| serde_json::from_str(&b).map_err(|e| StoreError::Corrupt(e.to_string())))
            .transpose()
    }

    async fn events_after(
        &self,
        thread_id: &str,
        after: u64,
        limit: u32,
    ) -> Result<Vec<Arc<StoredEvent>>> {
        // The tail first: what leaves it is in the log by then (and flushed).
        let tail = self.live.tail_after(thread_id, after);
        let rows = sqlx::query("SELECT seq, type, data FROM events WHERE thread_id = ? AND seq > ? AND seq < ? ORDER BY seq LIMIT ?")
            .bind(thread_id)
            .bind(after as i64)
            .bind(self.unsynced.bound(thread_id))
            .bind(limit as i64)
            .fetch_all(&self.read)
            .await?;
        let full = rows.len() as u32 == limit;
        let mut out: Vec<Arc<StoredEvent>> = rows
            .into_iter()
            .map(|r| {
                Arc::new(StoredEvent {
                    seq: r.get::<i64, _>(0) as u64,
                    event_type: r.get(1),
                    json: r.get(2),
                })
            })
            .collect();
        if !full {
            let last = out.last().map_or(after, |e| e.seq);
            out.extend(tail.into_iter().filter(|e| e.seq > last));
            out.truncate(limit as usize);
        }
        Ok(out)
    }

    async fn last_seq(&self, thread_id: &str) -> Result<u64> {
        let v: i64 = sqlx::query_scalar(
            "SELECT COALESCE(MAX(seq), 0) FROM events WHERE thread_id = ? AND seq < ?",
        )
        .bind(thread_id)
        .bind(self.unsynced.bound(thread_id))
        .fetch_one(&self.read)
        .await?;
        Ok(v as u64)
    }

    async fn recover_interrupted_runs(&self) -> Result<super::Recovered> {
        match self.submit(Op::Recover).await? {
            Done::Recovered(r) => Ok(r),
            _ => unreachable!(),
        }
    }

    async fn set_secret(&self, thread_id: &str, key: &str, value: Value) -> Result<()> {
        self.do_set_secret(thread_id, key, value).await
    }

    async fn secrets(&self, thread_id: &str) -> Result<serde_json::Map<String, Value>> {
        self.do_secrets(thread_id).await
    }

    async fn set_message_user_defined(
        &self,
        thread_id: &str,
        message_id: &str,
        data: Value,
    ) -> Result<()> {
        self.do_set_message_user_defined(thread_id, message_id, data)
            .await
    }

    async fn messages_user_defined(
        &self,
        thread_id: &str,
    ) -> Result<serde_json::Map<String, Value>> {
        self.do_messages_user_defined(thread_id).await
    }

    async fn set_browser_session(&self, thread_id: &str, session: Value) -> Result<()> {
        self.do_set_browser_session(thread_id, session).await
    }

    async fn set_metadata(&self, thread_id: &str, key: &str, value: Option<Value>) -> Result<bool> {
        self.do_set_metadata(thread_id, key, value).await
    }

    async fn add_tag(&self, thread_id: &str, tag: &str) -> Result<super::actions::TagOutcome> {
        self.do_add_tag(thread_id, tag).await
    }

    async fn tag_ids(&self, thread_id: &str) -> Result<Vec<(String, String)>> {
        self.do_tag_ids(thread_id).await
    }

    async fn ab_variant(
        &self,
        thread_id: &str,
        test: &str,
        candidate: &str,
        allowed: Vec<String>,
    ) -> Result<String> {
        self.do_ab_variant(thread_id, test, candidate, allowed)
            .await
    }

    async fn record_action_run(&self, run: super::actions::ActionRun) -> Result<()> {
        self.do_record_action_run(run).await
    }

    async fn action_runs(
        &self,
        query: super::actions::ActionRunQuery,
    ) -> Result<Vec<super::actions::ActionRun>> {
        self.do_action_runs(query).await
    }

    async fn thread_by_public_id(&self, public_id: &str) -> Result<Option<Thread>> {
        self.do_thread_by_public_id(public_id).await
    }

    async fn claim_jobs(
        &self,
        now_ms: i64,
        lease_ms: i64,
        limit: usize,
    ) -> Result<Vec<crate::outbox::ClaimedJob>> {
        self.do_claim_jobs(now_ms, lease_ms, limit).await
    }

    async fn finish_job(
        &self,
        id: &str,
        result: crate::outbox::JobResult,
        run: Option<crate::outbox::HandlerRun>,
    ) -> Result<()> {
        self.do_finish_job(id, result, run).await
    }

    async fn record_handler_run(&self, run: crate::outbox::HandlerRun) -> Result<()> {
        self.do_finish_job("", crate::outbox::JobResult::Done, Some(run))
            .await
    }

    async fn handler_runs(&self, bot: &str, limit: u32) -> Result<Vec<crate::outbox::HandlerRun>> {
        self.do_handler_runs(bot, limit).await
    }

    async fn release_leases(&self) -> Result<usize> {
        self.do_release_leases().await
    }

    async fn outbox_jobs(&self, thread_id: &str) -> Result<Vec<crate::outbox::JobRow>> {
        self.do_outbox_jobs(thread_id).await
    }

    async fn crm_thread(
        &self,
        bot: &str,
        platform_conversation_id: &str,
    ) -> Result<Option<String>> {
        self.do_crm_thread(bot, platform_conversation_id).await
    }

    async fn create_crm_thread(
        &self,
        new: NewThread,
        platform_conversation_id: &str,
        greeting: Option<Message>,
    ) -> Result<Thread> {
        self.do_create_crm_thread(new, platform_conversation_id, greeting)
            .await
    }

    async fn idle_threads(&self, bot: &str, idle_before: &str, limit: u32) -> Result<Vec<String>> {
        self.do_idle_threads(bot, idle_before, limit).await
    }

    async fn close(&self) {
        let handle = self.writer.lock().await.take();
        if let Some(handle) = handle {
            // Everything queued before the Shutdown job is committed before the writer stops.
            let _ = self.submit(Op::Shutdown).await;
            handle.join().await;
        }
        self.read.close().await;
    }

    async fn list_conversations(
        &self,
        query: &super::console::ConversationQuery,
    ) -> Result<super::console::ConversationPage> {
        self.do_list_conversations(query).await
    }

    async fn conversation_extras(
        &self,
        thread_id: &str,
    ) -> Result<super::console::ConversationExtras> {
        self.do_conversation_extras(thread_id).await
    }

    async fn bot_stats(
        &self,
        bot: &str,
        now: time::OffsetDateTime,
    ) -> Result<super::console::BotStats> {
        self.do_bot_stats(bot, now).await
    }

    async fn create_console_session(
        &self,
        session: crate::store::console::ConsoleSession,
        max: u32,
    ) -> Result<()> {
        self.do_create_console_session(session, max).await
    }

    async fn console_session_csrf(&self, id_hash: &str, now_ms: i64) -> Result<Option<String>> {
        self.do_console_session_csrf(id_hash, now_ms).await
    }

    async fn remove_console_session(&self, id_hash: &str) -> Result<()> {
        self.do_remove_console_session(id_hash).await
    }

    async fn local_crm_note(&self, note: crate::store::local_crm::Note) -> Result<bool> {
        self.do_local_crm_note(note).await
    }

    async fn local_crm_conversations(
        &self,
        bot: &str,
    ) -> Result<Vec<crate::store::local_crm::Conversation>> {
        self.do_local_crm_conversations(bot).await
    }

    async fn local_crm_agent_seen(&self, bot: &str, agent: &str, now_ms: i64) -> Result<()> {
        self.do_local_crm_agent_seen(bot, agent, now_ms).await
    }

    async fn local_crm_online(&self, bot: &str, since_ms: i64) -> Result<bool> {
        self.do_local_crm_online(bot, since_ms).await
    }
}
