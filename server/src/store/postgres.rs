//! PostgreSQL implementation of [`Store`] (`DATABASE_URL=postgres://…`): any number of
//! `natter` instances share one database, one event log and one outbox.
//!
//! Why sqlx (`postgres` feature) rather than tokio-postgres: the server already speaks to
//! SQLite through sqlx, so pools, errors ([`StoreError::Db`]) and row decoding are the same
//! types, and sqlx brings `PgListener` (LISTEN with reconnects) for the fan-out.
//!
//! Writes: every [`Store`] method that writes is one transaction ([`tx::Tx`]). It locks the
//! rows of the threads it writes (`SELECT … FOR UPDATE`), takes their next seqs from
//! `threads.last_seq`, inserts the events, moves `last_seq` and notifies, all in one statement
//! before COMMIT. The row lock serializes the writers of a thread across instances, so seqs are
//! 1, 2, 3, … with no gap, in commit order. Events reach this instance's sink after the COMMIT;
//! other instances get them inside the NOTIFY, or from the log when one is too large to carry
//! ([`fanout`]).
//!
//! The hot path's writes — a send to an open thread, a reply's streamed events, a run's
//! completed message and end — are each one statement with the same effect ([`fast`]), and
//! are group-committed: one writer per instance runs those queued meanwhile in one
//! transaction with one COMMIT and one NOTIFY statement ([`group`]), as the SQLite store's
//! writer does. A transaction that notifies holds a database-wide lock through its COMMIT's WAL
//! flush, so without groups the database would commit one write per flush.
//!
//! Streamed events ([`Store::stream`]: a reply's start and deltas) are rows like any other
//! event (a stream resuming on any instance reads them from the log) and are published after
//! their group's commit; a group of streamed events only commits with `synchronous_commit = off` (no WAL
//! flush wait). They become durable at the latest with the next synchronous commit (the
//! completed message), since WAL is flushed in order. A kill -9 of an instance loses nothing
//! committed; a crash of the PostgreSQL server itself may lose the last streamed events of a
//! reply in progress (the run is then re-run; a client that saw them re-reads from its
//! Last-Event-ID).
//!
//! Several instances: each has a row in `instances` it refreshes (heartbeat); runs carry their
//! owner. [`Store::recover_interrupted_runs`] (called at start and then periodically, see
//! [`Store::recovery_interval`]) fails and re-runs only runs whose owner stopped refreshing, one
//! thread row lock at a time, so one run is recovered by one instance. Outbox jobs are claimed
//! with `FOR UPDATE SKIP LOCKED` and a lease ([`outbox`]). Migrations run under an advisory
//! lock ([`migrate`]).

mod actions;
mod attachments;
mod console;
mod console_sessions;
pub mod fanout;
mod fast;
mod group;
mod local_crm;
mod migrate;
mod outbox;
mod read;
mod retention;
mod session;
mod tx;
mod user_defined;
mod write;

use std::sync::Arc;
use std::time::Duration;

use async_trait::async_trait;
use natter_protocol::{EventPayload, FeedbackRequest, Message, ThreadStatus};
use serde_json::Value;
use sqlx::postgres::{PgConnectOptions, PgPoolOptions};
use sqlx::{PgPool, Row};
use tokio_util::sync::CancellationToken;

use super::*;
use crate::outbox::Planner;

/// Runs `task` on a thread of its own (`name`) with a current-thread runtime, so its work never
/// waits behind the server's tasks (the group writer, the event listener). The receiver fires
/// when the thread ends; a runtime that cannot be built is logged and ends it at once.
fn on_own_thread<F>(
    name: &str,
    task: impl FnOnce() -> F + Send + 'static,
) -> std::io::Result<tokio::sync::oneshot::Receiver<()>>
where
    F: std::future::Future<Output = ()>,
{
    let (done_tx, done_rx) = tokio::sync::oneshot::channel();
    let label = name.to_string();
    std::thread::Builder::new()
        .name(label.clone())
        .spawn(move || {
            match tokio::runtime::Builder::new_current_thread()
                .enable_all()
                .build()
            {
                Ok(rt) => rt.block_on(task()),
                Err(e) => tracing::error!(error = %e, thread = %label, "no runtime for the thread"),
            }
            let _ = done_tx.send(());
        })?;
    Ok(done_rx)
}

/// Settings of the PostgreSQL store.
#[derive(Debug, Clone)]
pub struct PgOptions {
    /// Connections in this instance's pool (the LISTEN connection is one more).
    pub pool_size: u32,
    /// An instance that has not refreshed its heartbeat for this long is dead: its runs are
    /// re-run by another instance.
    pub run_lease: Duration,
}

impl Default for PgOptions {
    fn default() -> Self {
        PgOptions {
            pool_size: 16,
            run_lease: Duration::from_secs(30),
        }
    }
}

pub struct PgStore {
    pool: PgPool,
    sink: Arc<dyn EventSink>,
    planner: Arc<dyn Planner>,
    /// This instance's id (`instances.id`, `runs.owner`, NOTIFY payloads).
    instance: String,
    options: PgOptions,
    /// The writer that group-commits the hot path's writes ([`group`]).
    group: group::Group,
    /// Stops the heartbeat and the fan-out listener.
    stop: CancellationToken,
    tasks: tokio_util::task::TaskTracker,
    /// The attachment bytes' backend when it is not the chunk table.
    objects: std::sync::OnceLock<Arc<dyn crate::attachments::blobs::Blobs>>,
}

/// `postgres://user:secret@host/db` → `postgres://user@host/db`: what error messages show.
pub fn redact(url: &str) -> String {
    match url::Url::parse(url) {
        Ok(mut u) => {
            let _ = u.set_password(None);
            u.set_query(None);
            u.to_string()
        }
        Err(_) => "(an unparsable URL)".into(),
    }
}

fn connect_error(url: &str, e: impl std::fmt::Display) -> StoreError {
    StoreError::Connect(format!(
        "cannot connect to PostgreSQL at {}: {e}",
        redact(url)
    ))
}

impl PgStore {
    /// Connects, runs the migrations (once, under an advisory lock), registers this instance
    /// and starts its heartbeat and the fan-out listener.
    pub async fn open(
        url: &str,
        options: PgOptions,
        sink: Arc<dyn EventSink>,
        planner: Arc<dyn Planner>,
    ) -> Result<Self> {
        let connect: PgConnectOptions = url.parse().map_err(|e| connect_error(url, e))?;
        // Named in pg_stat_activity: the pool, the group writer and the event listener.
        let name = connect
            .get_application_name()
            .unwrap_or("natter")
            .to_string();
        let connect = connect.application_name(&name);
        // One connection first: its error says why (the pool would only time out).
        let first = tokio::time::timeout(
            Duration::from_secs(10),
            <sqlx::PgConnection as sqlx::Connection>::connect_with(&connect),
        )
        .await
        .map_err(|_| connect_error(url, "no answer within 10 s"))?
        .map_err(|e| connect_error(url, db_reason(&e)))?;
        let _ = sqlx::Connection::close(first).await;
        let pool = PgPoolOptions::new()
            .max_connections(options.pool_size.max(2))
            .acquire_timeout(Duration::from_secs(10))
            // No ping before each use (a round trip per transaction): a broken connection
            // fails its statement and the pool replaces it.
            .test_before_acquire(false)
            .connect_with(connect.clone())
            .await
            .map_err(|e| connect_error(url, db_reason(&e)))?;
        migrate::run(&pool).await?;
        let instance = format!("inst_{}", uuid::Uuid::new_v4().simple());
        let now = crate::outbox::now_ms();
        sqlx::query("INSERT INTO instances (id, started_at, heartbeat_at) VALUES ($1, $2, $2)")
            .bind(&instance)
            .bind(now)
            .execute(&pool)
            .await?;
        // When another instance's commit last reached this one (ms): the writer waits for
        // bigger groups only while other instances share the writes.
        let peers = Arc::new(std::sync::atomic::AtomicI64::new(i64::MIN));
        let group = group::Group::start(
            connect.clone().application_name(&format!("{name} writer")),
            instance.clone(),
            sink.clone(),
            peers.clone(),
        )?;
        let store = PgStore {
            pool,
            sink,
            planner,
            instance,
            options,
            group,
            stop: CancellationToken::new(),
            tasks: tokio_util::task::TaskTracker::new(),
            objects: Default::default(),
        };
        store.start_heartbeat();
        fanout::start(
            &store,
            connect.application_name(&format!("{name} listener")),
            peers,
        )
        .await?;
        tracing::info!(instance = %store.instance, "PostgreSQL store open");
        Ok(store)
    }

    /// This instance's id.
    pub fn instance(&self) -> &str {
        &self.instance
    }

    fn start_heartbeat(&self) {
        let (pool, id, stop) = (self.pool.clone(), self.instance.clone(), self.stop.clone());
        let every = self.options.run_lease / 4;
        self.tasks.spawn(async move {
            loop {
                tokio::select! {
                    _ = stop.cancelled() => return,
                    _ = tokio::time::sleep(every) => {}
                }
                let r = sqlx::query("UPDATE instances SET heartbeat_at = $1 WHERE id = $2")
                    .bind(crate::outbox::now_ms())
                    .bind(&id)
                    .execute(&pool)
                    .await;
                if let Err(e) = r {
                    tracing::warn!(error = %e, "instance heartbeat failed");
                }
            }
        });
    }
}

/// What a connection error says, without anything of the URL.
fn db_reason(e: &sqlx::Error) -> String {
    match e {
        sqlx::Error::Database(d) => d.message().to_string(),
        sqlx::Error::Io(io) => io.to_string(),
        sqlx::Error::PoolTimedOut => "no connection within 10 s".into(),
        sqlx::Error::Tls(t) => format!("TLS: {t}"),
        other => other.to_string(),
    }
}

fn corrupt(e: serde_json::Error) -> StoreError {
    StoreError::Corrupt(e.to_string())
}

fn thread_from_row(row: &sqlx::postgres::PgRow) -> Result<Thread> {
    let status: String = row.get("status");
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
impl Store for PgStore {
    async fn create_thread(&self, new: NewThread, greeting: Option<Message>) -> Result<Thread> {
        self.do_create_thread(new, greeting).await
    }

    async fn thread(&self, id: &str) -> Result<Option<Thread>> {
        self.do_thread("id", id).await
    }

    async fn send_user_message(
        &self,
        thread_id: &str,
        message: Message,
        context: Option<Value>,
        run_id: String,
    ) -> Result<SendOutcome> {
        self.do_send(thread_id, message, context, run_id).await
    }

    async fn stream(&self, thread_id: &str, events: Vec<EventPayload>) -> Result<()> {
        if events.is_empty() {
            return Ok(());
        }
        self.do_stream(thread_id, events).await
    }

    async fn append(
        &self,
        thread_id: &str,
        events: Vec<EventPayload>,
    ) -> Result<Vec<Arc<StoredEvent>>> {
        self.do_append(thread_id, events).await
    }

    async fn complete_message(
        &self,
        thread_id: &str,
        run_id: Option<String>,
        message: Message,
    ) -> Result<()> {
        self.do_run_batch(thread_id, vec![RunItem::Message { run_id, message }])
            .await
    }

    async fn run_batch(&self, thread_id: &str, items: Vec<RunItem>) -> Result<()> {
        self.do_run_batch(thread_id, items).await
    }

    async fn finish_run(
        &self,
        thread_id: &str,
        run_id: &str,
        outcome: RunOutcome,
        agent_state: Option<Value>,
    ) -> Result<()> {
        let item = RunItem::Finish {
            run_id: run_id.into(),
            outcome,
            agent_state,
        };
        self.do_run_batch(thread_id, vec![item]).await
    }

    async fn transition(
        &self,
        thread_id: &str,
        to: ThreadStatus,
        event: EventPayload,
    ) -> Result<bool> {
        self.do_transition(thread_id, to, event).await
    }

    async fn add_feedback(&self, thread_id: &str, feedback: FeedbackRequest) -> Result<String> {
        self.do_feedback(thread_id, feedback).await
    }

    async fn history(&self, thread_id: &str) -> Result<(Vec<Message>, u64)> {
        self.do_history(thread_id).await
    }

    async fn find_client_message(
        &self,
        thread_id: &str,
        client_message_id: &str,
    ) -> Result<Option<SendOutcome>> {
        self.do_find_client_message(thread_id, client_message_id)
            .await
    }

    async fn message(&self, thread_id: &str, message_id: &str) -> Result<Option<Message>> {
        self.do_message(thread_id, message_id).await
    }

    async fn feedback_choices(
        &self,
        thread_id: &str,
    ) -> Result<Vec<natter_protocol::FeedbackChoice>> {
        self.do_feedback_choices(thread_id).await
    }

    async fn events_after(
        &self,
        thread_id: &str,
        after: u64,
        limit: u32,
    ) -> Result<Vec<Arc<StoredEvent>>> {
        self.do_events_after(thread_id, after, limit).await
    }

    async fn last_seq(&self, thread_id: &str) -> Result<u64> {
        self.do_last_seq(thread_id).await
    }

    async fn recover_interrupted_runs(&self) -> Result<Recovered> {
        self.do_recover().await
    }

    fn recovery_interval(&self) -> Option<Duration> {
        Some(self.options.run_lease / 2)
    }

    async fn set_secret(&self, thread_id: &str, key: &str, value: Value) -> Result<()> {
        self.do_set_secret(thread_id, key, value).await
    }

    async fn secrets(&self, thread_id: &str) -> Result<serde_json::Map<String, Value>> {
        self.do_secrets(thread_id).await
    }

    async fn set_browser_session(&self, thread_id: &str, session: Value) -> Result<()> {
        self.do_set_browser_session(thread_id, session).await
    }

    async fn set_metadata(&self, thread_id: &str, key: &str, value: Option<Value>) -> Result<bool> {
        self.do_set_metadata(thread_id, key, value).await
    }

    async fn add_tag(
        &self,
        thread_id: &str,
        tag: &str,
    ) -> Result<crate::store::actions::TagOutcome> {
        self.do_add_tag(thread_id, tag).await
    }

    async fn tag_ids(&self, thread_id: &str) -> Result<Vec<(String, String)>> {
        self.do_tag_ids(thread_id).await
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

    async fn record_action_run(&self, run: crate::store::actions::ActionRun) -> Result<()> {
        self.do_record_action_run(run).await
    }

    async fn action_runs(
        &self,
        query: crate::store::actions::ActionRunQuery,
    ) -> Result<Vec<crate::store::actions::ActionRun>> {
        self.do_action_runs(query).await
    }

    async fn thread_by_public_id(&self, public_id: &str) -> Result<Option<Thread>> {
        self.do_thread("public_id", public_id).await
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

    /// Leases belong to live instances too: none is released at start. A dead instance's
    /// leases expire and its jobs are claimed again then.
    async fn release_leases(&self) -> Result<usize> {
        Ok(0)
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
        self.group.close().await;
        self.stop.cancel();
        self.tasks.close();
        self.tasks.wait().await;
        // Gone, not dead: nothing of this instance is left running after a graceful stop.
        let _ = sqlx::query("DELETE FROM instances WHERE id = $1")
            .bind(&self.instance)
            .execute(&self.pool)
            .await;
        self.pool.close().await;
    }

    async fn list_conversations(
        &self,
        query: &crate::store::console::ConversationQuery,
    ) -> Result<crate::store::console::ConversationPage> {
        self.do_list_conversations(query).await
    }

    async fn conversation_extras(
        &self,
        thread_id: &str,
    ) -> Result<crate::store::console::ConversationExtras> {
        self.do_conversation_extras(thread_id).await
    }

    async fn bot_stats(
        &self,
        bot: &str,
        now: time::OffsetDateTime,
    ) -> Result<crate::store::console::BotStats> {
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
