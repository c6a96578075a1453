//! SQLite side of the per-message `user_defined` data (migration 0009): writes run on the single
//! writer, so a message the writer has stored is found even before a reader would see it.

use rusqlite::{params, OptionalExtension};
use serde_json::Value;

use super::super::{Result, StoreError};
use super::SqliteStore;
use crate::time::now_rfc3339;

fn db(e: rusqlite::Error) -> StoreError {
    StoreError::Corrupt(format!("sqlite: {e}"))
}

impl SqliteStore {
    pub(super) async fn do_set_message_user_defined(
        &self,
        thread_id: &str,
        message_id: &str,
        data: Value,
    ) -> Result<()> {
        let (thread_id, message_id) = (thread_id.to_string(), message_id.to_string());
        self.conn_job(move |c| {
            let found: Option<i64> = c
                .prepare_cached("SELECT 1 FROM messages WHERE thread_id = ?1 AND id = ?2")
                .and_then(|mut s| s.query_row([&thread_id, &message_id], |r| r.get(0)).optional())
                .map_err(db)?;
            if found.is_none() {
                return Err(StoreError::MessageNotFound);
            }
            c.prepare_cached(
                "INSERT INTO message_user_defined (thread_id, message_id, data, updated_at) VALUES (?1, ?2, ?3, ?4) \
                 ON CONFLICT (thread_id, message_id) DO UPDATE SET data = excluded.data, updated_at = excluded.updated_at",
            )
            .and_then(|mut s| s.execute(params![thread_id, message_id, data.to_string(), now_rfc3339()]))
            .map_err(db)?;
            Ok(Value::Null)
        })
        .await?;
        Ok(())
    }

    pub(super) async fn do_messages_user_defined(
        &self,
        thread_id: &str,
    ) -> Result<serde_json::Map<String, Value>> {
        let rows: Vec<(String, String)> = sqlx::query_as(
            "SELECT message_id, data FROM message_user_defined WHERE thread_id = ? ORDER BY message_id",
        )
        .bind(thread_id)
        .fetch_all(&self.read)
        .await?;
        let mut out = serde_json::Map::new();
        for (id, data) in rows {
            let v = serde_json::from_str(&data).map_err(|e| StoreError::Corrupt(e.to_string()))?;
            out.insert(id, v);
        }
        Ok(out)
    }
}
