//! PostgreSQL side of a conversation's browser session (migration 0011): one update.

use serde_json::Value;

use super::super::{Result, StoreError};
use super::PgStore;
use crate::time::now_rfc3339;

impl PgStore {
    pub(super) async fn do_set_browser_session(
        &self,
        thread_id: &str,
        session: Value,
    ) -> Result<()> {
        let written =
            sqlx::query("UPDATE threads SET browser_session = $1, updated_at = $2 WHERE id = $3")
                .bind(session.to_string())
                .bind(now_rfc3339())
                .bind(thread_id)
                .execute(&self.pool)
                .await?;
        if written.rows_affected() == 0 {
            return Err(StoreError::ThreadNotFound);
        }
        Ok(())
    }
}
