//! One attempt of an asynchronous chat webhook, for the server's durable outbox.
//!
//! The outbox stores, per job: the bot, the `webhook-id` (from [`crate::new_webhook_id`], made
//! when the event is queued), the body bytes ([`ChatWebhook::to_body`]) and the number of
//! attempts so far. Its worker calls [`CrmClient::deliver`] with the next attempt number and
//! records the [`Outcome`]: `Delivered` → done; `RetryAt` → due again at that time;
//! `Failed` → dead, with the cause kept. Ordering per conversation (key:
//! `platformConversationId`) is the worker's: it takes a conversation's next job only once the
//! one before is `Delivered` or `Failed`.
//!
//! [`ChatWebhook::to_body`]: crate::wire::ChatWebhook::to_body

use std::time::{Duration, SystemTime};

use crate::classify::{classify_error, classify_status, Verdict};
use crate::client::{snippet, CrmClient, PostError};
use crate::config::Crm;

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Job {
    /// `webhook-id`: the same on every attempt, so the CRM can drop duplicates.
    pub id: String,
    /// Exactly the bytes queued; signed as they are.
    pub body: Vec<u8>,
    /// This attempt's number, 1 for the first.
    pub attempt: u32,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Outcome {
    Delivered {
        status: u16,
    },
    /// Try again at `at` (`after` from now); `cause` says why this attempt failed.
    RetryAt {
        at: SystemTime,
        after: Duration,
        cause: String,
    },
    /// Never try again.
    Failed {
        cause: String,
    },
}

impl CrmClient {
    /// Runs attempt `job.attempt` of `job` against the bot's chat webhook URL.
    pub async fn deliver(&self, crm: &Crm, job: &Job) -> Outcome {
        let Some(url) = &crm.chat_webhook_url else {
            return Outcome::Failed {
                cause: format!("bot `{}` has no crm.chat_webhook_url", crm.bot_id),
            };
        };
        let verdict = match self
            .post_signed(crm, url, &job.id, &job.body, crm.delivery_timeout)
            .await
        {
            Ok(a) => match classify_status(a.status, a.retry_after.as_deref(), SystemTime::now()) {
                Verdict::Done => return Outcome::Delivered { status: a.status },
                Verdict::Retry { after, cause } => Verdict::Retry {
                    after,
                    cause: with_body(cause, &a.body),
                },
                Verdict::Permanent { cause } => Verdict::Permanent {
                    cause: with_body(cause, &a.body),
                },
            },
            Err(e) if e.is_refusal() => Verdict::Permanent { cause: e.cause() },
            Err(PostError::Http(e)) => classify_error(&e),
            Err(e) => Verdict::Permanent { cause: e.cause() },
        };
        match verdict {
            Verdict::Done => unreachable!("returned above"),
            Verdict::Permanent { cause } => Outcome::Failed { cause },
            Verdict::Retry { after, cause } => {
                match self.retry.next_delay(job.attempt, after, fastrand::f64()) {
                    Some(wait) => Outcome::RetryAt {
                        at: SystemTime::now() + wait,
                        after: wait,
                        cause,
                    },
                    None => Outcome::Failed {
                        cause: format!("gave up after {} attempts; last: {cause}", job.attempt),
                    },
                }
            }
        }
    }
}

fn with_body(cause: String, body: &[u8]) -> String {
    let s = snippet(body, 200);
    if s.is_empty() {
        cause
    } else {
        format!("{cause}: {s}")
    }
}
