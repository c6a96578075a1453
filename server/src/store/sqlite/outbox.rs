//! SQLite side of the outbox (migration 0003, see [`crate::outbox`]): claims, results, handler
//! runs and the CRM-channel map. Writes run as [`Op::Conn`] jobs on the single writer, so they
//! commit in order with the transitions that enqueued the jobs; reads use the read pool.
//!
//! Claiming is one statement pair in one writer job: nothing else writes between the SELECT
//! and the lease UPDATE, so two workers can never lease the same job.

use rusqlite::{params, Connection, OptionalExtension};
use serde_json::Value;
use sqlx::Row;

use super::super::sqlite_writer::{Done, Op};
use super::super::{Message, NewThread, Result, StoreError, Thread};
use super::SqliteStore;
use crate::outbox::{now_ms, ClaimedJob, HandlerRun, JobKind, JobResult, JobRow};

fn db(e: rusqlite::Error) -> StoreError {
    StoreError::Corrupt(format!("sqlite: {e}"))
}

fn corrupt(e: serde_json::Error) -> StoreError {
    StoreError::Corrupt(e.to_string())
}

const CLAIM: &str = "SELECT seq, id, thread_id, bot, kind, target, event_type, body, attempts FROM outbox o \
    WHERE status = 'pending' AND due_at <= ?1 AND (lease_until IS NULL OR lease_until <= ?1) \
    AND (lane IS NULL OR NOT EXISTS (SELECT 1 FROM outbox p WHERE p.lane = o.lane AND p.status = 'pending' AND p.seq < o.seq)) \
    ORDER BY due_at, seq LIMIT ?2";

fn claim(c: &Connection, now: i64, lease_ms: i64, limit: usize) -> Result<Vec<ClaimedJob>> {
    let rows: Vec<(i64, ClaimedJob)> = c
        .prepare_cached(CLAIM)
        .and_then(|mut s| {
            s.query_map(params![now, limit as i64], |r| {
                let kind: String = r.get(4)?;
                Ok((
                    r.get(0)?,
                    ClaimedJob {
                        id: r.get(1)?,
                        thread_id: r.get(2)?,
                        bot: r.get(3)?,
                        kind: JobKind::parse(&kind).unwrap_or(JobKind::Webhook),
                        target: r.get(5)?,
                        event_type: r.get(6)?,
                        body: r.get(7)?,
                        attempt: r.get::<_, u32>(8)? + 1,
                    },
                ))
            })?
            .collect()
        })
        .map_err(db)?;
    for (seq, _) in &rows {
        c.prepare_cached(
            "UPDATE outbox SET lease_until = ?1, attempts = attempts + 1 WHERE seq = ?2",
        )
        .and_then(|mut s| s.execute(params![now + lease_ms, seq]))
        .map_err(db)?;
    }
    Ok(rows.into_iter().map(|(_, j)| j).collect())
}

fn insert_run(c: &Connection, r: &HandlerRun) -> Result<()> {
    let result = r.result.as_ref().map(Value::to_string);
    c.prepare_cached(
        "INSERT OR IGNORE INTO handler_runs (id, job_id, bot, handler, event_type, thread_id, test, status, result, stdout, stderr, traceback, duration_ms, started_at) \
         VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11, ?12, ?13, ?14)",
    )
    .and_then(|mut s| {
        s.execute(params![
            r.id, r.job_id, r.bot, r.handler, r.event_type, r.thread_id, r.test, r.status, result, r.stdout, r.stderr, r.traceback,
            r.duration_ms as i64, r.started_at
        ])
    })
    .map_err(db)?;
    Ok(())
}

impl SqliteStore {
    async fn outbox_job(
        &self,
        f: impl FnOnce(&Connection) -> Result<Value> + Send + 'static,
    ) -> Result<Value> {
        match self.submit(Op::Conn(Box::new(f))).await? {
            Done::Value(v) => Ok(v),
            _ => unreachable!("writer answers Conn with Value"),
        }
    }

    pub(super) async fn do_claim_jobs(
        &self,
        now: i64,
        lease_ms: i64,
        limit: usize,
    ) -> Result<Vec<ClaimedJob>> {
        let v = self
            .outbox_job(move |c| {
                serde_json::to_value(claim(c, now, lease_ms, limit)?).map_err(corrupt)
            })
            .await?;
        serde_json::from_value(v).map_err(corrupt)
    }

    pub(super) async fn do_finish_job(
        &self,
        id: &str,
        result: JobResult,
        run: Option<HandlerRun>,
    ) -> Result<()> {
        let id = id.to_string();
        self.outbox_job(move |c| {
            let now = now_ms();
            let (sql, a, b): (&str, Option<i64>, Option<String>) = match result {
                JobResult::Done => ("UPDATE outbox SET status = 'done', lease_until = NULL, done_at = ?1, last_error = ?2 WHERE id = ?3", Some(now), None),
                JobResult::Retry { due_ms, error } => {
                    ("UPDATE outbox SET due_at = ?1, lease_until = NULL, last_error = ?2 WHERE id = ?3", Some(due_ms), Some(error))
                }
                JobResult::Failed { error } => {
                    ("UPDATE outbox SET status = 'failed', lease_until = NULL, done_at = ?1, last_error = ?2 WHERE id = ?3", Some(now), Some(error))
                }
            };
            if !id.is_empty() {
                c.prepare_cached(sql).and_then(|mut s| s.execute(params![a, b, id])).map_err(db)?;
            }
            if let Some(r) = &run {
                insert_run(c, r)?;
            }
            Ok(Value::Null)
        })
        .await
        .map(|_| ())
    }

    pub(super) async fn do_release_leases(&self) -> Result<usize> {
        let v = self
            .outbox_job(|c| {
                let n = c
                    .execute("UPDATE outbox SET lease_until = NULL WHERE status = 'pending' AND lease_until IS NOT NULL", [])
                    .map_err(db)?;
                Ok(Value::from(n))
            })
            .await?;
        Ok(v.as_u64().unwrap_or(0) as usize)
    }

    pub(super) async fn do_handler_runs(&self, bot: &str, limit: u32) -> Result<Vec<HandlerRun>> {
        let rows = sqlx::query(
            "SELECT * FROM handler_runs WHERE bot = ? ORDER BY started_at DESC, rowid DESC LIMIT ?",
        )
        .bind(bot)
        .bind(limit.min(500) as i64)
        .fetch_all(&self.read)
        .await?;
        rows.iter()
            .map(|r| {
                let result: Option<String> = r.get("result");
                Ok(HandlerRun {
                    id: r.get("id"),
                    job_id: r.get("job_id"),
                    bot: r.get("bot"),
                    handler: r.get("handler"),
                    event_type: r.get("event_type"),
                    thread_id: r.get("thread_id"),
                    test: r.get::<i64, _>("test") != 0,
                    status: r.get("status"),
                    result: result
                        .map(|s| serde_json::from_str(&s))
                        .transpose()
                        .map_err(corrupt)?,
                    stdout: r.get("stdout"),
                    stderr: r.get("stderr"),
                    traceback: r.get("traceback"),
                    duration_ms: r.get::<i64, _>("duration_ms") as u64,
                    started_at: r.get("started_at"),
                })
            })
            .collect()
    }

    pub(super) async fn do_outbox_jobs(&self, thread_id: &str) -> Result<Vec<JobRow>> {
        let rows = sqlx::query("SELECT id, kind, target, event_type, status, attempts, last_error, body FROM outbox WHERE thread_id = ? ORDER BY seq")
            .bind(thread_id)
            .fetch_all(&self.read)
            .await?;
        Ok(rows
            .iter()
            .map(|r| JobRow {
                id: r.get(0),
                kind: JobKind::parse(r.get::<&str, _>(1)).unwrap_or(JobKind::Webhook),
                target: r.get(2),
                event_type: r.get(3),
                status: r.get(4),
                attempts: r.get::<i64, _>(5) as u32,
                last_error: r.get(6),
                body: r.get(7),
            })
            .collect())
    }

    pub(super) async fn do_crm_thread(&self, bot: &str, pcid: &str) -> Result<Option<String>> {
        Ok(sqlx::query_scalar("SELECT thread_id FROM crm_conversations WHERE bot = ? AND platform_conversation_id = ?")
            .bind(bot)
            .bind(pcid)
            .fetch_optional(&self.read)
            .await?)
    }

    pub(super) async fn do_create_crm_thread(
        &self,
        new: NewThread,
        pcid: &str,
        greeting: Option<Message>,
    ) -> Result<Thread> {
        // The map row first, so the greeting (stored with the thread) already goes out as a
        // `sendMessage`; a concurrent start for the same id finds the first one's thread.
        let (bot, pcid, id) = (new.bot.clone(), pcid.to_string(), new.id.clone());
        let owner = self
            .outbox_job(move |c| {
                c.execute(
                    "INSERT OR IGNORE INTO crm_conversations (bot, platform_conversation_id, thread_id) VALUES (?1, ?2, ?3)",
                    params![bot, pcid, id],
                )
                .map_err(db)?;
                let owner: Option<String> = c
                    .query_row("SELECT thread_id FROM crm_conversations WHERE bot = ?1 AND platform_conversation_id = ?2", params![bot, pcid], |r| {
                        r.get(0)
                    })
                    .optional()
                    .map_err(db)?;
                Ok(owner.map(Value::String).unwrap_or(Value::Null))
            })
            .await?;
        match owner.as_str() {
            Some(t) if t == new.id => {
                <Self as super::super::Store>::create_thread(self, new, greeting).await
            }
            Some(t) => <Self as super::super::Store>::thread(self, t)
                .await?
                .ok_or(StoreError::ThreadNotFound),
            None => Err(StoreError::Corrupt(
                "crm conversation map row vanished".into(),
            )),
        }
    }

    pub(super) async fn do_idle_threads(
        &self,
        bot: &str,
        idle_before: &str,
        limit: u32,
    ) -> Result<Vec<String>> {
        Ok(sqlx::query_scalar(
            "SELECT t.id FROM threads t WHERE t.bot = ? AND t.status != 'closed' \
             AND (SELECT e.created_at FROM events e WHERE e.thread_id = t.id ORDER BY e.seq DESC LIMIT 1) < ? LIMIT ?",
        )
        .bind(bot)
        .bind(idle_before)
        .bind(limit as i64)
        .fetch_all(&self.read)
        .await?)
    }
}
