//! Deleting whole conversations when their bot's retention says so (`[lifecycle]
//! delete_after_close_secs`): the store's side of [`crate::lifecycle::retention`].
//!
//! Invariants every implementation keeps:
//! - Only a *due* conversation is deleted: closed, last changed before the given time, and
//!   with no pending outbox job (a webhook or event handler still to run sees the conversation
//!   whole; a job that failed for good does not hold it).
//! - [`RetentionStore::delete_conversation`] deletes everything kept of one conversation in one
//!   commit (thread, messages and their search entries, events, runs, feedback, tags,
//!   metadata, action and handler runs, outbox rows, CRM mappings, local CRM lines, files),
//!   after deleting the bytes of its files through the blob backend it is given. While it
//!   runs the conversation is claimed: on PostgreSQL its row is locked (`FOR UPDATE SKIP
//!   LOCKED`), so when several instances sweep at once each due conversation is deleted by
//!   one of them; on SQLite the single server's sweep is the only deleter.
//! - A failure (the blob backend down, the database) deletes no row: the next sweep retries.

use async_trait::async_trait;

use super::Result;
use crate::attachments::blobs::Blobs;

#[async_trait]
pub trait RetentionStore: Send + Sync {
    /// Up to `limit` due conversations of `bot` (closed, last changed before `before`, RFC
    /// 3339, no pending outbox job), oldest first.
    async fn conversations_due(&self, bot: &str, before: &str, limit: u32) -> Result<Vec<String>>;
    /// Deletes the conversation if it is still due: first its files' bytes (through `blobs`),
    /// then every row, in one commit. `false` (nothing deleted) when it is gone, no longer due,
    /// or being deleted by another instance.
    async fn delete_conversation(
        &self,
        thread_id: &str,
        before: &str,
        blobs: &dyn Blobs,
    ) -> Result<bool>;
}

/// Tables holding rows of one conversation by `thread_id`, children first (foreign keys).
/// `threads` itself and what is keyed otherwise (chunks by attachment, local CRM by
/// conversation) are deleted apart.
pub const THREAD_TABLES: &[&str] = &[
    "message_user_defined",
    "feedback",
    "thread_tags",
    "ab_variants",
    "secret_metadata",
    "action_runs",
    "handler_runs",
    "outbox",
    "crm_conversations",
    "runs",
    "events",
    "messages",
    "attachments",
];
