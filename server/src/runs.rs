//! Runs: executing an [`Agent`] turn for each acknowledged user message.
//!
//! Invariants:
//! - Runs of one thread execute one at a time, in the order they were queued (a per-thread
//!   queue drained by one worker task), so replies never interleave.
//! - Every run ends with exactly one `run.completed` or `run.failed` event: on success, on an
//!   agent error (`agent_error`; details are logged, not sent), or on shutdown (`interrupted`).
//!   A crash leaves the run `running`; the next start marks it `interrupted`
//!   ([`crate::store::Store::recover_interrupted_runs`]).
//! - Re-runs: at that start, a new run is queued for each interrupted run's user message (same
//!   thread, text and host context; the agent state last saved, which the interrupted run did
//!   not change), unless the thread is no longer open or a later run of it completed. At most
//!   [`crate::store::MAX_RERUNS`] re-runs per message. The widget drops the interrupted run's
//!   partial message, so the visitor sees the answer once; but the re-run repeats the turn, so
//!   an action the interrupted run already executed may execute again (at-least-once).
//! - Every run task is tracked; [`Runs::shutdown`] cancels them and waits for them to end.
//!   With a database shared by other instances, a run cancelled by shutdown is not ended but
//!   handed over: another instance re-runs it (see [`Store::recovery_interval`]).

use std::collections::HashMap;
use std::sync::atomic::Ordering;
use std::sync::{Arc, Mutex};
use std::time::Instant;

use async_trait::async_trait;
use natter_protocol::{
    ContentItem, Delta, EventPayload, Message, MessageOptions, Role, ThreadStatus,
};
use tokio::sync::mpsc;
use tokio_util::sync::CancellationToken;
use tokio_util::task::TaskTracker;

use crate::engine::{Agent, AgentError, Reply, ReplyError, Turn};
use crate::metrics;
use crate::store::{RunItem, RunOutcome, Store};
use crate::{ids, time::now_rfc3339};

pub struct Runs {
    store: Arc<dyn Store>,
    /// Per-thread FIFO of pending runs; an entry exists while that thread's worker runs.
    queues: Mutex<HashMap<String, mpsc::UnboundedSender<(Arc<dyn Agent>, RunInput)>>>,
    tracker: TaskTracker,
    cancel: CancellationToken,
    /// The CRM's synchronous calls (`escalate`, `isTeamOnline`) for workflow steps.
    lifecycle: std::sync::OnceLock<Arc<crate::lifecycle::Lifecycle>>,
}

/// What a run answers.
pub struct RunInput {
    pub thread_id: String,
    pub run_id: String,
    pub text: String,
    pub context: Option<serde_json::Value>,
}

impl Runs {
    pub fn new(store: Arc<dyn Store>, cancel: CancellationToken) -> Arc<Self> {
        Arc::new(Runs {
            store,
            queues: Mutex::default(),
            tracker: TaskTracker::new(),
            cancel,
            lifecycle: Default::default(),
        })
    }

    /// Gives runs the lifecycle (set once at start, before the first run).
    pub fn set_lifecycle(&self, lifecycle: Arc<crate::lifecycle::Lifecycle>) {
        let _ = self.lifecycle.set(lifecycle);
    }

    /// Queues a run; runs of one thread execute one after another in queue order.
    pub fn spawn(self: &Arc<Self>, agent: Arc<dyn Agent>, input: RunInput) {
        let mut queues = self.queues.lock().unwrap();
        let job = match queues.get(&input.thread_id) {
            // A worker for this thread is alive (it removes itself under this lock), so it will see it.
            Some(tx) => match tx.send((agent, input)) {
                Ok(()) => return,
                Err(e) => e.0,
            },
            None => (agent, input),
        };
        let thread_id = job.1.thread_id.clone();
        let (tx, mut rx) = mpsc::unbounded_channel();
        let _ = tx.send(job);
        queues.insert(thread_id.clone(), tx);
        let this = self.clone();
        self.tracker.spawn(async move {
            loop {
                let next = rx.try_recv().ok().or_else(|| {
                    let mut queues = this.queues.lock().unwrap();
                    // Re-check under the lock: senders only send while holding it.
                    let last = rx.try_recv().ok();
                    if last.is_none() {
                        queues.remove(&thread_id);
                    }
                    last
                });
                match next {
                    Some((agent, input)) => this.execute(agent, &input).await,
                    None => break,
                }
            }
        });
    }

    async fn execute(&self, agent: Arc<dyn Agent>, input: &RunInput) {
        let m = metrics::global();
        m.runs_started.fetch_add(1, Ordering::Relaxed);
        let started = Instant::now();
        let thread = match self.store.thread(&input.thread_id).await {
            Ok(Some(t)) => t,
            other => {
                tracing::error!(thread = %input.thread_id, ?other, "run: cannot load thread");
                return;
            }
        };
        let mut out = RunWriter {
            store: &*self.store,
            thread_id: &input.thread_id,
            run_id: &input.run_id,
            open: None,
            start_event: None,
            pending: Vec::new(),
            started,
            first_delta: false,
            lifecycle: self.lifecycle.get().map(|l| (&**l, thread.bot.as_str())),
        };
        let result = if thread.status == ThreadStatus::Open {
            let turn = Turn {
                thread: &thread,
                run_id: &input.run_id,
                input: &input.text,
                context: input.context.as_ref(),
                state: thread.agent_state.clone(),
                cancel: self.cancel.clone(),
            };
            tokio::select! {
                r = agent.turn(turn, &mut out) => r,
                _ = self.cancel.cancelled() => Err(AgentError::Reply(ReplyError::Cancelled)),
            }
        } else {
            // Handed off or closed while this run waited its turn: nothing to say.
            Ok(thread.agent_state.clone())
        };
        if matches!(result, Err(AgentError::Reply(ReplyError::Cancelled)))
            && self.store.recovery_interval().is_some()
        {
            // Shutdown with other instances on the database: hand the run over. What it said
            // so far is committed; the run stays `running`, and once this instance is gone
            // another one fails it and re-runs the message (see Store::recovery_interval).
            let pending = std::mem::take(&mut out.pending);
            if !pending.is_empty() {
                let _ = self.store.run_batch(&input.thread_id, pending).await;
            }
            return;
        }
        let (outcome, state) = match result {
            Ok(state) => {
                m.runs_completed.fetch_add(1, Ordering::Relaxed);
                // Only runs write the state, one at a time per thread: unchanged means no write.
                let changed = state != thread.agent_state;
                (RunOutcome::Completed, changed.then_some(state))
            }
            Err(AgentError::Reply(ReplyError::Cancelled)) => {
                m.runs_failed.fetch_add(1, Ordering::Relaxed);
                (
                    RunOutcome::Failed {
                        code: "interrupted".into(),
                        message: "the server is shutting down".into(),
                    },
                    None,
                )
            }
            Err(e) => {
                m.runs_failed.fetch_add(1, Ordering::Relaxed);
                tracing::error!(thread = %input.thread_id, run = %input.run_id, error = %e, "run failed");
                let code = match &e {
                    AgentError::Coded { code, .. } => code,
                    _ => "agent_error",
                };
                (
                    RunOutcome::Failed {
                        code: code.to_string(),
                        message: "the bot could not answer".into(),
                    },
                    None,
                )
            }
        };
        // Whatever the agent left unflushed commits with the run's end, in one job.
        let mut items = std::mem::take(&mut out.pending);
        items.push(RunItem::Finish {
            run_id: input.run_id.clone(),
            outcome,
            agent_state: state,
        });
        if let Err(e) = self.store.run_batch(&input.thread_id, items).await {
            tracing::error!(thread = %input.thread_id, run = %input.run_id, error = %e, "run: cannot record its end");
        }
        m.run_duration.observe(started.elapsed().as_secs_f64());
    }

    /// Cancels every run and waits until all have recorded their end.
    pub async fn shutdown(&self) {
        self.cancel.cancel();
        self.tracker.close();
        self.tracker.wait().await;
    }
}

/// The [`Reply`] a run hands its agent. A message's start and deltas are streamed
/// ([`Store::stream`]: seen at once, durable with the next write); everything else is a
/// committed store write.
struct RunWriter<'a> {
    store: &'a dyn Store,
    thread_id: &'a str,
    run_id: &'a str,
    /// The message being streamed: (id, role).
    open: Option<(String, Role)>,
    /// The open message's `message.started`, streamed with its first deltas (every agent
    /// writes a delta right after `begin`): one store write less per message.
    start_event: Option<EventPayload>,
    /// A completed message waiting for the next write or the run's end (one commit less per
    /// reply). Committed before anything else of the run is written or streamed.
    pending: Vec<RunItem>,
    started: Instant,
    first_delta: bool,
    /// The lifecycle and this thread's bot, for the CRM's synchronous calls.
    lifecycle: Option<(&'a crate::lifecycle::Lifecycle, &'a str)>,
}

impl RunWriter<'_> {
    async fn flush(&mut self) -> Result<(), ReplyError> {
        if let Some(started) = self.start_event.take() {
            self.store.stream(self.thread_id, vec![started]).await?;
        }
        if !self.pending.is_empty() {
            self.store
                .run_batch(self.thread_id, std::mem::take(&mut self.pending))
                .await?;
        }
        Ok(())
    }
}

#[async_trait]
impl Reply for RunWriter<'_> {
    async fn begin(&mut self, role: Role) -> Result<String, ReplyError> {
        if self.open.is_some() {
            return Err(ReplyError::Misuse("begin while a message is open"));
        }
        let id = ids::message();
        // The previous message's `message.completed` must get its seq first.
        self.flush().await?;
        self.start_event = Some(EventPayload::MessageStarted {
            message_id: id.clone(),
            run_id: Some(self.run_id.into()),
            role,
        });
        self.open = Some((id.clone(), role));
        Ok(id)
    }

    async fn deltas(&mut self, item_id: &str, pieces: &[&str]) -> Result<(), ReplyError> {
        let (id, role) = self
            .open
            .clone()
            .ok_or(ReplyError::Misuse("delta without begin"))?;
        let mut events: Vec<EventPayload> = self.start_event.take().into_iter().collect();
        events.extend(pieces.iter().map(|text| EventPayload::MessageDelta {
            message_id: id.clone(),
            run_id: Some(self.run_id.into()),
            delta: Delta {
                role,
                content: vec![ContentItem::text(item_id, *text)],
            },
        }));
        if !events.is_empty() {
            self.store.stream(self.thread_id, events).await?;
        }
        if !self.first_delta && !pieces.is_empty() {
            self.first_delta = true;
            metrics::global()
                .first_delta
                .observe(self.started.elapsed().as_secs_f64());
        }
        Ok(())
    }

    async fn complete(
        &mut self,
        content: Vec<ContentItem>,
        options: MessageOptions,
    ) -> Result<(), ReplyError> {
        let (id, role) = self
            .open
            .take()
            .ok_or(ReplyError::Misuse("complete without begin"))?;
        // A message without deltas still shows its start before its completion.
        if let Some(started) = self.start_event.take() {
            self.store.stream(self.thread_id, vec![started]).await?;
        }
        let message = Message {
            id,
            role,
            content,
            message_options: options,
            created_at: now_rfc3339(),
            run_id: Some(self.run_id.into()),
            client_message_id: None,
        };
        self.pending.push(RunItem::Message {
            run_id: Some(self.run_id.into()),
            message,
        });
        Ok(())
    }

    async fn hand_off(&mut self, reason: Option<String>) -> Result<bool, ReplyError> {
        self.flush().await?;
        let ev = EventPayload::ThreadHandedOff { reason };
        Ok(self
            .store
            .transition(self.thread_id, ThreadStatus::HandedOff, ev)
            .await?)
    }

    async fn close(&mut self, reason: Option<String>) -> Result<bool, ReplyError> {
        self.flush().await?;
        let ev = EventPayload::ThreadClosed {
            by: "bot".into(),
            reason,
        };
        Ok(self
            .store
            .transition(self.thread_id, ThreadStatus::Closed, ev)
            .await?)
    }

    async fn event(&mut self, event: EventPayload) -> Result<(), ReplyError> {
        self.pending.push(RunItem::Event(event));
        self.flush().await
    }

    async fn escalate(&mut self) -> Result<Option<bool>, ReplyError> {
        // The visitor sees what was said before the CRM is asked (it may take seconds).
        self.flush().await?;
        let Some((lc, bot)) = self.lifecycle else {
            return Ok(None);
        };
        Ok(lc.escalate(bot, self.thread_id).await)
    }

    async fn team_online(&mut self, team: Option<String>) -> Result<Option<bool>, ReplyError> {
        let Some((lc, bot)) = self.lifecycle else {
            return Ok(None);
        };
        Ok(lc.team_online(bot, self.thread_id, team).await)
    }
}
