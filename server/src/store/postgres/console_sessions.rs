//! PostgreSQL side of the console sessions (migration 0014): one transaction per sign-in (expired
//! and surplus sessions go with it), one statement per check or sign-out.

use super::super::console::ConsoleSession;
use super::super::Result;
use super::PgStore;

impl PgStore {
    pub(super) async fn do_create_console_session(
        &self,
        s: ConsoleSession,
        max: u32,
    ) -> Result<()> {
        let mut tx = self.pool.begin().await?;
        sqlx::query("DELETE FROM console_sessions WHERE expires_at <= $1")
            .bind(s.created_at)
            .execute(&mut *tx)
            .await?;
        sqlx::query(
            "DELETE FROM console_sessions WHERE id_hash IN (SELECT id_hash FROM console_sessions \
             ORDER BY created_at DESC OFFSET $1)",
        )
        .bind(i64::from(max.max(1)) - 1)
        .execute(&mut *tx)
        .await?;
        sqlx::query(
            "INSERT INTO console_sessions (id_hash, csrf, created_at, expires_at) VALUES ($1, $2, $3, $4)",
        )
        .bind(&s.id_hash)
        .bind(&s.csrf)
        .bind(s.created_at)
        .bind(s.expires_at)
        .execute(&mut *tx)
        .await?;
        tx.commit().await?;
        Ok(())
    }

    pub(super) async fn do_console_session_csrf(
        &self,
        id_hash: &str,
        now_ms: i64,
    ) -> Result<Option<String>> {
        Ok(sqlx::query_scalar(
            "SELECT csrf FROM console_sessions WHERE id_hash = $1 AND expires_at > $2",
        )
        .bind(id_hash)
        .bind(now_ms)
        .fetch_optional(&self.pool)
        .await?)
    }

    pub(super) async fn do_remove_console_session(&self, id_hash: &str) -> Result<()> {
        sqlx::query("DELETE FROM console_sessions WHERE id_hash = $1")
            .bind(id_hash)
            .execute(&self.pool)
            .await?;
        Ok(())
    }
}
