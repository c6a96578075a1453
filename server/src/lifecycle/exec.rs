//! The outbox's [`Executor`]: runs an event handler, or delivers one attempt of a CRM webhook.

use std::sync::Arc;
use std::time::UNIX_EPOCH;

use async_trait::async_trait;
use natter_crm::{Job, Outcome};

use super::handlers::HandlerError;
use super::Lifecycle;
use crate::outbox::worker::Executor;
use crate::outbox::{now_ms, ClaimedJob, HandlerRun, JobKind, JobResult};

/// Attempts of a handler job whose runtime could not start (python3 missing, …).
const RUNTIME_ATTEMPTS: u32 = 5;

pub struct Exec(pub Arc<Lifecycle>);

#[async_trait]
impl Executor for Exec {
    async fn run(&self, job: &ClaimedJob) -> (JobResult, Option<HandlerRun>) {
        match job.kind {
            JobKind::Handler => self.handler(job).await,
            JobKind::Webhook => (self.webhook(job).await, None),
        }
    }
}

impl Exec {
    async fn handler(&self, job: &ClaimedJob) -> (JobResult, Option<HandlerRun>) {
        let lc = &self.0;
        let Some(def) = lc
            .plan
            .handlers
            .for_event(&job.bot, &job.event_type)
            .find(|h| h.name == job.target)
        else {
            return (
                JobResult::Failed {
                    error: format!(
                        "handler `{}` of `{}` no longer exists",
                        job.target, job.event_type
                    ),
                },
                None,
            );
        };
        match lc
            .handlers
            .run(
                &job.bot,
                def,
                &job.thread_id,
                &job.event_type,
                Some(job.id.clone()),
                false,
            )
            .await
        {
            Ok(run) => {
                tracing::info!(bot = %job.bot, handler = %run.handler, event = %run.event_type, status = %run.status, ms = run.duration_ms, "handler run");
                (JobResult::Done, Some(run))
            }
            Err(HandlerError::Runtime(e)) if job.attempt < RUNTIME_ATTEMPTS => (
                JobResult::Retry {
                    due_ms: now_ms() + 30_000 * job.attempt as i64,
                    error: e,
                },
                None,
            ),
            Err(e) => (
                JobResult::Failed {
                    error: e.to_string(),
                },
                None,
            ),
        }
    }

    async fn webhook(&self, job: &ClaimedJob) -> JobResult {
        let lc = &self.0;
        let Some(crm) = lc.crm(&job.bot) else {
            return JobResult::Failed {
                error: format!("bot `{}` has no [crm] any more", job.bot),
            };
        };
        let attempt = Job {
            id: job.id.clone(),
            body: job.body.clone().into_bytes(),
            attempt: job.attempt,
        };
        match lc.client.deliver(&crm.crm, &attempt).await {
            Outcome::Delivered { .. } => JobResult::Done,
            Outcome::RetryAt { at, cause, .. } => {
                let due_ms = at
                    .duration_since(UNIX_EPOCH)
                    .map(|d| d.as_millis() as i64)
                    .unwrap_or_else(|_| now_ms());
                JobResult::Retry {
                    due_ms,
                    error: cause,
                }
            }
            Outcome::Failed { cause } => JobResult::Failed { error: cause },
        }
    }
}
