//! Where the bytes of attachments live: the store itself ([`StoreBlobs`]: chunks in the
//! `attachment_chunks` table of SQLite or PostgreSQL, so several instances on one PostgreSQL
//! database share them), or an S3-compatible object store ([`super::s3::S3Blobs`], one object
//! per chunk) when one is configured.
//!
//! A file is a sequence of chunks `0, 1, 2, …` under its attachment id, each at most
//! [`super::CHUNK`] bytes, written in order while the upload streams in and read one at a time
//! while a download streams out: neither ever holds the whole file. The rows (name, type,
//! size, readiness) stay in the store either way, so readiness and the per-conversation limit
//! keep their single commit.

use std::sync::Arc;

use async_trait::async_trait;
use bytes::Bytes;

use crate::store::{Store, StoreError};

#[async_trait]
pub trait Blobs: Send + Sync {
    /// Stores chunk `n` of attachment `id` (replacing one written before).
    async fn put(&self, id: &str, n: u32, data: Bytes) -> Result<(), StoreError>;
    /// Chunk `n`, or `None` past the last one.
    async fn get(&self, id: &str, n: u32) -> Result<Option<Bytes>, StoreError>;
    /// Deletes every chunk of `id` (nothing when there is none).
    async fn delete(&self, id: &str) -> Result<(), StoreError>;
}

/// The bytes in the store's `attachment_chunks` table.
pub struct StoreBlobs(pub Arc<dyn Store>);

#[async_trait]
impl Blobs for StoreBlobs {
    async fn put(&self, id: &str, n: u32, data: Bytes) -> Result<(), StoreError> {
        self.0.chunk_put(id, n, data).await
    }
    async fn get(&self, id: &str, n: u32) -> Result<Option<Bytes>, StoreError> {
        self.0.chunk_get(id, n).await
    }
    async fn delete(&self, id: &str) -> Result<(), StoreError> {
        self.0.chunks_delete(id).await
    }
}
