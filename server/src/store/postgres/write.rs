//! The PostgreSQL store's conversation writes: threads, sends, run items, transitions,
//! feedback and the recovery of runs whose instance died. Each is one [`Tx`].

use std::sync::Arc;

use natter_protocol::{ErrorDetail, EventPayload, FeedbackRequest, Message, Role, ThreadStatus};
use serde_json::Value;
use sqlx::Row;

use super::super::{
    default_subject, NewThread, Recovered, Rerun, Result, RunItem, RunOutcome, SendOutcome,
    StoreError, StoredEvent, Thread, MAX_RERUNS,
};
use super::fast::{duplicate, BatchRows, Op, SendRows, StreamRows};
use super::tx::Tx;
use super::{corrupt, PgStore};
use crate::ids;
use crate::outbox::{PlanThread, CRM_THREAD_PREFIX};
use crate::time::now_rfc3339;

pub(super) fn text_of(m: &Message) -> String {
    m.content
        .iter()
        .filter_map(|c| c.text.as_deref())
        .collect::<Vec<_>>()
        .join("\n")
}

impl PgStore {
    pub(super) async fn do_create_thread(
        &self,
        new: NewThread,
        greeting: Option<Message>,
    ) -> Result<Thread> {
        let mut tx = Tx::begin(self).await?;
        let now = self.insert_thread(&mut tx, &new).await?;
        if let Some(msg) = greeting {
            self.store_message(&mut tx, &new.id, None, msg, None)
                .await?;
        }
        tx.commit().await?;
        Ok(new.created(now))
    }

    async fn insert_thread(&self, tx: &mut Tx<'_>, new: &NewThread) -> Result<String> {
        let now = now_rfc3339();
        sqlx::query(
            "INSERT INTO threads (id, public_id, bot, sub, subject, status, metadata, created_at, updated_at, \
             channel, browser_session) VALUES ($1, $2, $3, $4, $5, 'open', $6, $7, $7, $8, $9)",
        )
        .bind(&new.id)
        .bind(&new.public_id)
        .bind(&new.bot)
        .bind(&new.sub)
        .bind(&new.subject)
        .bind(Value::Object(new.metadata.clone()).to_string())
        .bind(&now)
        .bind(&new.channel)
        .bind(new.browser_session.as_ref().map(Value::to_string))
        .execute(&mut *tx.tx)
        .await?;
        tx.created(&new.id, &new.bot);
        Ok(now)
    }

    pub(super) async fn do_send(
        &self,
        thread_id: &str,
        message: Message,
        context: Option<Value>,
        run_id: String,
    ) -> Result<SendOutcome> {
        // The common case in one statement of a group commit; anything else under the row
        // lock below (a send racing a retry of itself ends here too, see [`super::fast`]).
        let rows = SendRows::new(thread_id, &message, &context, &run_id, &self.instance)?;
        match self.group.run(Op::Send(rows)).await {
            Ok(true) => {
                return Ok(SendOutcome::Created {
                    message_id: message.id,
                    run_id: Some(run_id),
                })
            }
            Ok(false) => {}
            Err(StoreError::Db(e)) if duplicate(&e) => {}
            Err(e) => return Err(e),
        }
        let mut tx = Tx::begin(self).await?;
        let status = tx.lock(thread_id).await?;
        if let Some(cmid) = &message.client_message_id {
            // Under the thread's lock: a retry racing its first send finds it here.
            let prior = sqlx::query(
                "SELECT id, body FROM messages WHERE thread_id = $1 AND client_message_id = $2",
            )
            .bind(thread_id)
            .bind(cmid)
            .fetch_optional(&mut *tx.tx)
            .await?;
            if let Some(row) = prior {
                let m: Message = serde_json::from_str(row.get::<&str, _>(1)).map_err(corrupt)?;
                return Ok(SendOutcome::Duplicate {
                    message_id: row.get(0),
                    run_id: m.run_id,
                });
            }
        }
        if status == ThreadStatus::Closed {
            return Err(StoreError::ThreadClosed);
        }
        let run_id = (status == ThreadStatus::Open).then_some(run_id);
        let mut message = message;
        message.run_id = run_id.clone();
        let message_id = message.id.clone();
        let ev = tx.append(
            thread_id,
            &EventPayload::MessageCreated {
                message: message.clone(),
            },
        )?;
        tx.insert_message(thread_id, ev.seq, &message, context.map(|c| c.to_string()))
            .await?;
        if let Some(subject) = default_subject(&text_of(&message)) {
            sqlx::query("UPDATE threads SET subject = $1 WHERE id = $2 AND subject IS NULL")
                .bind(subject)
                .bind(thread_id)
                .execute(&mut *tx.tx)
                .await?;
        }
        if status == ThreadStatus::HandedOff {
            // The human side gets the visitor's message (widgetMessage), with this commit.
            let (bot, pcid) = self.plan_thread(&mut tx, thread_id).await?;
            let pt = PlanThread {
                id: thread_id,
                bot: &bot,
                crm_channel: pcid.as_deref(),
            };
            let jobs = self.planner.on_visitor_message(&pt, &message);
            tx.insert_jobs(thread_id, &bot, jobs).await?;
        }
        if let Some(run) = &run_id {
            sqlx::query(
                "INSERT INTO runs (id, thread_id, message_id, status, started_at, owner) VALUES ($1, $2, $3, 'running', $4, $5)",
            )
            .bind(run)
            .bind(thread_id)
            .bind(&message_id)
            .bind(now_rfc3339())
            .bind(&self.instance)
            .execute(&mut *tx.tx)
            .await?;
            tx.append(
                thread_id,
                &EventPayload::RunStarted {
                    run_id: run.clone(),
                    message_id: message_id.clone(),
                },
            )?;
        }
        tx.commit().await?;
        Ok(SendOutcome::Created { message_id, run_id })
    }

    /// Streams events of a reply in progress: one statement in a group commit (see
    /// [`super::group`]); a group of streamed events only does not wait for the WAL flush.
    pub(super) async fn do_stream(&self, thread_id: &str, events: Vec<EventPayload>) -> Result<()> {
        let rows = StreamRows::new(thread_id, &events);
        match self.group.run(Op::Stream(rows)).await? {
            true => Ok(()),
            false => Err(StoreError::ThreadNotFound),
        }
    }

    /// Appends events that store no row, durably.
    pub(super) async fn do_append(
        &self,
        thread_id: &str,
        events: Vec<EventPayload>,
    ) -> Result<Vec<Arc<StoredEvent>>> {
        let mut tx = Tx::begin(self).await?;
        tx.lock(thread_id).await?;
        for ev in &events {
            tx.append(thread_id, ev)?;
        }
        tx.commit().await
    }

    pub(super) async fn do_run_batch(&self, thread_id: &str, items: Vec<RunItem>) -> Result<()> {
        if let Some(rows) = BatchRows::new(thread_id, &items)? {
            if self.group.run(Op::Batch(rows)).await? {
                return Ok(());
            }
        }
        let mut tx = Tx::begin(self).await?;
        tx.lock(thread_id).await?;
        for item in items {
            match item {
                RunItem::Event(ev) => {
                    tx.append(thread_id, &ev)?;
                }
                RunItem::Message { run_id, message } => {
                    self.store_message(&mut tx, thread_id, run_id, message, None)
                        .await?
                }
                RunItem::Finish {
                    run_id,
                    outcome,
                    agent_state,
                } => {
                    finish_run(&mut tx, thread_id, &run_id, outcome, agent_state).await?;
                }
            }
        }
        tx.commit().await.map(|_| ())
    }

    pub(super) async fn do_transition(
        &self,
        thread_id: &str,
        to: ThreadStatus,
        event: EventPayload,
    ) -> Result<bool> {
        let mut tx = Tx::begin(self).await?;
        let from = tx.lock(thread_id).await?;
        let valid = matches!(
            (from, to),
            (ThreadStatus::Open, ThreadStatus::HandedOff)
                | (ThreadStatus::Open, ThreadStatus::Closed)
                | (ThreadStatus::HandedOff, ThreadStatus::Closed)
                | (ThreadStatus::HandedOff, ThreadStatus::Open)
        );
        if !valid {
            return Ok(false);
        }
        sqlx::query("UPDATE threads SET status = $1, updated_at = $2 WHERE id = $3")
            .bind(to.as_str())
            .bind(now_rfc3339())
            .bind(thread_id)
            .execute(&mut *tx.tx)
            .await?;
        tx.set_status(thread_id, to)?;
        // The transition's outbox jobs (handlers, CRM webhooks) commit with it.
        let (bot, pcid) = self.plan_thread(&mut tx, thread_id).await?;
        let pt = PlanThread {
            id: thread_id,
            bot: &bot,
            crm_channel: pcid.as_deref(),
        };
        let jobs = self.planner.on_transition(&pt, from, to, &event);
        tx.insert_jobs(thread_id, &bot, jobs).await?;
        tx.append(thread_id, &event)?;
        tx.commit().await?;
        Ok(true)
    }

    pub(super) async fn do_feedback(
        &self,
        thread_id: &str,
        feedback: FeedbackRequest,
    ) -> Result<String> {
        let mut tx = Tx::begin(self).await?;
        tx.lock(thread_id).await?;
        let exists = sqlx::query(
            "SELECT 1 FROM messages WHERE id = $1 AND thread_id = $2 AND role != 'user'",
        )
        .bind(&feedback.message_id)
        .bind(thread_id)
        .fetch_optional(&mut *tx.tx)
        .await?
        .is_some();
        if !exists {
            return Err(StoreError::MessageNotFound);
        }
        let id = ids::feedback();
        let kind = match feedback.interaction_type {
            natter_protocol::InteractionType::Button => "button",
            natter_protocol::InteractionType::Details => "details",
        };
        let cats =
            serde_json::to_string(&feedback.categories.unwrap_or_default()).map_err(corrupt)?;
        sqlx::query(
            "INSERT INTO feedback (id, thread_id, message_id, is_positive, interaction_type, text, categories, created_at) \
             VALUES ($1, $2, $3, $4, $5, $6, $7, $8)",
        )
        .bind(&id)
        .bind(thread_id)
        .bind(&feedback.message_id)
        .bind(feedback.is_positive as i64)
        .bind(kind)
        .bind(&feedback.text)
        .bind(cats)
        .bind(now_rfc3339())
        .execute(&mut *tx.tx)
        .await?;
        tx.commit().await?;
        Ok(id)
    }

    /// Runs `running` whose owner is gone (no heartbeat within the run lease) are failed
    /// (`interrupted`) and re-run here, each in its own transaction under its thread's lock:
    /// instances recovering at the same time never recover one run twice.
    pub(super) async fn do_recover(&self) -> Result<Recovered> {
        let dead_before = crate::outbox::now_ms() - self.options.run_lease.as_millis() as i64;
        let candidates: Vec<(String, String)> = sqlx::query_as(
            "SELECT r.id, r.thread_id FROM runs r WHERE r.status = 'running' \
             AND (r.owner IS NULL OR NOT EXISTS (SELECT 1 FROM instances i WHERE i.id = r.owner AND i.heartbeat_at > $1)) \
             ORDER BY r.ord",
        )
        .bind(dead_before)
        .fetch_all(&self.pool)
        .await?;
        let mut out = Recovered::default();
        for (run_id, thread_id) in candidates {
            let mut tx = Tx::begin(self).await?;
            tx.lock(&thread_id).await?;
            // Checked again under the lock: another instance may have recovered it.
            let row = sqlx::query(
                "SELECT r.ord, r.message_id, r.attempt FROM runs r WHERE r.id = $1 AND r.status = 'running' \
                 AND (r.owner IS NULL OR NOT EXISTS (SELECT 1 FROM instances i WHERE i.id = r.owner AND i.heartbeat_at > $2))",
            )
            .bind(&run_id)
            .bind(dead_before)
            .fetch_optional(&mut *tx.tx)
            .await?;
            let Some(row) = row else { continue };
            let (ord, message_id, attempt): (i64, String, i64) =
                (row.get(0), row.get(1), row.get(2));
            sqlx::query(
                "UPDATE runs SET status = 'failed', error = 'interrupted', ended_at = $1 WHERE id = $2",
            )
            .bind(now_rfc3339())
            .bind(&run_id)
            .execute(&mut *tx.tx)
            .await?;
            tx.append(
                &thread_id,
                &EventPayload::RunFailed {
                    run_id: run_id.clone(),
                    error: ErrorDetail {
                        code: "interrupted".into(),
                        message: "the server stopped during this run".into(),
                    },
                },
            )?;
            let rerun = self
                .rerun(&mut tx, &run_id, &thread_id, ord, message_id, attempt)
                .await?;
            tx.commit().await?;
            out.interrupted += 1;
            out.reruns.extend(rerun);
        }
        Ok(out)
    }

    /// The re-run of an interrupted run (see [`super::super::Store::recover_interrupted_runs`]),
    /// owned by this instance, or `None` when its answer is no longer wanted.
    async fn rerun(
        &self,
        tx: &mut Tx<'_>,
        interrupted: &str,
        thread_id: &str,
        ord: i64,
        message_id: String,
        attempt: i64,
    ) -> Result<Option<Rerun>> {
        if attempt >= MAX_RERUNS {
            tracing::warn!(thread = %thread_id, run = %interrupted, attempt, "interrupted run not re-run: too many attempts");
            return Ok(None);
        }
        if tx.lock(thread_id).await? != ThreadStatus::Open {
            return Ok(None);
        }
        let later_completed = sqlx::query(
            "SELECT 1 FROM runs WHERE thread_id = $1 AND ord > $2 AND status = 'completed' LIMIT 1",
        )
        .bind(thread_id)
        .bind(ord)
        .fetch_optional(&mut *tx.tx)
        .await?
        .is_some();
        if later_completed {
            return Ok(None);
        }
        let row =
            sqlx::query("SELECT body, context FROM messages WHERE id = $1 AND thread_id = $2")
                .bind(&message_id)
                .bind(thread_id)
                .fetch_optional(&mut *tx.tx)
                .await?;
        let Some(row) = row else { return Ok(None) };
        let message: Message = serde_json::from_str(row.get::<&str, _>(0)).map_err(corrupt)?;
        let context = row
            .get::<Option<&str>, _>(1)
            .map(serde_json::from_str::<Value>)
            .transpose()
            .map_err(corrupt)?;
        let run_id = ids::run();
        sqlx::query(
            "INSERT INTO runs (id, thread_id, message_id, status, started_at, attempt, owner) VALUES ($1, $2, $3, 'running', $4, $5, $6)",
        )
        .bind(&run_id)
        .bind(thread_id)
        .bind(&message_id)
        .bind(now_rfc3339())
        .bind(attempt + 1)
        .bind(&self.instance)
        .execute(&mut *tx.tx)
        .await?;
        tx.append(
            thread_id,
            &EventPayload::RunStarted {
                run_id: run_id.clone(),
                message_id,
            },
        )?;
        Ok(Some(Rerun {
            thread_id: thread_id.to_string(),
            bot: tx.bot(thread_id)?,
            run_id,
            interrupted_run_id: interrupted.to_string(),
            text: text_of(&message),
            context,
        }))
    }

    pub(super) async fn store_message(
        &self,
        tx: &mut Tx<'_>,
        thread_id: &str,
        run_id: Option<String>,
        mut message: Message,
        ctx: Option<String>,
    ) -> Result<()> {
        message.run_id = run_id.clone();
        let payload = if message.role == Role::Agent {
            EventPayload::AgentMessage {
                message: message.clone(),
            }
        } else {
            EventPayload::MessageCompleted {
                run_id,
                message: message.clone(),
            }
        };
        let ev = tx.append(thread_id, &payload)?;
        tx.insert_message(thread_id, ev.seq, &message, ctx).await?;
        if message.role == Role::Assistant && thread_id.starts_with(CRM_THREAD_PREFIX) {
            // The CRM is this conversation's channel: the reply goes out as `sendMessage`.
            let (bot, pcid) = self.plan_thread(tx, thread_id).await?;
            let pt = PlanThread {
                id: thread_id,
                bot: &bot,
                crm_channel: pcid.as_deref(),
            };
            let jobs = self.planner.on_bot_message(&pt, &message);
            tx.insert_jobs(thread_id, &bot, jobs).await?;
        }
        Ok(())
    }

    /// The thread's bot and, for a CRM-channel conversation, the CRM's id for it.
    async fn plan_thread(
        &self,
        tx: &mut Tx<'_>,
        thread_id: &str,
    ) -> Result<(String, Option<String>)> {
        let bot = tx.bot(thread_id)?;
        let pcid = if thread_id.starts_with(CRM_THREAD_PREFIX) {
            sqlx::query_scalar(
                "SELECT platform_conversation_id FROM crm_conversations WHERE thread_id = $1",
            )
            .bind(thread_id)
            .fetch_optional(&mut *tx.tx)
            .await?
        } else {
            None
        };
        Ok((bot, pcid))
    }
}

async fn finish_run(
    tx: &mut Tx<'_>,
    thread_id: &str,
    run_id: &str,
    outcome: RunOutcome,
    state: Option<Value>,
) -> Result<()> {
    let (status, error, event) = match outcome {
        RunOutcome::Completed => (
            "completed",
            None,
            EventPayload::RunCompleted {
                run_id: run_id.to_string(),
            },
        ),
        RunOutcome::Failed { code, message } => (
            "failed",
            Some(code.clone()),
            EventPayload::RunFailed {
                run_id: run_id.to_string(),
                error: ErrorDetail { code, message },
            },
        ),
    };
    let now = now_rfc3339();
    let updated = sqlx::query(
        "UPDATE runs SET status = $1, error = $2, ended_at = $3 WHERE id = $4 AND status = 'running'",
    )
    .bind(status)
    .bind(error)
    .bind(&now)
    .bind(run_id)
    .execute(&mut *tx.tx)
    .await?
    .rows_affected();
    if updated == 0 {
        return Ok(()); // already finished (or recovered by another instance): nothing to write
    }
    if let Some(state) = state {
        sqlx::query("UPDATE threads SET agent_state = $1, updated_at = $2 WHERE id = $3")
            .bind(state.to_string())
            .bind(&now)
            .bind(thread_id)
            .execute(&mut *tx.tx)
            .await?;
    }
    tx.append(thread_id, &event)?;
    Ok(())
}

impl PgStore {
    /// The CRM-channel map row first (so the greeting already goes out as a `sendMessage`);
    /// a concurrent start for the same CRM id finds the first one's thread.
    pub(super) async fn do_create_crm_thread(
        &self,
        new: NewThread,
        pcid: &str,
        greeting: Option<Message>,
    ) -> Result<Thread> {
        let mut tx = Tx::begin(self).await?;
        let inserted = sqlx::query(
            "INSERT INTO crm_conversations (bot, platform_conversation_id, thread_id) VALUES ($1, $2, $3) \
             ON CONFLICT DO NOTHING",
        )
        .bind(&new.bot)
        .bind(pcid)
        .bind(&new.id)
        .execute(&mut *tx.tx)
        .await?
        .rows_affected();
        if inserted == 0 {
            drop(tx);
            let owner = self
                .do_crm_thread(&new.bot, pcid)
                .await?
                .ok_or_else(|| StoreError::Corrupt("crm conversation map row vanished".into()))?;
            return self
                .do_thread("id", &owner)
                .await?
                .ok_or(StoreError::ThreadNotFound);
        }
        let now = self.insert_thread(&mut tx, &new).await?;
        if let Some(msg) = greeting {
            self.store_message(&mut tx, &new.id, None, msg, None)
                .await?;
        }
        tx.commit().await?;
        Ok(new.created(now))
    }
}
