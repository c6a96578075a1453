//! SQLite side of the console sessions (migration 0014): writes on the single writer, reads on
//! the read pool (a session is used only after its create has committed and been answered).

use rusqlite::params;
use serde_json::Value;

use super::super::console::ConsoleSession;
use super::super::{Result, StoreError};
use super::SqliteStore;

fn db(e: rusqlite::Error) -> StoreError {
    StoreError::Corrupt(format!("sqlite: {e}"))
}

impl SqliteStore {
    pub(super) async fn do_create_console_session(
        &self,
        s: ConsoleSession,
        max: u32,
    ) -> Result<()> {
        self.conn_job(move |c| {
            c.prepare_cached("DELETE FROM console_sessions WHERE expires_at <= ?1")
                .and_then(|mut st| st.execute([s.created_at]))
                .map_err(db)?;
            c.prepare_cached(
                "DELETE FROM console_sessions WHERE id_hash IN (SELECT id_hash FROM console_sessions \
                 ORDER BY created_at DESC LIMIT -1 OFFSET ?1)",
            )
            .and_then(|mut st| st.execute([i64::from(max.max(1)) - 1]))
            .map_err(db)?;
            c.prepare_cached(
                "INSERT INTO console_sessions (id_hash, csrf, created_at, expires_at) VALUES (?1, ?2, ?3, ?4)",
            )
            .and_then(|mut st| st.execute(params![s.id_hash, s.csrf, s.created_at, s.expires_at]))
            .map_err(db)?;
            Ok(Value::Null)
        })
        .await?;
        Ok(())
    }

    pub(super) async fn do_console_session_csrf(
        &self,
        id_hash: &str,
        now_ms: i64,
    ) -> Result<Option<String>> {
        Ok(sqlx::query_scalar(
            "SELECT csrf FROM console_sessions WHERE id_hash = ? AND expires_at > ?",
        )
        .bind(id_hash)
        .bind(now_ms)
        .fetch_optional(&self.read)
        .await?)
    }

    pub(super) async fn do_remove_console_session(&self, id_hash: &str) -> Result<()> {
        let id_hash = id_hash.to_string();
        self.conn_job(move |c| {
            c.prepare_cached("DELETE FROM console_sessions WHERE id_hash = ?1")
                .and_then(|mut st| st.execute([&id_hash]))
                .map_err(db)?;
            Ok(Value::Null)
        })
        .await?;
        Ok(())
    }
}
