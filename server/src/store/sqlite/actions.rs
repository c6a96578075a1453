//! SQLite side of [`crate::store::actions`]: writes run as [`Op::Conn`] jobs on the single
//! writer (so they commit in order with everything else), reads use the read pool.

use rusqlite::{params, Connection, OptionalExtension};
use serde_json::{json, Value};
use sqlx::Row;

use super::super::actions::{ActionRun, ActionRunQuery, TagOutcome};
use super::super::sqlite_writer::{Done, Op};
use super::super::{Result, StoreError, Thread};
use super::{thread_from_row, SqliteStore};
use crate::time::now_rfc3339;

fn db(e: rusqlite::Error) -> StoreError {
    StoreError::Corrupt(format!("sqlite: {e}"))
}

fn corrupt(e: serde_json::Error) -> StoreError {
    StoreError::Corrupt(e.to_string())
}

fn new_id(prefix: &str) -> String {
    format!("{prefix}_{}", uuid::Uuid::new_v4().simple())
}

/// The thread's metadata object; `ThreadNotFound` when there is no such thread.
fn metadata(c: &Connection, thread_id: &str) -> Result<serde_json::Map<String, Value>> {
    let text: Option<String> = c
        .prepare_cached("SELECT metadata FROM threads WHERE id = ?1")
        .and_then(|mut s| s.query_row([thread_id], |r| r.get(0)).optional())
        .map_err(db)?;
    let text = text.ok_or(StoreError::ThreadNotFound)?;
    serde_json::from_str(&text).map_err(corrupt)
}

impl SqliteStore {
    pub(super) async fn conn_job(
        &self,
        f: impl FnOnce(&Connection) -> Result<Value> + Send + 'static,
    ) -> Result<Value> {
        match self.submit(Op::Conn(Box::new(f))).await? {
            Done::Value(v) => Ok(v),
            _ => unreachable!("writer answers Conn with Value"),
        }
    }

    pub(super) async fn do_set_secret(
        &self,
        thread_id: &str,
        key: &str,
        value: Value,
    ) -> Result<()> {
        let (thread_id, key) = (thread_id.to_string(), key.to_string());
        self.conn_job(move |c| {
            metadata(c, &thread_id)?; // the thread exists
            c.prepare_cached(
                "INSERT INTO secret_metadata (thread_id, key, value, updated_at) VALUES (?1, ?2, ?3, ?4) \
                 ON CONFLICT (thread_id, key) DO UPDATE SET value = excluded.value, updated_at = excluded.updated_at",
            )
            .and_then(|mut s| s.execute(params![thread_id, key, value.to_string(), now_rfc3339()]))
            .map_err(db)?;
            Ok(Value::Null)
        })
        .await?;
        Ok(())
    }

    /// Read on the writer too (rare: only actions with `$secret.` arguments ask).
    pub(super) async fn do_secrets(
        &self,
        thread_id: &str,
    ) -> Result<serde_json::Map<String, Value>> {
        let thread_id = thread_id.to_string();
        let v = self
            .conn_job(move |c| {
                let mut out = serde_json::Map::new();
                let mut s = c
                    .prepare_cached("SELECT key, value FROM secret_metadata WHERE thread_id = ?1")
                    .map_err(db)?;
                let rows = s
                    .query_map([&thread_id], |r| {
                        Ok((r.get::<_, String>(0)?, r.get::<_, String>(1)?))
                    })
                    .map_err(db)?;
                for row in rows {
                    let (k, v) = row.map_err(db)?;
                    out.insert(k, serde_json::from_str(&v).map_err(corrupt)?);
                }
                Ok(Value::Object(out))
            })
            .await?;
        match v {
            Value::Object(m) => Ok(m),
            _ => Ok(serde_json::Map::new()),
        }
    }

    pub(super) async fn do_set_metadata(
        &self,
        thread_id: &str,
        key: &str,
        value: Option<Value>,
    ) -> Result<bool> {
        let (thread_id, key) = (thread_id.to_string(), key.to_string());
        let v = self
            .conn_job(move |c| {
                let mut meta = metadata(c, &thread_id)?;
                let existed = match value {
                    Some(v) => meta.insert(key, v).is_some(),
                    None => meta.remove(&key).is_some(),
                };
                c.prepare_cached("UPDATE threads SET metadata = ?1, updated_at = ?2 WHERE id = ?3")
                    .and_then(|mut s| {
                        s.execute(params![
                            Value::Object(meta).to_string(),
                            now_rfc3339(),
                            thread_id
                        ])
                    })
                    .map_err(db)?;
                Ok(Value::Bool(existed))
            })
            .await?;
        Ok(v.as_bool().unwrap_or(false))
    }

    pub(super) async fn do_add_tag(&self, thread_id: &str, tag: &str) -> Result<TagOutcome> {
        let (thread_id, tag) = (thread_id.to_string(), tag.to_string());
        let v = self
            .conn_job(move |c| {
                metadata(c, &thread_id)?; // the thread exists
                let prior: Option<String> = c
                    .prepare_cached("SELECT id FROM thread_tags WHERE thread_id = ?1 AND tag = ?2")
                    .and_then(|mut s| s.query_row(params![thread_id, tag], |r| r.get(0)).optional())
                    .map_err(db)?;
                if let Some(id) = prior {
                    return Ok(json!({"id": id, "already": true}));
                }
                let id = new_id("tag");
                let now = now_rfc3339();
                c.prepare_cached("INSERT INTO thread_tags (id, thread_id, tag, created_at) VALUES (?1, ?2, ?3, ?4)")
                    .and_then(|mut s| s.execute(params![id, thread_id, tag, now]))
                    .map_err(db)?;
                // threads.tags (the names, in order added) stays the list `Thread::tags` reads.
                let tags: String = c
                    .prepare_cached("SELECT tags FROM threads WHERE id = ?1")
                    .and_then(|mut s| s.query_row([&thread_id], |r| r.get(0)))
                    .map_err(db)?;
                let mut tags: Vec<String> = serde_json::from_str(&tags).map_err(corrupt)?;
                if !tags.contains(&tag) {
                    tags.push(tag);
                }
                c.prepare_cached("UPDATE threads SET tags = ?1, updated_at = ?2 WHERE id = ?3")
                    .and_then(|mut s| s.execute(params![json!(tags).to_string(), now, thread_id]))
                    .map_err(db)?;
                Ok(json!({"id": id, "already": false}))
            })
            .await?;
        Ok(TagOutcome {
            tag_id: v["id"].as_str().unwrap_or_default().to_string(),
            already_present: v["already"].as_bool().unwrap_or(false),
        })
    }

    pub(super) async fn do_ab_variant(
        &self,
        thread_id: &str,
        test: &str,
        candidate: &str,
        allowed: Vec<String>,
    ) -> Result<String> {
        let (thread_id, test, candidate) = (
            thread_id.to_string(),
            test.to_string(),
            candidate.to_string(),
        );
        let v = self
            .conn_job(move |c| {
                metadata(c, &thread_id)?;
                let stored: Option<String> = c
                    .prepare_cached("SELECT variant FROM ab_variants WHERE thread_id = ?1 AND test_name = ?2")
                    .and_then(|mut s| s.query_row(params![thread_id, test], |r| r.get(0)).optional())
                    .map_err(db)?;
                if let Some(v) = stored.filter(|v| allowed.contains(v)) {
                    return Ok(Value::String(v));
                }
                c.prepare_cached(
                    "INSERT INTO ab_variants (thread_id, test_name, variant, created_at) VALUES (?1, ?2, ?3, ?4) \
                     ON CONFLICT (thread_id, test_name) DO UPDATE SET variant = excluded.variant, created_at = excluded.created_at",
                )
                .and_then(|mut s| s.execute(params![thread_id, test, candidate, now_rfc3339()]))
                .map_err(db)?;
                Ok(Value::String(candidate))
            })
            .await?;
        Ok(v.as_str().unwrap_or_default().to_string())
    }

    pub(super) async fn do_record_action_run(&self, run: ActionRun) -> Result<()> {
        self.conn_job(move |c| {
            c.prepare_cached(
                "INSERT INTO action_runs (id, bot, action, kind, thread_id, run_id, test, status, args, result, error, stdout, stderr, log, duration_ms, created_at) \
                 VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11, ?12, ?13, ?14, ?15, ?16)",
            )
            .and_then(|mut s| {
                s.execute(params![
                    run.id,
                    run.bot,
                    run.action,
                    run.kind,
                    run.thread_id,
                    run.run_id,
                    run.test,
                    run.status,
                    run.args.to_string(),
                    run.result.to_string(),
                    run.error,
                    run.stdout,
                    run.stderr,
                    json!(run.log).to_string(),
                    run.duration_ms as i64,
                    run.created_at,
                ])
            })
            .map_err(db)?;
            Ok(Value::Null)
        })
        .await
        .map(|_| ())
    }

    pub(super) async fn do_action_runs(&self, q: ActionRunQuery) -> Result<Vec<ActionRun>> {
        let limit = q.limit.clamp(1, 500) as i64;
        let rows = sqlx::query(
            "SELECT * FROM action_runs WHERE (?1 IS NULL OR bot = ?1) AND (?2 IS NULL OR action = ?2) \
             AND (?3 IS NULL OR thread_id = ?3) ORDER BY rowid DESC LIMIT ?4",
        )
        .bind(q.bot)
        .bind(q.action)
        .bind(q.thread_id)
        .bind(limit)
        .fetch_all(&self.read)
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

    pub(super) async fn do_thread_by_public_id(&self, public_id: &str) -> Result<Option<Thread>> {
        let row = sqlx::query("SELECT * FROM threads WHERE public_id = ?")
            .bind(public_id)
            .fetch_optional(&self.read)
            .await?;
        row.as_ref().map(thread_from_row).transpose()
    }

    pub(super) async fn do_tag_ids(&self, thread_id: &str) -> Result<Vec<(String, String)>> {
        let rows: Vec<(String, String)> =
            sqlx::query_as("SELECT id, tag FROM thread_tags WHERE thread_id = ? ORDER BY rowid")
                .bind(thread_id)
                .fetch_all(&self.read)
                .await?;
        Ok(rows)
    }
}
