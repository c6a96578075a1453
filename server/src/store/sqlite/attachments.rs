//! SQLite side of [`crate::store::attachments`]: writes are [`super::SqliteStore::conn_job`]s on
//! the single writer (so a finish's quota check and its update see every earlier commit, and
//! no other writer runs between them); reads use the read pool.

use async_trait::async_trait;
use bytes::Bytes;
use rusqlite::{params, Connection, OptionalExtension};
use serde_json::Value;

use super::super::attachments::{Attachment, AttachmentStore, Begun, Finished};
use super::super::{Result, StoreError};
use super::SqliteStore;
use crate::time::now_rfc3339;

fn db(e: rusqlite::Error) -> StoreError {
    StoreError::Corrupt(format!("sqlite: {e}"))
}

fn to_value<T: serde::Serialize>(v: &T) -> Result<Value> {
    serde_json::to_value(v).map_err(|e| StoreError::Corrupt(e.to_string()))
}

fn from_value<T: serde::de::DeserializeOwned>(v: Value) -> Result<T> {
    serde_json::from_value(v).map_err(|e| StoreError::Corrupt(e.to_string()))
}

const COLUMNS: &str = "id, thread_id, name, mime, size, created_at";

fn row(r: &rusqlite::Row) -> rusqlite::Result<Attachment> {
    Ok(Attachment {
        id: r.get(0)?,
        thread_id: r.get(1)?,
        name: r.get(2)?,
        mime: r.get(3)?,
        size: r.get::<_, i64>(4)? as u64,
        created_at: r.get(5)?,
    })
}

fn ready_by_client(c: &Connection, thread_id: &str, client_id: &str) -> Result<Option<Attachment>> {
    c.prepare_cached(&format!(
        "SELECT {COLUMNS} FROM attachments WHERE thread_id = ?1 AND client_id = ?2 AND ready = 1"
    ))
    .and_then(|mut s| s.query_row([thread_id, client_id], row).optional())
    .map_err(db)
}

#[async_trait]
impl AttachmentStore for SqliteStore {
    async fn attachment_begin(
        &self,
        thread_id: &str,
        client_id: &str,
        name: &str,
    ) -> Result<Begun> {
        let (thread_id, client_id, name) = (
            thread_id.to_string(),
            client_id.to_string(),
            name.to_string(),
        );
        let v = self
            .conn_job(move |c| {
                let status: Option<String> = c
                    .prepare_cached("SELECT status FROM threads WHERE id = ?1")
                    .and_then(|mut s| s.query_row([&thread_id], |r| r.get(0)).optional())
                    .map_err(db)?;
                match status.as_deref() {
                    None => return Err(StoreError::ThreadNotFound),
                    Some("closed") => return Err(StoreError::ThreadClosed),
                    Some(_) => {}
                }
                if let Some(a) = ready_by_client(c, &thread_id, &client_id)? {
                    return to_value(&Begun::Existing(a));
                }
                let id = crate::ids::attachment();
                c.prepare_cached(
                    "INSERT INTO attachments (id, thread_id, client_id, name, created_at) \
                     VALUES (?1, ?2, ?3, ?4, ?5)",
                )
                .and_then(|mut s| s.execute(params![id, thread_id, client_id, name, now_rfc3339()]))
                .map_err(db)?;
                to_value(&Begun::New(id))
            })
            .await?;
        from_value(v)
    }

    async fn attachment_finish(
        &self,
        id: &str,
        mime: &str,
        size: u64,
        max_thread_bytes: u64,
    ) -> Result<Finished> {
        let (id, mime) = (id.to_string(), mime.to_string());
        let v = self
            .conn_job(move |c| {
                let pending: Option<(String, String)> = c
                    .prepare_cached(
                        "SELECT thread_id, client_id FROM attachments WHERE id = ?1 AND ready = 0",
                    )
                    .and_then(|mut s| {
                        s.query_row([&id], |r| Ok((r.get(0)?, r.get(1)?)))
                            .optional()
                    })
                    .map_err(db)?;
                let Some((thread_id, client_id)) = pending else {
                    return to_value(&Finished::Gone);
                };
                if let Some(a) = ready_by_client(c, &thread_id, &client_id)? {
                    return to_value(&Finished::Existing(a));
                }
                let used: i64 = c
                    .prepare_cached(
                        "SELECT COALESCE(SUM(size), 0) FROM attachments WHERE thread_id = ?1 AND ready = 1",
                    )
                    .and_then(|mut s| s.query_row([&thread_id], |r| r.get(0)))
                    .map_err(db)?;
                let used = used as u64;
                if used.saturating_add(size) > max_thread_bytes {
                    return to_value(&Finished::OverQuota { used });
                }
                c.prepare_cached("UPDATE attachments SET ready = 1, mime = ?2, size = ?3 WHERE id = ?1")
                    .and_then(|mut s| s.execute(params![id, mime, size as i64]))
                    .map_err(db)?;
                let a = c
                    .prepare_cached(&format!("SELECT {COLUMNS} FROM attachments WHERE id = ?1"))
                    .and_then(|mut s| s.query_row([&id], row))
                    .map_err(db)?;
                to_value(&Finished::Ready(a))
            })
            .await?;
        from_value(v)
    }

    async fn attachment_discard(&self, id: &str) -> Result<()> {
        let id = id.to_string();
        self.conn_job(move |c| {
            c.prepare_cached("DELETE FROM attachments WHERE id = ?1 AND ready = 0")
                .and_then(|mut s| s.execute([&id]))
                .map_err(db)?;
            Ok(Value::Null)
        })
        .await?;
        Ok(())
    }

    async fn attachments(&self, thread_id: &str, ids: &[String]) -> Result<Vec<Attachment>> {
        let mut out = Vec::with_capacity(ids.len());
        for id in ids {
            let r: Option<(String, String, String, String, i64, String)> = sqlx::query_as(
                &format!("SELECT {COLUMNS} FROM attachments WHERE id = ? AND thread_id = ? AND ready = 1"),
            )
            .bind(id)
            .bind(thread_id)
            .fetch_optional(&self.read)
            .await?;
            if let Some((id, thread_id, name, mime, size, created_at)) = r {
                out.push(Attachment {
                    id,
                    thread_id,
                    name,
                    mime,
                    size: size as u64,
                    created_at,
                });
            }
        }
        Ok(out)
    }

    async fn purge_attachments(&self, thread_id: &str) -> Result<Vec<String>> {
        let thread_id = thread_id.to_string();
        let v = self
            .conn_job(move |c| {
                let ids: Vec<String> = c
                    .prepare_cached("SELECT id FROM attachments WHERE thread_id = ?1")
                    .and_then(|mut s| {
                        s.query_map([&thread_id], |r| r.get(0))?
                            .collect::<rusqlite::Result<_>>()
                    })
                    .map_err(db)?;
                c.prepare_cached("DELETE FROM attachments WHERE thread_id = ?1")
                    .and_then(|mut s| s.execute([&thread_id]))
                    .map_err(db)?;
                to_value(&ids)
            })
            .await?;
        from_value(v)
    }

    async fn closed_threads_with_attachments(
        &self,
        bot: &str,
        before: &str,
        limit: u32,
    ) -> Result<Vec<String>> {
        let ids: Vec<(String,)> = sqlx::query_as(
            "SELECT DISTINCT a.thread_id FROM attachments a JOIN threads t ON t.id = a.thread_id \
             WHERE t.bot = ? AND t.status = 'closed' AND t.updated_at < ? LIMIT ?",
        )
        .bind(bot)
        .bind(before)
        .bind(limit as i64)
        .fetch_all(&self.read)
        .await?;
        Ok(ids.into_iter().map(|(id,)| id).collect())
    }

    async fn stale_uploads(&self, before: &str) -> Result<Vec<String>> {
        let ids: Vec<(String,)> =
            sqlx::query_as("SELECT id FROM attachments WHERE ready = 0 AND created_at < ?")
                .bind(before)
                .fetch_all(&self.read)
                .await?;
        Ok(ids.into_iter().map(|(id,)| id).collect())
    }

    async fn chunk_put(&self, id: &str, n: u32, data: Bytes) -> Result<()> {
        let id = id.to_string();
        self.conn_job(move |c| {
            c.prepare_cached(
                "INSERT OR REPLACE INTO attachment_chunks (attachment_id, n, data) VALUES (?1, ?2, ?3)",
            )
            .and_then(|mut s| s.execute(params![id, n, &data[..]]))
            .map_err(db)?;
            Ok(Value::Null)
        })
        .await?;
        Ok(())
    }

    async fn chunk_get(&self, id: &str, n: u32) -> Result<Option<Bytes>> {
        let data: Option<(Vec<u8>,)> =
            sqlx::query_as("SELECT data FROM attachment_chunks WHERE attachment_id = ? AND n = ?")
                .bind(id)
                .bind(n as i64)
                .fetch_optional(&self.read)
                .await?;
        Ok(data.map(|(d,)| Bytes::from(d)))
    }

    async fn chunks_delete(&self, id: &str) -> Result<()> {
        let id = id.to_string();
        self.conn_job(move |c| {
            c.prepare_cached("DELETE FROM attachment_chunks WHERE attachment_id = ?1")
                .and_then(|mut s| s.execute([&id]))
                .map_err(db)?;
            Ok(Value::Null)
        })
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
