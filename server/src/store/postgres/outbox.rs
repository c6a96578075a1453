//! PostgreSQL side of the outbox (see [`crate::outbox`]): claims shared by every instance.
//!
//! A claim is one transaction: due rows whose lane has no earlier pending row are locked with
//! `FOR UPDATE SKIP LOCKED` (instances claiming at the same moment take different rows) and
//! leased to this instance. A leased row is not due for anyone until its lease ends, so a job
//! runs on one instance at a time; a lease also ends when its instance stops refreshing its
//! heartbeat (dead for the run lease, see [`super::PgOptions::run_lease`]), and another
//! instance claims the job (at least once, same job id). A lane's later job is not claimable while an earlier one is
//! pending, leased or not: webhooks of one conversation go in order across instances.

use serde_json::Value;
use sqlx::Row;

use super::super::console::handler_run;
use super::super::Result;
use super::PgStore;
use crate::outbox::{now_ms, ClaimedJob, HandlerRun, JobKind, JobResult, JobRow};

const CLAIM: &str = "SELECT seq, id, thread_id, bot, kind, target, event_type, body, attempts FROM outbox o \
    WHERE status = 'pending' AND due_at <= $1 \
    AND (lease_until IS NULL OR lease_until <= $1 OR NOT EXISTS \
      (SELECT 1 FROM instances i WHERE i.id = o.lease_owner AND i.heartbeat_at > $3)) \
    AND (lane IS NULL OR NOT EXISTS (SELECT 1 FROM outbox p WHERE p.lane = o.lane AND p.status = 'pending' AND p.seq < o.seq)) \
    ORDER BY due_at, seq LIMIT $2 FOR UPDATE SKIP LOCKED";

impl PgStore {
    pub(super) async fn do_claim_jobs(
        &self,
        now: i64,
        lease_ms: i64,
        limit: usize,
    ) -> Result<Vec<ClaimedJob>> {
        let mut tx = self.pool.begin().await?;
        let dead_before = now - self.options.run_lease.as_millis() as i64;
        let rows = sqlx::query(CLAIM)
            .bind(now)
            .bind(limit as i64)
            .bind(dead_before)
            .fetch_all(&mut *tx)
            .await?;
        if rows.is_empty() {
            return Ok(Vec::new());
        }
        let seqs: Vec<i64> = rows.iter().map(|r| r.get(0)).collect();
        sqlx::query(
            "UPDATE outbox SET lease_until = $1, lease_owner = $3, attempts = attempts + 1 WHERE seq = ANY($2)",
        )
        .bind(now + lease_ms)
        .bind(&seqs)
        .bind(&self.instance)
        .execute(&mut *tx)
        .await?;
        tx.commit().await?;
        Ok(rows
            .iter()
            .map(|r| ClaimedJob {
                id: r.get(1),
                thread_id: r.get(2),
                bot: r.get(3),
                kind: JobKind::parse(r.get::<&str, _>(4)).unwrap_or(JobKind::Webhook),
                target: r.get(5),
                event_type: r.get(6),
                body: r.get(7),
                attempt: r.get::<i64, _>(8) as u32 + 1,
            })
            .collect())
    }

    pub(super) async fn do_finish_job(
        &self,
        id: &str,
        result: JobResult,
        run: Option<HandlerRun>,
    ) -> Result<()> {
        let mut tx = self.pool.begin().await?;
        if !id.is_empty() {
            let q = match result {
                JobResult::Done => sqlx::query(
                    "UPDATE outbox SET status = 'done', lease_until = NULL, done_at = $1, last_error = $2 WHERE id = $3",
                )
                .bind(Some(now_ms()))
                .bind(None::<String>),
                JobResult::Retry { due_ms, error } => sqlx::query(
                    "UPDATE outbox SET due_at = $1, lease_until = NULL, last_error = $2 WHERE id = $3",
                )
                .bind(Some(due_ms))
                .bind(Some(error)),
                JobResult::Failed { error } => sqlx::query(
                    "UPDATE outbox SET status = 'failed', lease_until = NULL, done_at = $1, last_error = $2 WHERE id = $3",
                )
                .bind(Some(now_ms()))
                .bind(Some(error)),
            };
            q.bind(id).execute(&mut *tx).await?;
        }
        if let Some(r) = &run {
            sqlx::query(
                "INSERT INTO handler_runs (id, job_id, bot, handler, event_type, thread_id, test, status, result, stdout, stderr, traceback, duration_ms, started_at) \
                 VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, $14) ON CONFLICT DO NOTHING",
            )
            .bind(&r.id)
            .bind(&r.job_id)
            .bind(&r.bot)
            .bind(&r.handler)
            .bind(&r.event_type)
            .bind(&r.thread_id)
            .bind(r.test as i64)
            .bind(&r.status)
            .bind(r.result.as_ref().map(Value::to_string))
            .bind(&r.stdout)
            .bind(&r.stderr)
            .bind(&r.traceback)
            .bind(r.duration_ms as i64)
            .bind(&r.started_at)
            .execute(&mut *tx)
            .await?;
        }
        tx.commit().await?;
        Ok(())
    }

    pub(super) async fn do_handler_runs(&self, bot: &str, limit: u32) -> Result<Vec<HandlerRun>> {
        let rows = sqlx::query(
            "SELECT * FROM handler_runs WHERE bot = $1 ORDER BY started_at DESC, ord DESC LIMIT $2",
        )
        .bind(bot)
        .bind(limit.min(500) as i64)
        .fetch_all(&self.pool)
        .await?;
        rows.iter().map(handler_run).collect()
    }

    pub(super) async fn do_outbox_jobs(&self, thread_id: &str) -> Result<Vec<JobRow>> {
        let rows = sqlx::query(
            "SELECT id, kind, target, event_type, status, attempts, last_error, body FROM outbox WHERE thread_id = $1 ORDER BY seq",
        )
        .bind(thread_id)
        .fetch_all(&self.pool)
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
        Ok(sqlx::query_scalar(
            "SELECT thread_id FROM crm_conversations WHERE bot = $1 AND platform_conversation_id = $2",
        )
        .bind(bot)
        .bind(pcid)
        .fetch_optional(&self.pool)
        .await?)
    }
}
