//! SQLite side of [`crate::store::retention`]. One server owns the file, so its sweep is the
//! only deleter: the due check is read, the files' bytes deleted, then the rows deleted in one
//! writer job that checks again that the conversation is still due.

use async_trait::async_trait;
use rusqlite::{Connection, OptionalExtension};
use serde_json::Value;

use super::super::retention::{RetentionStore, THREAD_TABLES};
use super::super::{Result, StoreError};
use super::SqliteStore;
use crate::attachments::blobs::Blobs;

fn db(e: rusqlite::Error) -> StoreError {
    StoreError::Corrupt(format!("sqlite: {e}"))
}

/// Closed, last changed before `?2`, no pending outbox job (`?1`: the thread's id column).
const DUE: &str = "t.status = 'closed' AND t.updated_at < ?2 \
     AND NOT EXISTS (SELECT 1 FROM outbox o WHERE o.thread_id = t.id AND o.status = 'pending')";

fn still_due(c: &Connection, thread_id: &str, before: &str) -> Result<bool> {
    c.prepare_cached(&format!(
        "SELECT 1 FROM threads t WHERE t.id = ?1 AND {DUE}"
    ))
    .and_then(|mut s| s.query_row([thread_id, before], |_| Ok(())).optional())
    .map(|r| r.is_some())
    .map_err(db)
}

/// Every row of the conversation, children first. The full-text entries of a contentless
/// index are removed with its `delete` command, given the text each message put there (only
/// for messages already indexed: see [`super::fts`]).
fn delete_rows(c: &Connection, thread_id: &str) -> Result<()> {
    let run = |sql: &str| {
        c.prepare_cached(sql)
            .and_then(|mut s| s.execute([thread_id]))
            .map_err(db)
    };
    run(super::fts::UNINDEX_THREAD)?;
    run("DELETE FROM attachment_chunks WHERE attachment_id IN \
         (SELECT id FROM attachments WHERE thread_id = ?1)")?;
    run("DELETE FROM local_crm_lines WHERE conversation IN \
         (SELECT ord FROM local_crm_conversations WHERE platform_conversation_id = ?1)")?;
    run("DELETE FROM local_crm_conversations WHERE platform_conversation_id = ?1")?;
    for table in THREAD_TABLES {
        run(&format!("DELETE FROM {table} WHERE thread_id = ?1"))?;
    }
    run("DELETE FROM threads WHERE id = ?1")?;
    c.execute(super::fts::AFTER_DELETE, []).map_err(db)?;
    Ok(())
}

#[async_trait]
impl RetentionStore for SqliteStore {
    async fn conversations_due(&self, bot: &str, before: &str, limit: u32) -> Result<Vec<String>> {
        let ids: Vec<(String,)> = sqlx::query_as(&format!(
            "SELECT t.id FROM threads t WHERE t.bot = ?1 AND {DUE} ORDER BY t.updated_at LIMIT ?3"
        ))
        .bind(bot)
        .bind(before)
        .bind(limit as i64)
        .fetch_all(&self.read)
        .await?;
        Ok(ids.into_iter().map(|(id,)| id).collect())
    }

    async fn delete_conversation(
        &self,
        thread_id: &str,
        before: &str,
        blobs: &dyn Blobs,
    ) -> Result<bool> {
        let due: Option<(i64,)> = sqlx::query_as(&format!(
            "SELECT 1 FROM threads t WHERE t.id = ?1 AND {DUE}"
        ))
        .bind(thread_id)
        .bind(before)
        .fetch_optional(&self.read)
        .await?;
        if due.is_none() {
            return Ok(false);
        }
        let files: Vec<(String,)> =
            sqlx::query_as("SELECT id FROM attachments WHERE thread_id = ?")
                .bind(thread_id)
                .fetch_all(&self.read)
                .await?;
        for (id,) in &files {
            blobs.delete(id).await?;
        }
        let (thread_id, before) = (thread_id.to_string(), before.to_string());
        let v = self
            .conn_job(move |c| {
                if !still_due(c, &thread_id, &before)? {
                    return Ok(Value::Bool(false));
                }
                delete_rows(c, &thread_id)?;
                Ok(Value::Bool(true))
            })
            .await?;
        Ok(v == Value::Bool(true))
    }
}
