//! Tool calls of the model → the bot's actions, and the two built-ins.
//!
//! [`Actions`] is the seam to the server's action dispatcher; [`RunnerActions`] implements it
//! over [`ActionRunner`] — the same path, run log and `action.*` events as an action called by
//! a scripted step. The [`Executor`] only ever sees calls that
//! natter-llm has checked: offered for this turn, arguments valid against the offered schema.
//!
//! `handOffConversation` and `closeConversation` end the turn here; the agent performs the
//! hand-off or close through its `Reply` once the model's text is stored (so the message comes
//! before `thread.handed_off` / `thread.closed` in the log).

use std::sync::Arc;

use async_trait::async_trait;
use natter_llm::{ToolCall, ToolExecutor, ToolOutput, ToolSpec, CLOSE, HAND_OFF};
use serde_json::{json, Map, Value};

use crate::actions::{ActionRunner, CallSite};
use crate::bots::Bot;
use crate::store::Thread;

/// One action call from the model.
pub struct ActionCall<'a> {
    pub thread: &'a Thread,
    pub run_id: &'a str,
    /// The active workflow: the action must be enabled in it.
    pub workflow: &'a str,
    pub name: &'a str,
    /// Validated against the action's schema.
    pub args: &'a Map<String, Value>,
}

/// The bot's actions as the LLM agent uses them.
#[async_trait]
pub trait Actions: Send + Sync {
    /// The actions enabled in `workflow`, as tools (name, description, argument schema).
    fn tools(&self, workflow: &str) -> Vec<ToolSpec>;
    /// Runs the action (gated by workflow again) and returns what the model reads: the
    /// action's result, or `{"error": …}` for any failure (never a cause meant for the owner).
    async fn call(&self, call: ActionCall<'_>) -> ActionOutcome;
}

/// What an action call gave.
pub struct ActionOutcome {
    /// What the model reads.
    pub value: Value,
    /// The action handed the conversation off (e.g. Python's `hand_off_conversation`): the
    /// turn ends, the bot stops replying.
    pub handed_off: bool,
}

/// The bot's actions through the server's [`ActionRunner`].
pub struct RunnerActions {
    pub bot: Arc<Bot>,
    pub runner: Arc<ActionRunner>,
}

#[async_trait]
impl Actions for RunnerActions {
    fn tools(&self, workflow: &str) -> Vec<ToolSpec> {
        self.bot
            .actions
            .enabled_in(workflow)
            .filter_map(|a| ToolSpec::from_openai(&a.tool()))
            .collect()
    }

    async fn call(&self, call: ActionCall<'_>) -> ActionOutcome {
        let site = CallSite {
            thread: Some(call.thread),
            run_id: Some(call.run_id),
            test: false,
        };
        let args = Value::Object(call.args.clone());
        let called = self
            .runner
            .call_in_workflow(&self.bot, call.workflow, call.name, args, site, None)
            .await;
        ActionOutcome {
            value: called.value,
            handed_off: called.handed_off,
        }
    }
}

/// A bot without actions.
pub struct NoActions;

#[async_trait]
impl Actions for NoActions {
    fn tools(&self, _workflow: &str) -> Vec<ToolSpec> {
        Vec::new()
    }
    async fn call(&self, call: ActionCall<'_>) -> ActionOutcome {
        ActionOutcome {
            value: json!({"error": format!("no action named `{}`", call.name)}),
            handed_off: false,
        }
    }
}

pub(super) struct Executor<'a> {
    pub actions: &'a dyn Actions,
    pub thread: &'a Thread,
    pub run_id: &'a str,
    pub workflow: Option<&'a str>,
}

#[async_trait]
impl ToolExecutor for Executor<'_> {
    async fn execute(&self, call: &ToolCall, args: &Map<String, Value>) -> ToolOutput {
        match call.name.as_str() {
            HAND_OFF => ToolOutput::json(&json!({"success": true, "message": "The conversation is being handed off to a human agent."})).ending(),
            CLOSE => ToolOutput::json(&json!({"success": true, "message": "The conversation is closed."})).ending(),
            name => match self.workflow {
                // Without a workflow no action is offered, so natter-llm refused already.
                None => ToolOutput::error(format!("no action named `{name}`")),
                Some(workflow) => {
                    let call = ActionCall { thread: self.thread, run_id: self.run_id, workflow, name, args };
                    let done = self.actions.call(call).await;
                    let output = ToolOutput::json(&done.value);
                    if done.handed_off { output.ending() } else { output }
                }
            },
        }
    }
}
