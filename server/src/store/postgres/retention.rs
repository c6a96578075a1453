//! PostgreSQL side of [`crate::store::retention`]. Several instances sweep at once: a deletion
//! claims its conversation by locking the thread's row (`FOR UPDATE SKIP LOCKED`, checking in
//! the same statement that it is still due), deletes the files' bytes while holding it, then
//! every row, and commits. Another instance skips a locked conversation, so each is deleted
//! once; a failure rolls back and releases it for the next sweep.

use async_trait::async_trait;

use super::super::retention::{RetentionStore, THREAD_TABLES};
use super::super::Result;
use super::PgStore;
use crate::attachments::blobs::Blobs;

/// Closed, last changed before `$2`, no pending outbox job.
const DUE: &str = "t.status = 'closed' AND t.updated_at < $2 \
     AND NOT EXISTS (SELECT 1 FROM outbox o WHERE o.thread_id = t.id AND o.status = 'pending')";

#[async_trait]
impl RetentionStore for PgStore {
    async fn conversations_due(&self, bot: &str, before: &str, limit: u32) -> Result<Vec<String>> {
        Ok(sqlx::query_scalar(&format!(
            "SELECT t.id FROM threads t WHERE t.bot = $1 AND {DUE} ORDER BY t.updated_at LIMIT $3"
        ))
        .bind(bot)
        .bind(before)
        .bind(limit as i64)
        .fetch_all(&self.pool)
        .await?)
    }

    async fn delete_conversation(
        &self,
        thread_id: &str,
        before: &str,
        blobs: &dyn Blobs,
    ) -> Result<bool> {
        let mut tx = self.pool.begin().await?;
        let claimed: Option<String> = sqlx::query_scalar(&format!(
            "SELECT t.id FROM threads t WHERE t.id = $1 AND {DUE} FOR UPDATE SKIP LOCKED"
        ))
        .bind(thread_id)
        .bind(before)
        .fetch_optional(&mut *tx)
        .await?;
        if claimed.is_none() {
            return Ok(false);
        }
        let files: Vec<String> =
            sqlx::query_scalar("SELECT id FROM attachments WHERE thread_id = $1")
                .bind(thread_id)
                .fetch_all(&mut *tx)
                .await?;
        for id in &files {
            blobs.delete(id).await?;
        }
        let statements = [
            "DELETE FROM attachment_chunks WHERE attachment_id IN \
             (SELECT id FROM attachments WHERE thread_id = $1)"
                .to_string(),
            "DELETE FROM local_crm_lines WHERE conversation IN \
             (SELECT ord FROM local_crm_conversations WHERE platform_conversation_id = $1)"
                .to_string(),
            "DELETE FROM local_crm_conversations WHERE platform_conversation_id = $1".to_string(),
        ]
        .into_iter()
        .chain(
            THREAD_TABLES
                .iter()
                .map(|t| format!("DELETE FROM {t} WHERE thread_id = $1")),
        )
        .chain(["DELETE FROM threads WHERE id = $1".to_string()]);
        for sql in statements {
            sqlx::query(&sql).bind(thread_id).execute(&mut *tx).await?;
        }
        tx.commit().await?;
        Ok(true)
    }
}
