//! PostgreSQL side of [`crate::store::local_crm`]: a note is one transaction (the webhook id is
//! taken by its insert, so two instances handed the same webhook record it once); reads are
//! single statements.

use super::super::local_crm::WEBHOOK_MEMORY_MS;
use super::super::local_crm::{assemble, Conversation, Note, MAX_CONVERSATIONS, MAX_LINES};
use super::super::Result;
use super::PgStore;
use crate::outbox::now_ms;
use crate::time::now_rfc3339;
use serde_json::Value;

impl PgStore {
    pub(super) async fn do_local_crm_note(&self, n: Note) -> Result<bool> {
        let now = now_ms();
        let mut tx = self.pool.begin().await?;
        if let Some(id) = &n.webhook_id {
            let fresh = sqlx::query(
                "INSERT INTO local_crm_webhooks (id, received_at) VALUES ($1, $2) ON CONFLICT DO NOTHING",
            )
            .bind(id)
            .bind(now)
            .execute(&mut *tx)
            .await?
            .rows_affected();
            if fresh == 0 {
                return Ok(false);
            }
            sqlx::query("DELETE FROM local_crm_webhooks WHERE received_at < $1")
                .bind(now - WEBHOOK_MEMORY_MS)
                .execute(&mut *tx)
                .await?;
        }
        let at = now_rfc3339();
        let conv: i64 = sqlx::query_scalar(
            "INSERT INTO local_crm_conversations (bot, platform_conversation_id, status, updated_at) \
             VALUES ($1, $2, coalesce($3, 'waiting'), $4) \
             ON CONFLICT (bot, platform_conversation_id) DO UPDATE \
             SET status = coalesce($3, local_crm_conversations.status), updated_at = $4 RETURNING ord",
        )
        .bind(&n.bot)
        .bind(&n.platform_conversation_id)
        .bind(&n.status)
        .bind(&at)
        .fetch_one(&mut *tx)
        .await?;
        // One statement: the line, then the lines and conversations beyond their bounds.
        sqlx::query(
            "WITH l AS (INSERT INTO local_crm_lines (conversation, sender, text, created_at, files) \
               VALUES ($1, $2, $3, $4, $8)), \
             old_lines AS (DELETE FROM local_crm_lines WHERE conversation = $1 AND ord <= \
               (SELECT ord FROM local_crm_lines WHERE conversation = $1 ORDER BY ord DESC LIMIT 1 OFFSET $5)), \
             cut AS (SELECT ord FROM local_crm_conversations WHERE bot = $6 ORDER BY ord DESC LIMIT 1 OFFSET $7), \
             old AS (DELETE FROM local_crm_conversations WHERE bot = $6 AND ord <= (SELECT ord FROM cut) RETURNING ord) \
             DELETE FROM local_crm_lines WHERE conversation IN (SELECT ord FROM old)",
        )
        .bind(conv)
        .bind(&n.from)
        .bind(&n.text)
        .bind(&at)
        .bind(MAX_LINES - 1)
        .bind(&n.bot)
        .bind(MAX_CONVERSATIONS)
        .bind(Value::Array(n.files.clone()).to_string())
        .execute(&mut *tx)
        .await?;
        tx.commit().await?;
        Ok(true)
    }

    pub(super) async fn do_local_crm_conversations(&self, bot: &str) -> Result<Vec<Conversation>> {
        let convs: Vec<(i64, String, String)> = sqlx::query_as(
            "SELECT ord, platform_conversation_id, status FROM local_crm_conversations \
             WHERE bot = $1 ORDER BY ord DESC",
        )
        .bind(bot)
        .fetch_all(&self.pool)
        .await?;
        let lines: Vec<(i64, String, String, String)> = sqlx::query_as(
            "SELECT l.conversation, l.sender, l.text, l.files FROM local_crm_lines l \
             JOIN local_crm_conversations c ON c.ord = l.conversation WHERE c.bot = $1 ORDER BY l.ord",
        )
        .bind(bot)
        .fetch_all(&self.pool)
        .await?;
        Ok(assemble(bot, convs, lines))
    }

    pub(super) async fn do_local_crm_agent_seen(
        &self,
        bot: &str,
        agent: &str,
        now: i64,
    ) -> Result<()> {
        sqlx::query(
            "INSERT INTO local_crm_agents (bot, agent, seen_at) VALUES ($1, $2, $3) \
             ON CONFLICT (bot, agent) DO UPDATE SET seen_at = greatest(local_crm_agents.seen_at, excluded.seen_at)",
        )
        .bind(bot)
        .bind(agent)
        .bind(now)
        .execute(&self.pool)
        .await?;
        Ok(())
    }

    pub(super) async fn do_local_crm_online(&self, bot: &str, since: i64) -> Result<bool> {
        let found: Option<i32> = sqlx::query_scalar(
            "SELECT 1 FROM local_crm_agents WHERE bot = $1 AND seen_at >= $2 LIMIT 1",
        )
        .bind(bot)
        .bind(since)
        .fetch_optional(&self.pool)
        .await?;
        Ok(found.is_some())
    }
}
