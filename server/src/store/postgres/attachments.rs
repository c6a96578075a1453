//! PostgreSQL side of [`crate::store::attachments`]. A finish locks the thread's row
//! (`FOR UPDATE`) before it sums the ready bytes, so two uploads finishing at once on any
//! instances cannot both pass the conversation's limit, and the partial unique index keeps one
//! ready row per client id.

use async_trait::async_trait;
use bytes::Bytes;
use sqlx::Row;

use super::super::attachments::{Attachment, AttachmentStore, Begun, Finished};
use super::super::{Result, StoreError};
use super::PgStore;
use crate::time::now_rfc3339;

const COLUMNS: &str = "id, thread_id, name, mime, size, created_at";

fn row(r: &sqlx::postgres::PgRow) -> Attachment {
    Attachment {
        id: r.get("id"),
        thread_id: r.get("thread_id"),
        name: r.get("name"),
        mime: r.get("mime"),
        size: r.get::<i64, _>("size") as u64,
        created_at: r.get("created_at"),
    }
}

type Tx = sqlx::Transaction<'static, sqlx::Postgres>;

async fn ready_by_client(
    tx: &mut Tx,
    thread_id: &str,
    client_id: &str,
) -> Result<Option<Attachment>> {
    Ok(sqlx::query(&format!(
        "SELECT {COLUMNS} FROM attachments WHERE thread_id = $1 AND client_id = $2 AND ready = 1"
    ))
    .bind(thread_id)
    .bind(client_id)
    .fetch_optional(&mut **tx)
    .await?
    .map(|r| row(&r)))
}

#[async_trait]
impl AttachmentStore for PgStore {
    async fn attachment_begin(
        &self,
        thread_id: &str,
        client_id: &str,
        name: &str,
    ) -> Result<Begun> {
        let mut tx = self.pool.begin().await?;
        let status: Option<String> =
            sqlx::query_scalar("SELECT status FROM threads WHERE id = $1 FOR SHARE")
                .bind(thread_id)
                .fetch_optional(&mut *tx)
                .await?;
        match status.as_deref() {
            None => return Err(StoreError::ThreadNotFound),
            Some("closed") => return Err(StoreError::ThreadClosed),
            Some(_) => {}
        }
        if let Some(a) = ready_by_client(&mut tx, thread_id, client_id).await? {
            return Ok(Begun::Existing(a));
        }
        let id = crate::ids::attachment();
        sqlx::query(
            "INSERT INTO attachments (id, thread_id, client_id, name, created_at) VALUES ($1, $2, $3, $4, $5)",
        )
        .bind(&id)
        .bind(thread_id)
        .bind(client_id)
        .bind(name)
        .bind(now_rfc3339())
        .execute(&mut *tx)
        .await?;
        tx.commit().await?;
        Ok(Begun::New(id))
    }

    async fn attachment_finish(
        &self,
        id: &str,
        mime: &str,
        size: u64,
        max_thread_bytes: u64,
    ) -> Result<Finished> {
        let mut tx = self.pool.begin().await?;
        let pending: Option<(String, String)> = sqlx::query_as(
            "SELECT thread_id, client_id FROM attachments WHERE id = $1 AND ready = 0",
        )
        .bind(id)
        .fetch_optional(&mut *tx)
        .await?;
        let Some((thread_id, client_id)) = pending else {
            return Ok(Finished::Gone);
        };
        sqlx::query("SELECT 1 FROM threads WHERE id = $1 FOR UPDATE")
            .bind(&thread_id)
            .execute(&mut *tx)
            .await?;
        if let Some(a) = ready_by_client(&mut tx, &thread_id, &client_id).await? {
            return Ok(Finished::Existing(a));
        }
        let used: i64 = sqlx::query_scalar(
            "SELECT COALESCE(SUM(size), 0)::BIGINT FROM attachments WHERE thread_id = $1 AND ready = 1",
        )
        .bind(&thread_id)
        .fetch_one(&mut *tx)
        .await?;
        let used = used as u64;
        if used.saturating_add(size) > max_thread_bytes {
            return Ok(Finished::OverQuota { used });
        }
        let r = sqlx::query(&format!(
            "UPDATE attachments SET ready = 1, mime = $2, size = $3 WHERE id = $1 AND ready = 0 RETURNING {COLUMNS}"
        ))
        .bind(id)
        .bind(mime)
        .bind(size as i64)
        .fetch_optional(&mut *tx)
        .await?;
        let Some(r) = r else {
            return Ok(Finished::Gone);
        };
        tx.commit().await?;
        Ok(Finished::Ready(row(&r)))
    }

    async fn attachment_discard(&self, id: &str) -> Result<()> {
        sqlx::query("DELETE FROM attachments WHERE id = $1 AND ready = 0")
            .bind(id)
            .execute(&self.pool)
            .await?;
        Ok(())
    }

    async fn attachments(&self, thread_id: &str, ids: &[String]) -> Result<Vec<Attachment>> {
        let rows = sqlx::query(&format!(
            "SELECT {COLUMNS} FROM attachments WHERE thread_id = $1 AND id = ANY($2) AND ready = 1"
        ))
        .bind(thread_id)
        .bind(ids)
        .fetch_all(&self.pool)
        .await?;
        let found: Vec<Attachment> = rows.iter().map(row).collect();
        Ok(ids
            .iter()
            .filter_map(|id| found.iter().find(|a| &a.id == id).cloned())
            .collect())
    }

    async fn purge_attachments(&self, thread_id: &str) -> Result<Vec<String>> {
        let ids: Vec<String> =
            sqlx::query_scalar("DELETE FROM attachments WHERE thread_id = $1 RETURNING id")
                .bind(thread_id)
                .fetch_all(&self.pool)
                .await?;
        Ok(ids)
    }

    async fn closed_threads_with_attachments(
        &self,
        bot: &str,
        before: &str,
        limit: u32,
    ) -> Result<Vec<String>> {
        Ok(sqlx::query_scalar(
            "SELECT DISTINCT a.thread_id FROM attachments a JOIN threads t ON t.id = a.thread_id \
             WHERE t.bot = $1 AND t.status = 'closed' AND t.updated_at < $2 LIMIT $3",
        )
        .bind(bot)
        .bind(before)
        .bind(limit as i64)
        .fetch_all(&self.pool)
        .await?)
    }

    async fn stale_uploads(&self, before: &str) -> Result<Vec<String>> {
        Ok(
            sqlx::query_scalar("SELECT id FROM attachments WHERE ready = 0 AND created_at < $1")
                .bind(before)
                .fetch_all(&self.pool)
                .await?,
        )
    }

    async fn chunk_put(&self, id: &str, n: u32, data: Bytes) -> Result<()> {
        sqlx::query(
            "INSERT INTO attachment_chunks (attachment_id, n, data) VALUES ($1, $2, $3) \
             ON CONFLICT (attachment_id, n) DO UPDATE SET data = excluded.data",
        )
        .bind(id)
        .bind(n as i32)
        .bind(&data[..])
        .execute(&self.pool)
        .await?;
        Ok(())
    }

    async fn chunk_get(&self, id: &str, n: u32) -> Result<Option<Bytes>> {
        let data: Option<Vec<u8>> = sqlx::query_scalar(
            "SELECT data FROM attachment_chunks WHERE attachment_id = $1 AND n = $2",
        )
        .bind(id)
        .bind(n as i32)
        .fetch_optional(&self.pool)
        .await?;
        Ok(data.map(Bytes::from))
    }

    async fn chunks_delete(&self, id: &str) -> Result<()> {
        sqlx::query("DELETE FROM attachment_chunks WHERE attachment_id = $1")
            .bind(id)
            .execute(&self.pool)
            .await?;
        Ok(())
    }

    fn set_object_blobs(&self, blobs: std::sync::Arc<dyn crate::attachments::blobs::Blobs>) {
        let _ = self.objects.set(blobs);
    }

    fn object_blobs(&self) -> Option<std::sync::Arc<dyn crate::attachments::blobs::Blobs>> {
        self.objects.get().cloned()
    }
}
