//! The outbox worker: claims due jobs, runs them through an [`Executor`] with bounded
//! concurrency, records each result. One per server; ends on shutdown.
//!
//! Wake-ups: the store's planner notifies after a commit that enqueued jobs; a finished job
//! notifies too (the next job of its lane may now run); otherwise the worker sleeps until the
//! earliest retry it scheduled or the poll interval, whichever is first.
//!
//! Shutdown: running jobs are abandoned, not recorded; their leases are released at the next
//! start, so they run again (at least once — the seed asks handler authors to be idempotent,
//! and webhooks keep their id for the CRM to drop duplicates).

use std::sync::Arc;
use std::time::Duration;

use async_trait::async_trait;
use tokio::sync::{Notify, Semaphore};
use tokio_util::sync::CancellationToken;
use tokio_util::task::TaskTracker;

use super::{now_ms, ClaimedJob, HandlerRun, JobResult};
use crate::store::Store;

/// Runs one job attempt.
#[async_trait]
pub trait Executor: Send + Sync + 'static {
    async fn run(&self, job: &ClaimedJob) -> (JobResult, Option<HandlerRun>);
}

#[derive(Debug, Clone)]
pub struct WorkerConfig {
    /// Jobs running at once.
    pub concurrency: usize,
    /// How long a claim holds a job; longer than any attempt can take (handler limit 60 s,
    /// webhook timeout at most 120 s).
    pub lease: Duration,
    /// Longest sleep without a wake-up.
    pub poll: Duration,
}

impl Default for WorkerConfig {
    fn default() -> Self {
        WorkerConfig {
            concurrency: 32,
            lease: Duration::from_secs(180),
            poll: Duration::from_secs(1),
        }
    }
}

pub struct OutboxWorker {
    store: Arc<dyn Store>,
    exec: Arc<dyn Executor>,
    notify: Arc<Notify>,
    config: WorkerConfig,
}

impl OutboxWorker {
    pub fn new(
        store: Arc<dyn Store>,
        exec: Arc<dyn Executor>,
        notify: Arc<Notify>,
        config: WorkerConfig,
    ) -> Self {
        OutboxWorker {
            store,
            exec,
            notify,
            config,
        }
    }

    /// Runs until `cancel` fires; returns once every job task has ended.
    pub async fn run(self, cancel: CancellationToken) {
        match self.store.release_leases().await {
            Ok(0) => {}
            Ok(n) => tracing::warn!(
                jobs = n,
                "outbox: jobs interrupted by the last stop will run again"
            ),
            Err(e) => tracing::error!(error = %e, "outbox: cannot release old leases"),
        }
        let slots = Arc::new(Semaphore::new(self.config.concurrency.max(1)));
        let tracker = TaskTracker::new();
        // Earliest retry this worker scheduled (unix ms), to wake for it.
        let next_retry = Arc::new(std::sync::atomic::AtomicI64::new(i64::MAX));
        let this = Arc::new(self);
        loop {
            if cancel.is_cancelled() {
                break;
            }
            let free = slots.available_permits();
            let jobs = if free == 0 {
                Vec::new()
            } else {
                match this
                    .store
                    .claim_jobs(now_ms(), this.config.lease.as_millis() as i64, free)
                    .await
                {
                    Ok(j) => j,
                    Err(e) => {
                        tracing::error!(error = %e, "outbox: claim failed");
                        Vec::new()
                    }
                }
            };
            let full = !jobs.is_empty() && jobs.len() == free;
            for job in jobs {
                let Ok(permit) = slots.clone().acquire_owned().await else {
                    break;
                };
                let (this, cancel, next_retry) = (this.clone(), cancel.clone(), next_retry.clone());
                tracker.spawn(async move {
                    let outcome = tokio::select! {
                        o = this.exec.run(&job) => o,
                        _ = cancel.cancelled() => return, // lease released at next start
                    };
                    if let (JobResult::Retry { due_ms, .. }, _) = &outcome {
                        next_retry.fetch_min(*due_ms, std::sync::atomic::Ordering::Relaxed);
                    }
                    log_outcome(&job, &outcome.0);
                    if let Err(e) = this.store.finish_job(&job.id, outcome.0, outcome.1).await {
                        tracing::error!(job = %job.id, error = %e, "outbox: cannot record a job's result; it will run again");
                    }
                    drop(permit);
                    this.notify.notify_one();
                });
            }
            if full {
                continue; // more may be due right now
            }
            let now = now_ms();
            let due = next_retry.swap(i64::MAX, std::sync::atomic::Ordering::Relaxed);
            let wait = if due == i64::MAX {
                this.config.poll
            } else if due <= now {
                Duration::ZERO
            } else {
                let d = Duration::from_millis((due - now) as u64);
                if d < this.config.poll {
                    d
                } else {
                    // Not waking for it now: keep it for the next round.
                    next_retry.fetch_min(due, std::sync::atomic::Ordering::Relaxed);
                    this.config.poll
                }
            };
            tokio::select! {
                _ = this.notify.notified() => {}
                _ = tokio::time::sleep(wait) => {}
                _ = cancel.cancelled() => break,
            }
        }
        tracker.close();
        tracker.wait().await;
    }
}

fn log_outcome(job: &ClaimedJob, r: &JobResult) {
    let kind = job.kind.as_str();
    match r {
        JobResult::Done => {
            tracing::debug!(job = %job.id, kind, target = %job.target, attempt = job.attempt, "outbox: done")
        }
        JobResult::Retry { error, .. } => {
            tracing::warn!(job = %job.id, kind, target = %job.target, attempt = job.attempt, %error, "outbox: will retry")
        }
        JobResult::Failed { error } => {
            tracing::error!(job = %job.id, kind, target = %job.target, attempt = job.attempt, %error, "outbox: failed for good")
        }
    }
}
