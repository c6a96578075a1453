//! SQLite side of a conversation's browser session (migration 0011): one update on the single
//! writer, so the run that reads the thread next sees the page the visitor is on.

use rusqlite::params;
use serde_json::Value;

use super::super::{Result, StoreError};
use super::SqliteStore;
use crate::time::now_rfc3339;

impl SqliteStore {
    pub(super) async fn do_set_browser_session(
        &self,
        thread_id: &str,
        session: Value,
    ) -> Result<()> {
        let thread_id = thread_id.to_string();
        self.conn_job(move |c| {
            let n = c
                .prepare_cached(
                    "UPDATE threads SET browser_session = ?1, updated_at = ?2 WHERE id = ?3",
                )
                .and_then(|mut s| s.execute(params![session.to_string(), now_rfc3339(), thread_id]))
                .map_err(|e| StoreError::Corrupt(format!("sqlite: {e}")))?;
            if n == 0 {
                return Err(StoreError::ThreadNotFound);
            }
            Ok(Value::Null)
        })
        .await?;
        Ok(())
    }
}
