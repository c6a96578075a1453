//! PostgreSQL side of the per-message `user_defined` data (migration 0009): one upsert, after
//! checking in the same statement that the message belongs to the thread.

use serde_json::Value;

use super::super::{Result, StoreError};
use super::PgStore;
use crate::time::now_rfc3339;

impl PgStore {
    pub(super) async fn do_set_message_user_defined(
        &self,
        thread_id: &str,
        message_id: &str,
        data: Value,
    ) -> Result<()> {
        let written = sqlx::query(
            "INSERT INTO message_user_defined (thread_id, message_id, data, updated_at) \
             SELECT m.thread_id, m.id, $3, $4 FROM messages m WHERE m.thread_id = $1 AND m.id = $2 \
             ON CONFLICT (thread_id, message_id) DO UPDATE SET data = excluded.data, updated_at = excluded.updated_at",
        )
        .bind(thread_id)
        .bind(message_id)
        .bind(data.to_string())
        .bind(now_rfc3339())
        .execute(&self.pool)
        .await?;
        if written.rows_affected() == 0 {
            return Err(StoreError::MessageNotFound);
        }
        Ok(())
    }

    pub(super) async fn do_messages_user_defined(
        &self,
        thread_id: &str,
    ) -> Result<serde_json::Map<String, Value>> {
        let rows: Vec<(String, String)> = sqlx::query_as(
            "SELECT message_id, data FROM message_user_defined WHERE thread_id = $1 ORDER BY message_id",
        )
        .bind(thread_id)
        .fetch_all(&self.pool)
        .await?;
        let mut out = serde_json::Map::new();
        for (id, data) in rows {
            let v = serde_json::from_str(&data).map_err(|e| StoreError::Corrupt(e.to_string()))?;
            out.insert(id, v);
        }
        Ok(out)
    }
}
