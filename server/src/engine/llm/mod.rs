//! The LLM agent: an OpenAI-compatible model answers each turn, behind the same [`Agent`]
//! seam as the scripted engine (`agent = "llm"` in `bot.toml`, docs/llm.md).
//!
//! A turn: pick the active workflow (a workflow whose trigger matches the message, else the
//! one active before, else `[llm] workflow`, else the first); build the prompt from the
//! bot's and the workflow's instructions, the visible metadata and the conversation's stored
//! messages (trimmed to the token budget by natter-llm); offer the workflow's enabled actions
//! plus `handOffConversation` / `closeConversation` as tools; run natter-llm's
//! [`TurnEngine`], streaming tokens as `message.delta` through the [`Reply`].
//!
//! Invariants:
//! - Only the tools offered for the active workflow can run: natter-llm refuses other names
//!   before the executor, and the executor asks the [`Actions`] seam, which gates again by
//!   workflow.
//! - Every turn ends: natter-llm bounds it by `turn_timeout`; a failed turn says the bot's
//!   fallback message and returns [`AgentError::Coded`] (→ `run.failed` with natter-llm's
//!   code), so the typing indicator always ends.
//! - Text the user saw stays in the history as they saw it: a reply that breaks off is stored
//!   as far as it streamed, and the fallback follows as its own message.
//! - Errors are logged by the run with their cause; clients only see the code.

mod classify;
mod history;
mod images;
mod sink;
mod tools;

use std::sync::Arc;

use async_trait::async_trait;
use natter_llm::{
    builtin_tools, Batching, ChatClient, Model, ToolSpec, TurnEngine, TurnError, TurnRequest,
    CLOSE, HAND_OFF,
};
use natter_protocol::{ContentItem, FeedbackOptions, MessageOptions};
use serde::{Deserialize, Serialize};
use serde_json::Value;

use super::{Agent, AgentError, Reply, Turn};
use crate::bots::{Bot, LlmBot, Workflow};
use crate::store::{Store, Thread};
use crate::text::{contains_words, strip_accents, words};

pub use classify::LlmModels;
pub use history::ToolMemory;
pub use tools::{ActionCall, ActionOutcome, Actions, NoActions, RunnerActions};

/// Tool memories kept per thread (older ones are forgotten; the token budget trims further).
const MAX_TOOL_MEMORIES: usize = 20;
/// Deltas are coalesced over this long (the first passes at once): one commit per ~50 ms of
/// tokens instead of one per token, invisible at reading speed.
const BATCH_INTERVAL: std::time::Duration = std::time::Duration::from_millis(50);
const BATCH_MAX_CHARS: usize = 200;

#[derive(Debug, thiserror::Error)]
pub enum LlmAgentError {
    #[error("bot `{0}` has no [llm] table")]
    NotLlm(String),
    #[error(transparent)]
    Client(#[from] natter_llm::ClientError),
}

pub struct LlmAgent {
    bot: Arc<Bot>,
    engine: TurnEngine,
    store: Arc<dyn Store>,
    actions: Arc<dyn Actions>,
}

/// What the agent keeps between turns (the run's saved state).
#[derive(Debug, Default, Serialize, Deserialize)]
struct State {
    /// The active workflow.
    #[serde(default)]
    workflow: Option<String>,
    /// Tool calls and results of earlier turns, so the model remembers what actions returned.
    #[serde(default)]
    tools: Vec<ToolMemory>,
}

impl LlmAgent {
    /// The bot's agent over an HTTP [`ChatClient`] for its `[llm]` table.
    pub fn new(
        bot: Arc<Bot>,
        store: Arc<dyn Store>,
        actions: Arc<dyn Actions>,
    ) -> Result<LlmAgent, LlmAgentError> {
        let llm = bot
            .llm
            .as_ref()
            .ok_or_else(|| LlmAgentError::NotLlm(bot.slug.clone()))?;
        let client = ChatClient::with_key(&llm.config, llm.api_key.clone())?.guarded(
            &llm.config,
            &natter_actions::Guard::new(bot.network.clone()),
        )?;
        Self::with_model(bot, store, actions, Arc::new(client))
    }

    /// With any [`Model`] (tests).
    pub fn with_model(
        bot: Arc<Bot>,
        store: Arc<dyn Store>,
        actions: Arc<dyn Actions>,
        model: Arc<dyn Model>,
    ) -> Result<LlmAgent, LlmAgentError> {
        let llm = bot
            .llm
            .as_ref()
            .ok_or_else(|| LlmAgentError::NotLlm(bot.slug.clone()))?;
        let engine = TurnEngine::new(model, llm.config.clone());
        Ok(LlmAgent {
            bot,
            engine,
            store,
            actions,
        })
    }

    /// The bot's model and config, for `llm_classify_*` (same client, same limits).
    pub fn engine(&self) -> &TurnEngine {
        &self.engine
    }

    fn llm(&self) -> &LlmBot {
        self.bot.llm.as_ref().expect("checked in new")
    }

    /// A workflow whose trigger matches `input`, else the one active before, else the default.
    fn workflow(&self, input: &str, before: Option<&str>) -> Option<&Workflow> {
        let wfs = &self.bot.workflows;
        let ws = words(input);
        let stripped = strip_accents(input);
        let triggered = wfs.iter().find(|w| {
            w.triggers.keywords.iter().any(|k| contains_words(&ws, k))
                || w.triggers.regex.iter().any(|r| r.is_match(&stripped))
        });
        let by_name = |n: &str| wfs.iter().find(|w| w.name == n);
        triggered
            .or_else(|| before.and_then(by_name))
            .or_else(|| self.llm().default_workflow.as_deref().and_then(by_name))
            .or_else(|| wfs.first())
    }

    fn instructions(&self, wf: Option<&Workflow>) -> String {
        let base = self.llm().config.instructions.trim();
        match wf.and_then(|w| w.instructions.as_deref()).map(str::trim) {
            Some(w) if !w.is_empty() && !base.is_empty() => format!("{base}\n\n{w}"),
            Some(w) if !w.is_empty() => w.to_string(),
            _ => base.to_string(),
        }
    }

    fn visible_metadata(&self, thread: &Thread) -> Vec<(String, Value)> {
        self.llm()
            .visible_metadata
            .iter()
            .filter_map(|k| thread.metadata.get(k).map(|v| (k.clone(), v.clone())))
            .collect()
    }

    fn options(&self) -> MessageOptions {
        let fb = &self.bot.feedback;
        MessageOptions {
            feedback: fb.all_messages.then(|| FeedbackOptions {
                enabled: true,
                positive_categories: fb.positive.clone(),
                negative_categories: fb.negative.clone(),
            }),
        }
    }
}

#[async_trait]
impl Agent for LlmAgent {
    fn greeting(&self, _thread: &Thread) -> Option<(Vec<ContentItem>, MessageOptions)> {
        let g = self.bot.greeting.as_ref()?;
        Some((
            vec![ContentItem::text("c0", g.clone())],
            MessageOptions::default(),
        ))
    }

    async fn turn(&self, turn: Turn<'_>, out: &mut dyn Reply) -> Result<Value, AgentError> {
        let mut st: State = serde_json::from_value(turn.state).unwrap_or_default();
        let wf = self.workflow(turn.input, st.workflow.as_deref());
        st.workflow = wf.map(|w| w.name.clone());
        let mut offered: Vec<ToolSpec> =
            wf.map(|w| self.actions.tools(&w.name)).unwrap_or_default();
        offered.retain(|t| t.name != HAND_OFF && t.name != CLOSE);
        offered.extend(builtin_tools());
        let instructions = self.instructions(wf);
        let metadata = self.visible_metadata(turn.thread);
        let (messages, _) = self
            .store
            .history(&turn.thread.id)
            .await
            .map_err(super::ReplyError::from)?;
        let images = if self.llm().accepts_images {
            images::for_turn(&self.store, &messages, turn.run_id).await
        } else {
            Default::default()
        };
        let chat = history::to_chat(&messages, &st.tools, turn.run_id, &images);
        let req = TurnRequest {
            history: &chat,
            metadata: &metadata,
            tools: &offered,
            instructions: Some(&instructions),
        };
        let exec = tools::Executor {
            actions: &*self.actions,
            thread: turn.thread,
            run_id: turn.run_id,
            workflow: st.workflow.as_deref(),
        };
        let mut batched = Batching::new(sink::ReplySink::new(out), BATCH_INTERVAL, BATCH_MAX_CHARS);
        let result = self.engine.run(req, &exec, &mut batched).await;
        // Text still held back after an error was never shown; it is not stored either.
        let (mut sink, _held) = batched.into_inner();
        match result {
            Ok(outcome) => {
                let message_id = sink.complete(self.options()).await?;
                if let Some(id) = message_id {
                    history::remember(&mut st.tools, id, &outcome.messages, MAX_TOOL_MEMORIES);
                }
                let out = sink.into_inner();
                if let Some(ended) = outcome.ended_by {
                    let reason = ended
                        .args
                        .get("reason")
                        .and_then(Value::as_str)
                        .map(str::to_string);
                    match ended.tool.as_str() {
                        HAND_OFF => {
                            out.hand_off(reason).await?;
                        }
                        CLOSE => {
                            out.close(reason).await?;
                        }
                        _ => {}
                    }
                }
                serde_json::to_value(st).map_err(|e| AgentError::Failed(e.to_string()))
            }
            Err(TurnError::Sink(e)) => Err(sink
                .take_error()
                .map(AgentError::Reply)
                .unwrap_or(AgentError::Failed(e.to_string()))),
            Err(e) => {
                sink.fail(&self.bot.fallback, self.options()).await?;
                Err(AgentError::Coded {
                    code: e.code(),
                    message: e.to_string(),
                })
            }
        }
    }
}
