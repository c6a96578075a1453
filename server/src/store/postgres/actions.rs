//! PostgreSQL side of [`crate::store::actions`]: metadata, secrets, tags, A/B variants and the
//! action-run log. A read-modify-write (metadata, tags) holds the thread's row lock, so
//! concurrent writers on any instance never lose each other's change.

use serde_json::{json, Value};
use sqlx::Row;

use super::super::actions::{ActionRun, ActionRunQuery, TagOutcome};
use super::super::{Result, StoreError};
use super::{corrupt, PgStore};
use crate::time::now_rfc3339;

type Conn = sqlx::Transaction<'static, sqlx::Postgres>;

/// Locks the thread and returns its metadata object; `ThreadNotFound` when there is none.
async fn lock_metadata(tx: &mut Conn, thread_id: &str) -> Result<serde_json::Map<String, Value>> {
    let text: Option<String> =
        sqlx::query_scalar("SELECT metadata FROM threads WHERE id = $1 FOR UPDATE")
            .bind(thread_id)
            .fetch_optional(&mut **tx)
            .await?;
    serde_json::from_str(&text.ok_or(StoreError::ThreadNotFound)?).map_err(corrupt)
}

impl PgStore {
    pub(super) async fn do_set_secret(
        &self,
        thread_id: &str,
        key: &str,
        value: Value,
    ) -> Result<()> {
        let mut tx = self.pool.begin().await?;
        lock_metadata(&mut tx, thread_id).await?;
        sqlx::query(
            "INSERT INTO secret_metadata (thread_id, key, value, updated_at) VALUES ($1, $2, $3, $4) \
             ON CONFLICT (thread_id, key) DO UPDATE SET value = excluded.value, updated_at = excluded.updated_at",
        )
        .bind(thread_id)
        .bind(key)
        .bind(value.to_string())
        .bind(now_rfc3339())
        .execute(&mut *tx)
        .await?;
        tx.commit().await?;
        Ok(())
    }

    pub(super) async fn do_secrets(
        &self,
        thread_id: &str,
    ) -> Result<serde_json::Map<String, Value>> {
        let rows: Vec<(String, String)> =
            sqlx::query_as("SELECT key, value FROM secret_metadata WHERE thread_id = $1")
                .bind(thread_id)
                .fetch_all(&self.pool)
                .await?;
        rows.into_iter()
            .map(|(k, v)| Ok((k, serde_json::from_str(&v).map_err(corrupt)?)))
            .collect()
    }

    pub(super) async fn do_set_metadata(
        &self,
        thread_id: &str,
        key: &str,
        value: Option<Value>,
    ) -> Result<bool> {
        let mut tx = self.pool.begin().await?;
        let mut meta = lock_metadata(&mut tx, thread_id).await?;
        let existed = match value {
            Some(v) => meta.insert(key.to_string(), v).is_some(),
            None => meta.remove(key).is_some(),
        };
        sqlx::query("UPDATE threads SET metadata = $1, updated_at = $2 WHERE id = $3")
            .bind(Value::Object(meta).to_string())
            .bind(now_rfc3339())
            .bind(thread_id)
            .execute(&mut *tx)
            .await?;
        tx.commit().await?;
        Ok(existed)
    }

    pub(super) async fn do_add_tag(&self, thread_id: &str, tag: &str) -> Result<TagOutcome> {
        let mut tx = self.pool.begin().await?;
        lock_metadata(&mut tx, thread_id).await?;
        let prior: Option<String> =
            sqlx::query_scalar("SELECT id FROM thread_tags WHERE thread_id = $1 AND tag = $2")
                .bind(thread_id)
                .bind(tag)
                .fetch_optional(&mut *tx)
                .await?;
        if let Some(id) = prior {
            return Ok(TagOutcome {
                tag_id: id,
                already_present: true,
            });
        }
        let id = format!("tag_{}", uuid::Uuid::new_v4().simple());
        let now = now_rfc3339();
        sqlx::query(
            "INSERT INTO thread_tags (id, thread_id, tag, created_at) VALUES ($1, $2, $3, $4)",
        )
        .bind(&id)
        .bind(thread_id)
        .bind(tag)
        .bind(&now)
        .execute(&mut *tx)
        .await?;
        // threads.tags (the names, in order added) stays the list `Thread::tags` reads.
        let tags: String = sqlx::query_scalar("SELECT tags FROM threads WHERE id = $1")
            .bind(thread_id)
            .fetch_one(&mut *tx)
            .await?;
        let mut tags: Vec<String> = serde_json::from_str(&tags).map_err(corrupt)?;
        if !tags.iter().any(|t| t == tag) {
            tags.push(tag.to_string());
        }
        sqlx::query("UPDATE threads SET tags = $1, updated_at = $2 WHERE id = $3")
            .bind(json!(tags).to_string())
            .bind(&now)
            .bind(thread_id)
            .execute(&mut *tx)
            .await?;
        tx.commit().await?;
        Ok(TagOutcome {
            tag_id: id,
            already_present: false,
        })
    }

    pub(super) async fn do_ab_variant(
        &self,
        thread_id: &str,
        test: &str,
        candidate: &str,
        allowed: Vec<String>,
    ) -> Result<String> {
        let mut tx = self.pool.begin().await?;
        lock_metadata(&mut tx, thread_id).await?;
        let stored: Option<String> = sqlx::query_scalar(
            "SELECT variant FROM ab_variants WHERE thread_id = $1 AND test_name = $2",
        )
        .bind(thread_id)
        .bind(test)
        .fetch_optional(&mut *tx)
        .await?;
        if let Some(v) = stored.filter(|v| allowed.contains(v)) {
            return Ok(v);
        }
        sqlx::query(
            "INSERT INTO ab_variants (thread_id, test_name, variant, created_at) VALUES ($1, $2, $3, $4) \
             ON CONFLICT (thread_id, test_name) DO UPDATE SET variant = excluded.variant, created_at = excluded.created_at",
        )
        .bind(thread_id)
        .bind(test)
        .bind(candidate)
        .bind(now_rfc3339())
        .execute(&mut *tx)
        .await?;
        tx.commit().await?;
        Ok(candidate.to_string())
    }

    pub(super) async fn do_record_action_run(&self, run: ActionRun) -> Result<()> {
        sqlx::query(
            "INSERT INTO action_runs (id, bot, action, kind, thread_id, run_id, test, status, args, result, error, stdout, stderr, log, duration_ms, created_at) \
             VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, $14, $15, $16)",
        )
        .bind(run.id)
        .bind(run.bot)
        .bind(run.action)
        .bind(run.kind)
        .bind(run.thread_id)
        .bind(run.run_id)
        .bind(run.test)
        .bind(run.status)
        .bind(run.args.to_string())
        .bind(run.result.to_string())
        .bind(run.error)
        .bind(run.stdout)
        .bind(run.stderr)
        .bind(json!(run.log).to_string())
        .bind(run.duration_ms as i64)
        .bind(run.created_at)
        .execute(&self.pool)
        .await?;
        Ok(())
    }

    pub(super) async fn do_action_runs(&self, q: ActionRunQuery) -> Result<Vec<ActionRun>> {
        let rows = sqlx::query(
            "SELECT * FROM action_runs WHERE ($1::text IS NULL OR bot = $1) AND ($2::text IS NULL OR action = $2) \
             AND ($3::text IS NULL OR thread_id = $3) ORDER BY ord DESC LIMIT $4",
        )
        .bind(q.bot)
        .bind(q.action)
        .bind(q.thread_id)
        .bind(q.limit.clamp(1, 500) as i64)
        .fetch_all(&self.pool)
        .await?;
        rows.iter()
            .map(|r| {
                let json = |col: &str| {
                    serde_json::from_str::<Value>(r.get::<&str, _>(col)).map_err(corrupt)
                };
                Ok(ActionRun {
                    id: r.get("id"),
                    bot: r.get("bot"),
                    action: r.get("action"),
                    kind: r.get("kind"),
                    thread_id: r.get("thread_id"),
                    run_id: r.get("run_id"),
                    test: r.get::<bool, _>("test"),
                    status: r.get("status"),
                    args: json("args")?,
                    result: json("result")?,
                    error: r.get("error"),
                    stdout: r.get("stdout"),
                    stderr: r.get("stderr"),
                    log: serde_json::from_value(json("log")?).map_err(corrupt)?,
                    duration_ms: r.get::<i64, _>("duration_ms") as u64,
                    created_at: r.get("created_at"),
                })
            })
            .collect()
    }

    pub(super) async fn do_tag_ids(&self, thread_id: &str) -> Result<Vec<(String, String)>> {
        Ok(
            sqlx::query_as("SELECT id, tag FROM thread_tags WHERE thread_id = $1 ORDER BY ord")
                .bind(thread_id)
                .fetch_all(&self.pool)
                .await?,
        )
    }
}
