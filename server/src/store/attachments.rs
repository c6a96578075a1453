//! What the store keeps of files attached to conversations (migration 0012): one row per file
//! and, when the bytes live in the database, its fixed-size chunks.
//!
//! Invariants every implementation keeps:
//! - A row is `pending` from [`AttachmentStore::attachment_begin`] until
//!   [`AttachmentStore::attachment_finish`] makes it ready in one commit; only ready rows are
//!   ever returned, so an upload cut in the middle is never seen (its caller discards it).
//! - At most one ready row per (thread, client id): a finish that finds one already there
//!   answers [`Finished::Existing`] and its own row stays pending, for the caller to discard.
//! - The conversation's total of ready bytes never exceeds the limit given to the finish
//!   (checked in the same commit, under the thread's write lock).
//! - Chunks are only written for pending rows and read by attachment id; the caller writes
//!   them through [`crate::attachments::blobs::Blobs`], so another blob backend can take the
//!   bytes instead (the rows always stay here): an object store set once at open
//!   ([`AttachmentStore::set_object_blobs`]) is then what every reader of the store uses.

use std::sync::Arc;

use async_trait::async_trait;
use bytes::Bytes;
use serde::{Deserialize, Serialize};

use super::Result;

/// A ready attachment.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Attachment {
    pub id: String,
    pub thread_id: String,
    pub name: String,
    /// The sniffed type.
    pub mime: String,
    pub size: u64,
    pub created_at: String,
}

/// What [`AttachmentStore::attachment_begin`] did.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub enum Begun {
    /// A pending row with this id: write the chunks, then finish or discard it.
    New(String),
    /// This client id was stored before: the first upload's file, nothing written.
    Existing(Attachment),
}

/// What [`AttachmentStore::attachment_finish`] did.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub enum Finished {
    Ready(Attachment),
    /// Another upload with the same client id became ready first (this one stays pending).
    Existing(Attachment),
    /// Ready bytes of the conversation already `used`: this file would pass the limit.
    OverQuota {
        used: u64,
    },
    /// The pending row is gone (discarded by a stale-upload sweep or a retention purge).
    Gone,
}

#[async_trait]
pub trait AttachmentStore: Send + Sync {
    /// Starts an upload to an open or handed-off thread (`ThreadNotFound`, `ThreadClosed`).
    async fn attachment_begin(&self, thread_id: &str, client_id: &str, name: &str)
        -> Result<Begun>;
    /// Makes the pending row `id` ready with its sniffed type and size, unless the thread's
    /// ready bytes plus `size` would pass `max_thread_bytes`.
    async fn attachment_finish(
        &self,
        id: &str,
        mime: &str,
        size: u64,
        max_thread_bytes: u64,
    ) -> Result<Finished>;
    /// Deletes a pending row (and nothing else; the caller deletes its chunks).
    async fn attachment_discard(&self, id: &str) -> Result<()>;
    /// The ready attachments of a thread among `ids`, in the order of `ids` (unknown ids and
    /// other threads' files are left out).
    async fn attachments(&self, thread_id: &str, ids: &[String]) -> Result<Vec<Attachment>>;
    /// Deletes every attachment row of a thread, ready or pending; returns their ids so the
    /// caller can delete the bytes.
    async fn purge_attachments(&self, thread_id: &str) -> Result<Vec<String>>;
    /// Up to `limit` closed threads of `bot` last changed before `before` (RFC 3339) that still
    /// have attachments (the retention sweep's work).
    async fn closed_threads_with_attachments(
        &self,
        bot: &str,
        before: &str,
        limit: u32,
    ) -> Result<Vec<String>>;
    /// Pending rows created before `before` (RFC 3339): uploads a crash or a lost connection
    /// left behind.
    async fn stale_uploads(&self, before: &str) -> Result<Vec<String>>;
    /// Stores chunk `n` of attachment `id` (the database blob backend).
    async fn chunk_put(&self, id: &str, n: u32, data: Bytes) -> Result<()>;
    async fn chunk_get(&self, id: &str, n: u32) -> Result<Option<Bytes>>;
    async fn chunks_delete(&self, id: &str) -> Result<()>;
    /// Makes `blobs` hold this store's attachment bytes instead of the chunk table (set once,
    /// at open; a second call is ignored).
    fn set_object_blobs(&self, blobs: Arc<dyn crate::attachments::blobs::Blobs>);
    /// What [`Self::set_object_blobs`] set; `None`: the chunk table.
    fn object_blobs(&self) -> Option<Arc<dyn crate::attachments::blobs::Blobs>>;
}
