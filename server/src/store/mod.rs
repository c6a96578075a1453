//! Persistence seam: [`Store`] is everything the server asks of its database.
//!
//! Invariants every implementation keeps:
//! - Each method is atomic: it commits all its rows and events or none ("nothing
//!   half-written"), and returns only after the commit (a send is acknowledged after it).
//! - Events of a thread get seq 1, 2, 3, … with no gap, and reach the [`EventSink`] in seq
//!   order. Every event is handed over after its commit, except those of [`Store::stream`] (a
//!   reply's start and deltas), which are handed over at once and committed with the thread's
//!   next write; a seq streamed that way is covered by a durable reservation, so a crash can
//!   lose the event but never give its seq to another one (the next start writes `stream.lost`
//!   in its place).
//! - What must be durable before anyone sees it is: a user message before its send is
//!   answered (202), a completed message before its `message.completed`, a run's end, a status
//!   change. Only [`Store::stream`] events may be seen first.
//! - Status transitions go open → handed_off → closed (or open → closed); each happens at most
//!   once and is recorded by exactly one event in the same commit.
//!
//! [`sqlite::SqliteStore`] is the default (single file, WAL, one writer thread doing group
//! commits). [`postgres::PgStore`] (`DATABASE_URL=postgres://…`) serves several instances on
//! one database: the events table is the truth, LISTEN/NOTIFY wakes the other instances' sinks
//! (see its module doc for how streamed events are committed there). The outbox table is
//! written in the same transaction as [`Store::transition`].
//!
//! Crash recovery ([`Store::recover_interrupted_runs`]): runs a crash left `running` are failed
//! (`interrupted`) and, in the same commit, re-created as new runs for the same user message
//! (at most [`MAX_RERUNS`] times per message, counted in `runs.attempt`), so the visitor still
//! gets an answer. A re-run starts from the agent state last saved, so an action the interrupted
//! run already executed may execute again (at-least-once).

pub mod actions;
pub mod attachments;
pub mod console;
pub mod live;
pub mod local_crm;
pub mod open;
pub mod postgres;
pub mod retention;
pub mod sqlite;
mod sqlite_checkpoint;
mod sqlite_pcache;
mod sqlite_sync;
mod sqlite_writer;

use std::sync::Arc;

use async_trait::async_trait;
use natter_protocol::{EventPayload, FeedbackRequest, Message, ThreadStatus};
use serde_json::Value;

#[derive(Debug, thiserror::Error)]
pub enum StoreError {
    #[error("thread not found")]
    ThreadNotFound,
    #[error("thread is closed")]
    ThreadClosed,
    #[error("message not found")]
    MessageNotFound,
    #[error("store is shutting down")]
    ShuttingDown,
    #[error("database: {0}")]
    Db(#[from] sqlx::Error),
    #[error("corrupt row: {0}")]
    Corrupt(String),
    /// The database cannot be reached or refused us (the message names no password).
    #[error("{0}")]
    Connect(String),
    /// The object store holding attachment bytes failed (`crate::attachments::s3`).
    #[error("object store: {0}")]
    Objects(String),
}

pub type Result<T, E = StoreError> = std::result::Result<T, E>;

/// A conversation.
#[derive(Debug, Clone, PartialEq)]
pub struct Thread {
    pub id: String,
    pub public_id: String,
    /// The bot's slug (`businessSlug`).
    pub bot: String,
    /// Owner: the JWT `sub` it was created with, `None` for anonymous bots.
    pub sub: Option<String>,
    pub subject: Option<String>,
    pub status: ThreadStatus,
    pub tags: Vec<String>,
    pub metadata: serde_json::Map<String, Value>,
    /// Opaque state the bot's agent keeps between turns.
    pub agent_state: Value,
    pub created_at: String,
    /// What the conversation came through (one of [`CHANNELS`]), set at creation.
    pub channel: String,
    /// The page the visitor is on, as the widget last sent it (an object; `None`: never sent).
    pub browser_session: Option<Value>,
}

/// The channels a conversation can come through: the Natter widget, the two IBM web chat
/// compatibility loaders, a protocol client that named none, a CRM-channel conversation.
pub const CHANNELS: [&str; 5] = ["web", "ibm_web_chat", "ibm_orchestrate", "api", "crm"];

/// How many characters of the visitor's first message make a conversation's default subject.
pub const SUBJECT_CHARS: usize = 80;

/// The subject a conversation without one gets from its first visitor message: the start of
/// its text, whitespace runs folded to one space, cut at [`SUBJECT_CHARS`] characters (an
/// ellipsis marks a cut).
pub fn default_subject(text: &str) -> Option<String> {
    let mut out = String::new();
    let mut n = 0;
    for word in text.split_whitespace() {
        for c in (!out.is_empty())
            .then_some(' ')
            .into_iter()
            .chain(word.chars())
        {
            if n == SUBJECT_CHARS {
                out.pop();
                out.push('…');
                return Some(out);
            }
            out.push(c);
            n += 1;
        }
    }
    (!out.is_empty()).then_some(out)
}

/// One committed event of a thread's log.
#[derive(Debug, Clone, PartialEq)]
pub struct StoredEvent {
    pub seq: u64,
    pub event_type: String,
    /// The full `EventEnvelope` JSON, written to SSE as is.
    pub json: String,
}

/// Receives committed events, in commit order (see the module invariants).
pub trait EventSink: Send + Sync + 'static {
    fn published(&self, thread_id: &str, events: &[Arc<StoredEvent>]);
    /// Whether anyone here follows the thread: events other instances committed are read
    /// from the log only for those.
    fn watching(&self, _thread_id: &str) -> bool {
        true
    }
    /// The threads followed here (to catch up after a lost notification connection).
    fn watched(&self) -> Vec<String> {
        Vec::new()
    }
}

#[derive(Debug, Clone)]
pub struct NewThread {
    pub id: String,
    pub public_id: String,
    pub bot: String,
    pub sub: Option<String>,
    pub subject: Option<String>,
    pub metadata: serde_json::Map<String, Value>,
    /// One of [`CHANNELS`].
    pub channel: String,
    pub browser_session: Option<Value>,
}

/// A visitor's text message `id` (client id `cm_{id}`) saying `words` (the store's own tests).
#[cfg(test)]
pub(crate) fn visitor_message(id: &str, words: &str) -> Message {
    Message {
        id: id.into(),
        role: natter_protocol::Role::User,
        content: vec![natter_protocol::ContentItem::text("c0", words)],
        message_options: natter_protocol::MessageOptions::default(),
        created_at: "2026-12-07T00:00:00.000Z".into(),
        run_id: None,
        client_message_id: Some(format!("cm_{id}")),
    }
}

impl NewThread {
    /// A web thread of bot `b` with nothing else set (the store's own tests).
    #[cfg(test)]
    pub(crate) fn plain(id: &str, public_id: &str) -> NewThread {
        NewThread {
            id: id.into(),
            public_id: public_id.into(),
            bot: "b".into(),
            sub: None,
            subject: None,
            metadata: Default::default(),
            channel: "web".into(),
            browser_session: None,
        }
    }

    /// The thread this creates, as stored at `created_at`.
    pub fn created(self, created_at: String) -> Thread {
        Thread {
            id: self.id,
            public_id: self.public_id,
            bot: self.bot,
            sub: self.sub,
            subject: self.subject,
            status: ThreadStatus::Open,
            tags: vec![],
            metadata: self.metadata,
            agent_state: Value::Null,
            created_at,
            channel: self.channel,
            browser_session: self.browser_session,
        }
    }
}

/// What a send did.
#[derive(Debug, Clone, PartialEq)]
pub enum SendOutcome {
    /// Stored now; `run_id` is `None` when the bot must not answer (handed off).
    Created {
        message_id: String,
        run_id: Option<String>,
    },
    /// This `clientMessageId` was stored before: the first result, nothing written.
    Duplicate {
        message_id: String,
        run_id: Option<String>,
    },
}

/// One write of a run; [`Store::run_batch`] commits several atomically, in order.
#[derive(Debug, Clone, PartialEq)]
pub enum RunItem {
    /// An event that stores no row (`message.started`, `message.delta`, …).
    Event(EventPayload),
    /// A completed bot/agent message and its `message.completed` (or `agent.message`) event.
    Message {
        run_id: Option<String>,
        message: Message,
    },
    /// The run's end: its state and `run.completed` / `run.failed`.
    Finish {
        run_id: String,
        outcome: RunOutcome,
        agent_state: Option<Value>,
    },
}

/// How many times one user message's answer is re-run after crashes (the first run not
/// counted): a reply that crashes the server can't loop forever.
pub const MAX_RERUNS: i64 = 2;

/// What [`Store::recover_interrupted_runs`] did.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Recovered {
    /// Runs marked `run.failed` (`interrupted`).
    pub interrupted: usize,
    /// New runs started (already `running`, with their `run.started`), to be queued.
    pub reruns: Vec<Rerun>,
}

/// A run created at start to answer a user message whose run a crash interrupted.
#[derive(Debug, Clone, PartialEq)]
pub struct Rerun {
    pub thread_id: String,
    /// The thread's bot (`businessSlug`).
    pub bot: String,
    pub run_id: String,
    /// The interrupted run it replaces.
    pub interrupted_run_id: String,
    /// The user message's text and host context, as first sent.
    pub text: String,
    pub context: Option<Value>,
}

#[derive(Debug, Clone, PartialEq)]
pub enum RunOutcome {
    Completed,
    Failed { code: String, message: String },
}

#[async_trait]
pub trait Store:
    attachments::AttachmentStore + retention::RetentionStore + Send + Sync + 'static
{
    /// Creates a thread; `greeting`, if any, is stored as its first message
    /// (one `message.completed` event) in the same commit.
    async fn create_thread(&self, new: NewThread, greeting: Option<Message>) -> Result<Thread>;
    async fn thread(&self, id: &str) -> Result<Option<Thread>>;
    /// Stores a user message idempotently on `(thread, clientMessageId)` and, unless the thread
    /// is handed off, starts run `run_id` for it (`message.created` + `run.started`). A thread
    /// without a subject gets [`default_subject`] of it, in the same commit.
    /// A closed thread refuses with [`StoreError::ThreadClosed`].
    async fn send_user_message(
        &self,
        thread_id: &str,
        message: Message,
        context: Option<Value>,
        run_id: String,
    ) -> Result<SendOutcome>;
    /// Streams events of a reply in progress (`message.started`, `message.delta`): they get
    /// their seqs and reach subscribers now, and become durable with the thread's next write
    /// (at the latest the completed message or the run's end). An implementation must: keep
    /// seqs gap-free and publish in seq order across streamed and durable events; show them to
    /// [`Store::events_after`] until they are in the log; never give a streamed event a seq
    /// above a durable reservation, and after a crash record the seqs up to it that the log
    /// lacks as `stream.lost` before the interrupted run's `run.failed`. The default appends
    /// them durably (correct, one commit per call).
    async fn stream(&self, thread_id: &str, events: Vec<EventPayload>) -> Result<()> {
        self.append(thread_id, events).await.map(|_| ())
    }
    /// Appends events that store no row (`agent.typing`, `thread.event`, …), durably.
    async fn append(
        &self,
        thread_id: &str,
        events: Vec<EventPayload>,
    ) -> Result<Vec<Arc<StoredEvent>>>;
    /// Stores a bot (or agent) message and its `message.completed` event.
    async fn complete_message(
        &self,
        thread_id: &str,
        run_id: Option<String>,
        message: Message,
    ) -> Result<()>;
    /// Commits the items in order, atomically (one job: fewer commits per streamed reply).
    async fn run_batch(&self, thread_id: &str, items: Vec<RunItem>) -> Result<()>;
    /// Ends a run: saves the agent's state and appends `run.completed` / `run.failed`.
    async fn finish_run(
        &self,
        thread_id: &str,
        run_id: &str,
        outcome: RunOutcome,
        agent_state: Option<Value>,
    ) -> Result<()>;
    /// Moves the thread to `to` if that is a valid transition, appending `event` in the same
    /// commit. Returns `false` (and writes nothing) when it is not (e.g. already closed).
    async fn transition(
        &self,
        thread_id: &str,
        to: ThreadStatus,
        event: EventPayload,
    ) -> Result<bool>;
    async fn add_feedback(&self, thread_id: &str, feedback: FeedbackRequest) -> Result<String>;
    /// History, oldest first, and the seq of the last event it reflects: every message stored
    /// by an event with seq ≤ that value, and none after (a consistent point to stream from).
    async fn history(&self, thread_id: &str) -> Result<(Vec<Message>, u64)>;
    /// The first result of a send with this `clientMessageId`, if there was one.
    async fn find_client_message(
        &self,
        thread_id: &str,
        client_message_id: &str,
    ) -> Result<Option<SendOutcome>>;
    async fn message(&self, thread_id: &str, message_id: &str) -> Result<Option<Message>>;
    /// The latest feedback choice per message of a thread, in message order of first feedback.
    async fn feedback_choices(
        &self,
        _thread_id: &str,
    ) -> Result<Vec<natter_protocol::FeedbackChoice>> {
        Ok(Vec::new())
    }
    /// Up to `limit` events with seq > `after`, in order: the log, then the streamed events of
    /// a reply in progress that are not durable yet ([`Store::stream`]).
    async fn events_after(
        &self,
        thread_id: &str,
        after: u64,
        limit: u32,
    ) -> Result<Vec<Arc<StoredEvent>>>;
    async fn last_seq(&self, thread_id: &str) -> Result<u64>;
    /// At start: runs left `running` by a crash get `run.failed` (`interrupted`); in the same
    /// commit, a new run (`run.started`) is created for each such run's user message unless its
    /// thread is no longer open, a later run of the thread completed, or the message was re-run
    /// [`MAX_RERUNS`] times already. The caller must queue the returned re-runs.
    async fn recover_interrupted_runs(&self) -> Result<Recovered>;
    /// `Some(every)` when other instances share the database: interrupted runs are then looked
    /// for again that often (an instance may die at any time), not only at start.
    fn recovery_interval(&self) -> Option<std::time::Duration> {
        None
    }
    /// Stores a sanitized value (a CRM action result marked `sanitize`) apart from the
    /// metadata: never shown, only read by [`Store::secrets`] for action arguments.
    async fn set_secret(&self, thread_id: &str, key: &str, value: Value) -> Result<()>;
    /// The thread's sanitized values (see [`Store::set_secret`]).
    async fn secrets(&self, thread_id: &str) -> Result<serde_json::Map<String, Value>>;
    /// Replaces the thread's browser session (a JSON object); `ThreadNotFound` without it.
    async fn set_browser_session(&self, thread_id: &str, session: Value) -> Result<()>;
    /// Sets (`Some`) or deletes (`None`) one metadata key; returns whether it was set before.
    async fn set_metadata(&self, thread_id: &str, key: &str, value: Option<Value>) -> Result<bool>;
    /// Keeps `data` with one message of the thread (replacing what was kept); `MessageNotFound`
    /// when the thread has no such message. Migration 0008; used by the IBM layer (docs/ibm.md).
    async fn set_message_user_defined(
        &self,
        thread_id: &str,
        message_id: &str,
        data: Value,
    ) -> Result<()>;
    /// What [`Store::set_message_user_defined`] kept for the thread's messages, by message id.
    async fn messages_user_defined(
        &self,
        thread_id: &str,
    ) -> Result<serde_json::Map<String, Value>>;
    /// Adds a tag once; a tag already there keeps its id (`already_present`).
    async fn add_tag(&self, thread_id: &str, tag: &str) -> Result<actions::TagOutcome>;
    /// `(tag id, tag)` of a thread, in the order added.
    async fn tag_ids(&self, thread_id: &str) -> Result<Vec<(String, String)>>;
    /// The variant stored for (thread, test) if it is in `allowed`, else stores `candidate`.
    async fn ab_variant(
        &self,
        thread_id: &str,
        test: &str,
        candidate: &str,
        allowed: Vec<String>,
    ) -> Result<String>;
    async fn record_action_run(&self, run: actions::ActionRun) -> Result<()>;
    /// Logged action runs, newest first.
    async fn action_runs(&self, query: actions::ActionRunQuery) -> Result<Vec<actions::ActionRun>>;
    async fn thread_by_public_id(&self, public_id: &str) -> Result<Option<Thread>>;
    /// Outbox (see [`crate::outbox`]): leases up to `limit` due jobs whose lane has no
    /// earlier pending job, counting the attempt.
    async fn claim_jobs(
        &self,
        now_ms: i64,
        lease_ms: i64,
        limit: usize,
    ) -> Result<Vec<crate::outbox::ClaimedJob>>;
    /// Records a claimed job's attempt; a handler job's run is stored in the same commit.
    async fn finish_job(
        &self,
        id: &str,
        result: crate::outbox::JobResult,
        run: Option<crate::outbox::HandlerRun>,
    ) -> Result<()>;
    /// Stores a handler run that no job caused (a Run Test).
    async fn record_handler_run(&self, run: crate::outbox::HandlerRun) -> Result<()>;
    /// A bot's handler runs, newest first.
    async fn handler_runs(&self, bot: &str, limit: u32) -> Result<Vec<crate::outbox::HandlerRun>>;
    /// At start: leases of a previous process are void (one SQLite file has one server).
    async fn release_leases(&self) -> Result<usize>;
    /// A thread's outbox jobs in queue order (tests, admin).
    async fn outbox_jobs(&self, thread_id: &str) -> Result<Vec<crate::outbox::JobRow>>;
    /// The thread a CRM-channel conversation maps to.
    async fn crm_thread(&self, bot: &str, platform_conversation_id: &str)
        -> Result<Option<String>>;
    /// Creates a CRM-channel thread and its mapping atomically (`new.id` must start with
    /// [`crate::outbox::CRM_THREAD_PREFIX`]); an existing mapping wins and is returned.
    async fn create_crm_thread(
        &self,
        new: NewThread,
        platform_conversation_id: &str,
        greeting: Option<Message>,
    ) -> Result<Thread>;
    /// Threads of `bot` not closed whose last event is older than `idle_before` (RFC 3339).
    async fn idle_threads(&self, bot: &str, idle_before: &str, limit: u32) -> Result<Vec<String>>;
    /// Flushes pending writes and closes. Later calls fail with `ShuttingDown`.
    async fn close(&self);
    /// The console's conversation list: one page newest first, and counts per status.
    async fn list_conversations(
        &self,
        query: &console::ConversationQuery,
    ) -> Result<console::ConversationPage>;
    /// Feedback, timeline and handler runs of a conversation's detail view.
    async fn conversation_extras(&self, thread_id: &str) -> Result<console::ConversationExtras>;
    /// A bot's overview figures as of `now`.
    async fn bot_stats(&self, bot: &str, now: time::OffsetDateTime) -> Result<console::BotStats>;
    /// Stores a console session, first dropping expired ones and, when `max` are left, the
    /// oldest.
    async fn create_console_session(
        &self,
        session: console::ConsoleSession,
        max: u32,
    ) -> Result<()>;
    /// The CSRF token of the session whose id hashes to `id_hash`, if it has not expired by
    /// `now_ms`.
    async fn console_session_csrf(&self, id_hash: &str, now_ms: i64) -> Result<Option<String>>;
    async fn remove_console_session(&self, id_hash: &str) -> Result<()>;
    /// The local CRM takes a note ([`local_crm`]); `false` (nothing written) when its webhook
    /// id was taken before.
    async fn local_crm_note(&self, note: local_crm::Note) -> Result<bool>;
    /// The local CRM's conversations of `bot`, newest first, each with its lines.
    async fn local_crm_conversations(&self, bot: &str) -> Result<Vec<local_crm::Conversation>>;
    /// Records that `agent` (an agent console) of `bot` looked at `now_ms`.
    async fn local_crm_agent_seen(&self, bot: &str, agent: &str, now_ms: i64) -> Result<()>;
    /// Whether an agent console of `bot` looked at or after `since_ms`.
    async fn local_crm_online(&self, bot: &str, since_ms: i64) -> Result<bool>;
}

#[cfg(test)]
mod tests {
    use super::{default_subject, SUBJECT_CHARS};

    #[test]
    fn subject_is_the_start_of_the_first_message() {
        assert_eq!(
            default_subject("  Where is\n\tmy  order? ").as_deref(),
            Some("Where is my order?")
        );
        assert_eq!(default_subject(" \n "), None);
        let long = "é".repeat(SUBJECT_CHARS + 5);
        let s = default_subject(&long).unwrap();
        assert_eq!(s.chars().count(), SUBJECT_CHARS);
        assert!(s.ends_with('…'));
        let exact = "a".repeat(SUBJECT_CHARS);
        assert_eq!(default_subject(&exact).as_deref(), Some(exact.as_str()));
    }
}
