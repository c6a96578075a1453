//! SQLite side of [`crate::store::local_crm`]: a note is one [`Op::Conn`] job on the single
//! writer (its savepoint makes the webhook-id check and the writes one unit); reads use the
//! read pool.
//!
//! [`Op::Conn`]: super::super::sqlite_writer::Op::Conn

use rusqlite::{params, Connection};
use serde_json::Value;

use super::super::local_crm::WEBHOOK_MEMORY_MS;
use super::super::local_crm::{assemble, Conversation, Note, MAX_CONVERSATIONS, MAX_LINES};
use super::super::{Result, StoreError};
use super::SqliteStore;
use crate::outbox::now_ms;
use crate::time::now_rfc3339;

fn db(e: rusqlite::Error) -> StoreError {
    StoreError::Corrupt(format!("sqlite: {e}"))
}

/// Writes a note; `false` when its webhook id was taken before (nothing written).
fn note(c: &Connection, n: &Note) -> Result<bool> {
    let now = now_ms();
    if let Some(id) = &n.webhook_id {
        let fresh = c
            .prepare_cached(
                "INSERT INTO local_crm_webhooks (id, received_at) VALUES (?1, ?2) ON CONFLICT DO NOTHING",
            )
            .and_then(|mut s| s.execute(params![id, now]))
            .map_err(db)?;
        if fresh == 0 {
            return Ok(false);
        }
        c.prepare_cached("DELETE FROM local_crm_webhooks WHERE received_at < ?1")
            .and_then(|mut s| s.execute([now - WEBHOOK_MEMORY_MS]))
            .map_err(db)?;
    }
    let at = now_rfc3339();
    let conv: i64 = c
        .prepare_cached(
            "INSERT INTO local_crm_conversations (bot, platform_conversation_id, status, updated_at) \
             VALUES (?1, ?2, coalesce(?3, 'waiting'), ?4) \
             ON CONFLICT (bot, platform_conversation_id) DO UPDATE \
             SET status = coalesce(?3, status), updated_at = ?4 RETURNING ord",
        )
        .and_then(|mut s| {
            s.query_row(
                params![n.bot, n.platform_conversation_id, n.status, at],
                |r| r.get(0),
            )
        })
        .map_err(db)?;
    c.prepare_cached(
        "INSERT INTO local_crm_lines (conversation, sender, text, created_at, files) VALUES (?1, ?2, ?3, ?4, ?5)",
    )
    .and_then(|mut s| {
        s.execute(params![conv, n.from, n.text, at, Value::Array(n.files.clone()).to_string()])
    })
    .map_err(db)?;
    c.prepare_cached(
        "DELETE FROM local_crm_lines WHERE conversation = ?1 AND ord <= \
         (SELECT ord FROM local_crm_lines WHERE conversation = ?1 ORDER BY ord DESC LIMIT 1 OFFSET ?2)",
    )
    .and_then(|mut s| s.execute(params![conv, MAX_LINES]))
    .map_err(db)?;
    // The bot's oldest conversation beyond the bound goes, with its lines.
    let old: Option<i64> = c
        .prepare_cached(
            "SELECT ord FROM local_crm_conversations WHERE bot = ?1 ORDER BY ord DESC LIMIT 1 OFFSET ?2",
        )
        .and_then(|mut s| {
            use rusqlite::OptionalExtension;
            s.query_row(params![n.bot, MAX_CONVERSATIONS], |r| r.get(0))
                .optional()
        })
        .map_err(db)?;
    if let Some(old) = old {
        c.prepare_cached(
            "DELETE FROM local_crm_lines WHERE conversation IN \
             (SELECT ord FROM local_crm_conversations WHERE bot = ?1 AND ord <= ?2)",
        )
        .and_then(|mut s| s.execute(params![n.bot, old]))
        .map_err(db)?;
        c.prepare_cached("DELETE FROM local_crm_conversations WHERE bot = ?1 AND ord <= ?2")
            .and_then(|mut s| s.execute(params![n.bot, old]))
            .map_err(db)?;
    }
    Ok(true)
}

impl SqliteStore {
    pub(super) async fn do_local_crm_note(&self, n: Note) -> Result<bool> {
        let v = self.conn_job(move |c| note(c, &n).map(Value::Bool)).await?;
        Ok(v == Value::Bool(true))
    }

    pub(super) async fn do_local_crm_conversations(&self, bot: &str) -> Result<Vec<Conversation>> {
        let convs: Vec<(i64, String, String)> = sqlx::query_as(
            "SELECT ord, platform_conversation_id, status FROM local_crm_conversations \
             WHERE bot = ? ORDER BY ord DESC",
        )
        .bind(bot)
        .fetch_all(&self.read)
        .await?;
        let lines: Vec<(i64, String, String, String)> = sqlx::query_as(
            "SELECT l.conversation, l.sender, l.text, l.files FROM local_crm_lines l \
             JOIN local_crm_conversations c ON c.ord = l.conversation WHERE c.bot = ? ORDER BY l.ord",
        )
        .bind(bot)
        .fetch_all(&self.read)
        .await?;
        Ok(assemble(bot, convs, lines))
    }

    pub(super) async fn do_local_crm_agent_seen(
        &self,
        bot: &str,
        agent: &str,
        now: i64,
    ) -> Result<()> {
        let (bot, agent) = (bot.to_string(), agent.to_string());
        self.conn_job(move |c| {
            c.prepare_cached(
                "INSERT INTO local_crm_agents (bot, agent, seen_at) VALUES (?1, ?2, ?3) \
                 ON CONFLICT (bot, agent) DO UPDATE SET seen_at = max(seen_at, excluded.seen_at)",
            )
            .and_then(|mut s| s.execute(params![bot, agent, now]))
            .map_err(db)?;
            Ok(Value::Null)
        })
        .await?;
        Ok(())
    }

    pub(super) async fn do_local_crm_online(&self, bot: &str, since: i64) -> Result<bool> {
        let found: Option<i64> = sqlx::query_scalar(
            "SELECT 1 FROM local_crm_agents WHERE bot = ? AND seen_at >= ? LIMIT 1",
        )
        .bind(bot)
        .bind(since)
        .fetch_optional(&self.read)
        .await?;
        Ok(found.is_some())
    }
}
