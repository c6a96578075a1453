//! One upload, from a stream of body pieces to a ready attachment.
//!
//! The bytes are gathered into [`CHUNK`]-sized pieces and written as they fill, so memory stays
//! at about one chunk per upload whatever the file's size. The type is sniffed from the first
//! [`SNIFF_LEN`] bytes before anything is written, and the size is checked as the bytes
//! arrive. Any failure (too large, wrong type, a cut stream, over the conversation's limit)
//! deletes what was written and leaves the pending row gone: nothing half-stored is ever seen.
//! A retry with the same client id after a success answers the first file and stores nothing.

use std::sync::Arc;

use bytes::{Bytes, BytesMut};
use futures_util::{Stream, StreamExt};

use super::blobs::Blobs;
use super::sniff::{sniff, SNIFF_LEN};
use super::{AttachError, AttachmentsConfig, CHUNK};
use crate::store::attachments::{Attachment, Begun, Finished};
use crate::store::Store;

/// An upload's outcome.
#[derive(Debug)]
pub enum Stored {
    /// Stored now.
    New(Attachment),
    /// This client id was stored before; the body was not kept.
    Existing(Attachment),
}

/// What an upload needs besides its bytes.
pub struct Upload<'a> {
    pub store: &'a Arc<dyn Store>,
    pub blobs: &'a Arc<dyn Blobs>,
    pub limits: &'a AttachmentsConfig,
    pub thread_id: &'a str,
    pub client_id: &'a str,
    pub name: &'a str,
}

impl Upload<'_> {
    /// Stores `body` (`declared`: its Content-Length, if any, refused early when too large).
    /// On error the body may be partly unread: the caller drains it if it must answer.
    pub async fn run<S, E>(self, declared: Option<u64>, body: &mut S) -> Result<Stored, AttachError>
    where
        S: Stream<Item = Result<Bytes, E>> + Unpin,
    {
        if !self.limits.enabled {
            return Err(AttachError::Disabled);
        }
        super::check_name(self.name)?;
        super::check_client_id(self.client_id)?;
        let max = self.limits.max_file_bytes;
        if declared.is_some_and(|n| n > max) {
            return Err(AttachError::TooLarge { limit: max });
        }
        let id = match self
            .store
            .attachment_begin(self.thread_id, self.client_id, self.name)
            .await?
        {
            Begun::Existing(a) => return Ok(Stored::Existing(a)),
            Begun::New(id) => id,
        };
        let result = self.fill(&id, body).await;
        let result = match result {
            Ok((mime, size)) => self.finish(&id, mime, size).await,
            Err(e) => Err(e),
        };
        match result {
            Ok(Stored::New(a)) => Ok(Stored::New(a)),
            other => {
                self.discard(&id).await;
                other
            }
        }
    }

    /// Streams the body into chunks; returns the sniffed type and the size.
    async fn fill<S, E>(&self, id: &str, body: &mut S) -> Result<(&'static str, u64), AttachError>
    where
        S: Stream<Item = Result<Bytes, E>> + Unpin,
    {
        let max = self.limits.max_file_bytes;
        let mut buf = BytesMut::with_capacity(CHUNK);
        let mut mime = None;
        let mut size = 0u64;
        let mut n = 0u32;
        while let Some(piece) = body.next().await {
            let piece = piece.map_err(|_| AttachError::Cut)?;
            size += piece.len() as u64;
            if size > max {
                return Err(AttachError::TooLarge { limit: max });
            }
            buf.extend_from_slice(&piece);
            if mime.is_none() && buf.len() >= SNIFF_LEN {
                mime = Some(self.sniffed(&buf[..SNIFF_LEN], false)?);
            }
            while buf.len() >= CHUNK {
                let chunk = buf.split_to(CHUNK).freeze();
                self.blobs.put(id, n, chunk).await?;
                n += 1;
            }
        }
        if size == 0 {
            return Err(AttachError::Empty);
        }
        let mime = match mime {
            Some(m) => m,
            None => self.sniffed(&buf, true)?,
        };
        if !buf.is_empty() {
            self.blobs.put(id, n, buf.freeze()).await?;
        }
        Ok((mime, size))
    }

    fn sniffed(&self, head: &[u8], complete: bool) -> Result<&'static str, AttachError> {
        let found = sniff(head, complete);
        if self.limits.accepts(found) {
            Ok(found)
        } else {
            Err(AttachError::Type {
                found,
                accepted: self.limits.types.join(", "),
            })
        }
    }

    async fn finish(&self, id: &str, mime: &str, size: u64) -> Result<Stored, AttachError> {
        let limit = self.limits.max_conversation_bytes;
        match self.store.attachment_finish(id, mime, size, limit).await? {
            Finished::Ready(a) => Ok(Stored::New(a)),
            Finished::Existing(a) => Ok(Stored::Existing(a)),
            Finished::OverQuota { used } => Err(AttachError::QuotaExceeded { limit, used }),
            Finished::Gone => Err(AttachError::Cut),
        }
    }

    /// Removes a failed (or duplicate) upload's bytes and pending row; a failure here is only
    /// logged (the stale-upload sweep removes what is left).
    async fn discard(&self, id: &str) {
        if let Err(e) = self.blobs.delete(id).await {
            tracing::warn!(attachment = id, error = %e, "could not delete a failed upload's bytes");
        }
        if let Err(e) = self.store.attachment_discard(id).await {
            tracing::warn!(attachment = id, error = %e, "could not delete a failed upload's row");
        }
    }
}
