//! The turn loop: one user message in, the model's answer (and its tool calls) out.
//!
//! A turn is a sequence of rounds. Each round streams one model answer: content deltas go to
//! the [`Sink`] as they arrive; tool calls are collected. If the answer called tools, each call
//! is checked — a tool that was not offered is refused, arguments are validated against the
//! tool's schema — and only then handed to the [`ToolExecutor`]; the results are appended and
//! the next round starts. A round without tool calls ends the turn with its text.
//!
//! Invariants:
//! - A tool that was not offered, or a call whose arguments fail the schema, never reaches the
//!   executor; the model gets an error result instead, and such calls are counted
//!   (`max_invalid_tool_calls`).
//! - A model call is retried (capped backoff, `Retry-After` honoured) only if it failed before
//!   any of its content was forwarded; after that a retry would show the user a second,
//!   different beginning, so the turn fails with [`TurnError::Interrupted`].
//! - At most `max_tool_rounds` rounds may call tools; the whole turn — every round, backoff and
//!   tool call — is bounded by `turn_timeout`. A turn never hangs.
//! - Every assistant message with tool calls in [`TurnOutcome::messages`] is followed by one
//!   result per call, so the history stays valid for the next turn.

use std::collections::HashSet;
use std::sync::Arc;
use std::time::Duration;

use async_trait::async_trait;
use serde_json::{json, Map, Value};
use tokio::time::Instant;

use crate::assemble::StreamEvent;
use crate::client::{ApiError, Model};
use crate::config::LlmConfig;
use crate::context;
use crate::retry::RetryPolicy;
use crate::schema;
use crate::wire::{ChatMessage, ChatRequest, FinishReason, ToolCall, ToolSpec, Usage};

/// What a tool returns to the model.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ToolOutput {
    /// Text the model reads (usually JSON).
    pub content: String,
    /// End the turn after this round without asking the model again (e.g. after a hand-off:
    /// the bot stops replying).
    pub end_turn: bool,
}

impl ToolOutput {
    pub fn json(v: &Value) -> ToolOutput {
        ToolOutput {
            content: v.to_string(),
            end_turn: false,
        }
    }
    pub fn text(s: impl Into<String>) -> ToolOutput {
        ToolOutput {
            content: s.into(),
            end_turn: false,
        }
    }
    /// `{"error": msg}`, the shape actions use for failures the model can relay.
    pub fn error(msg: impl std::fmt::Display) -> ToolOutput {
        ToolOutput::json(&json!({ "error": msg.to_string() }))
    }
    pub fn ending(mut self) -> ToolOutput {
        self.end_turn = true;
        self
    }
}

/// Runs tool calls that were offered and whose arguments passed the schema. A failure of the
/// tool itself is an output (`ToolOutput::error`) for the model to read, not a turn error.
#[async_trait]
pub trait ToolExecutor: Send + Sync {
    async fn execute(&self, call: &ToolCall, args: &Map<String, Value>) -> ToolOutput;
}

/// The sink refused a delta (store failure, run cancelled); the turn stops.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("the reply sink failed: {0}")]
pub struct SinkError(pub String);

/// Something worth a line in the run's log.
#[derive(Debug, Clone, PartialEq)]
pub enum TurnNote<'a> {
    /// History left out to fit `context_tokens`.
    Trimmed {
        dropped: usize,
        estimated_tokens: usize,
    },
    Retrying {
        retry: u32,
        delay: Duration,
        error: &'a ApiError,
    },
    ToolCalled {
        call: &'a ToolCall,
        output: &'a ToolOutput,
    },
    ToolRefused {
        call: &'a ToolCall,
        reason: &'a str,
    },
}

/// Where the answer goes while it streams.
#[async_trait]
pub trait Sink: Send {
    async fn delta(&mut self, text: &str) -> Result<(), SinkError>;
    /// End of one model answer (before its tool calls run): pass on anything held back.
    async fn flush(&mut self) -> Result<(), SinkError> {
        Ok(())
    }
    fn note(&mut self, _note: TurnNote<'_>) {}
}

/// One turn's input.
#[derive(Debug, Clone, Copy)]
pub struct TurnRequest<'a> {
    /// Earlier messages, oldest first, ending with the user's new message. System messages in
    /// it are ignored (the engine builds the one system message).
    pub history: &'a [ChatMessage],
    /// Conversation metadata the bot owner marked visible to the model.
    pub metadata: &'a [(String, Value)],
    /// The tools the model may call: the active workflow's actions, plus the built-ins.
    pub tools: &'a [ToolSpec],
    /// The active workflow's instructions; `None`: the config's `instructions`.
    pub instructions: Option<&'a str>,
}

#[derive(Debug, Clone, PartialEq)]
pub struct TurnOutcome {
    /// Everything the model said to the user in this turn (all rounds), as forwarded.
    pub text: String,
    /// What this turn adds to the history: assistant messages (with tool calls), tool results.
    pub messages: Vec<ChatMessage>,
    pub rounds: u32,
    /// Calls that ran.
    pub tool_calls: u32,
    /// Calls refused or rejected by validation.
    pub invalid_tool_calls: u32,
    pub retries: u32,
    pub usage: Usage,
    /// The last round's finish reason (`Length` means the answer was cut by `max_tokens`).
    pub finish: FinishReason,
    /// The call whose output ended the turn (e.g. `handOffConversation` and its `reason`).
    pub ended_by: Option<EndedBy>,
    /// History messages left out of the prompt.
    pub dropped_messages: usize,
}

/// The tool call that ended a turn, with its validated arguments.
#[derive(Debug, Clone, PartialEq)]
pub struct EndedBy {
    pub tool: String,
    pub args: Map<String, Value>,
}

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum TurnError {
    #[error("the model call failed after {attempts} attempt(s): {error}")]
    Model { error: ApiError, attempts: u32 },
    #[error("the model's answer broke off after it had started: {0}")]
    Interrupted(ApiError),
    #[error("the model still called tools after {0} tool rounds")]
    RoundCap(u32),
    #[error("the model made {0} refused or invalid tool calls")]
    TooManyInvalidToolCalls(u32),
    #[error("the model gave an empty answer")]
    EmptyAnswer,
    #[error("the turn took longer than {0:?}")]
    Deadline(Duration),
    #[error(transparent)]
    Sink(#[from] SinkError),
}

impl TurnError {
    /// A stable code for `run.failed` and metrics.
    pub fn code(&self) -> &'static str {
        match self {
            TurnError::Model { .. } => "llm_unavailable",
            TurnError::Interrupted(_) => "llm_interrupted",
            TurnError::RoundCap(_) => "llm_tool_round_cap",
            TurnError::TooManyInvalidToolCalls(_) => "llm_invalid_tool_calls",
            TurnError::EmptyAnswer => "llm_empty_answer",
            TurnError::Deadline(_) => "llm_turn_timeout",
            TurnError::Sink(_) => "reply_failed",
        }
    }
}

/// One per bot: the model and the config. Cheap to share (`Arc`s inside).
#[derive(Clone)]
pub struct TurnEngine {
    model: Arc<dyn Model>,
    cfg: Arc<LlmConfig>,
}

enum RoundError {
    Api(ApiError),
    Sink(SinkError),
}

impl From<ApiError> for RoundError {
    fn from(e: ApiError) -> Self {
        RoundError::Api(e)
    }
}

struct Round {
    content: String,
    calls: Vec<ToolCall>,
    finish: FinishReason,
}

impl TurnEngine {
    pub fn new(model: Arc<dyn Model>, cfg: Arc<LlmConfig>) -> TurnEngine {
        TurnEngine { model, cfg }
    }

    pub fn config(&self) -> &LlmConfig {
        &self.cfg
    }

    pub fn model(&self) -> &Arc<dyn Model> {
        &self.model
    }

    /// Runs one turn within `turn_timeout`.
    pub async fn run(
        &self,
        req: TurnRequest<'_>,
        exec: &dyn ToolExecutor,
        sink: &mut dyn Sink,
    ) -> Result<TurnOutcome, TurnError> {
        let deadline = Instant::now() + self.cfg.turn_timeout;
        match tokio::time::timeout_at(deadline, self.run_inner(req, exec, sink, deadline)).await {
            Ok(r) => r,
            Err(_) => Err(TurnError::Deadline(self.cfg.turn_timeout)),
        }
    }

    async fn run_inner(
        &self,
        req: TurnRequest<'_>,
        exec: &dyn ToolExecutor,
        sink: &mut dyn Sink,
        deadline: Instant,
    ) -> Result<TurnOutcome, TurnError> {
        let cfg = &*self.cfg;
        let instructions = req.instructions.unwrap_or(&cfg.instructions);
        let ctx = context::build(
            instructions,
            req.metadata,
            req.history,
            context::estimate_tools(req.tools),
            cfg.context_tokens,
        );
        if ctx.dropped > 0 {
            sink.note(TurnNote::Trimmed {
                dropped: ctx.dropped,
                estimated_tokens: ctx.estimated_tokens,
            });
        }
        let mut chat = ChatRequest {
            model: cfg.model.clone(),
            messages: ctx.messages,
            tools: req.tools.iter().map(ToolSpec::to_openai).collect(),
            temperature: cfg.temperature,
            max_tokens: cfg.max_tokens,
        };
        let base = chat.messages.len();
        let mut out = TurnOutcome {
            text: String::new(),
            messages: Vec::new(),
            rounds: 0,
            tool_calls: 0,
            invalid_tool_calls: 0,
            retries: 0,
            usage: Usage::default(),
            finish: FinishReason::Stop,
            ended_by: None,
            dropped_messages: ctx.dropped,
        };
        let mut tool_rounds = 0u32;
        let mut seen_ids = HashSet::new();
        loop {
            out.rounds += 1;
            // Text of a later round starts a new paragraph, not glued to the earlier text.
            let sep = !out.text.is_empty() && !out.text.ends_with(char::is_whitespace);
            let round = self
                .round_with_retries(&chat, sink, &mut out, deadline, sep)
                .await?;
            out.text.push_str(&round.content);
            out.finish = round.finish;
            if round.calls.is_empty() {
                if out.text.trim().is_empty() {
                    return Err(TurnError::EmptyAnswer);
                }
                chat.messages.push(ChatMessage::assistant(round.content));
                break;
            }
            tool_rounds += 1;
            if tool_rounds > cfg.max_tool_rounds {
                return Err(TurnError::RoundCap(cfg.max_tool_rounds));
            }
            let calls = unique_ids(round.calls, out.rounds, &mut seen_ids);
            let text = (!round.content.is_empty()).then_some(round.content);
            chat.messages
                .push(ChatMessage::tool_calls(text, calls.clone()));
            for call in &calls {
                let output = if out.ended_by.is_some() {
                    ToolOutput::error("not run: the conversation was ended by an earlier call")
                } else {
                    let (output, args) =
                        self.one_call(call, req.tools, exec, sink, &mut out).await?;
                    if let (true, Some(args)) = (output.end_turn, args) {
                        out.ended_by = Some(EndedBy {
                            tool: call.name.clone(),
                            args,
                        });
                    }
                    output
                };
                chat.messages.push(ChatMessage::tool_result(
                    &call.id,
                    cut(output.content, cfg.max_tool_output_chars),
                ));
            }
            if out.ended_by.is_some() {
                break;
            }
        }
        out.messages = chat.messages.split_off(base);
        Ok(out)
    }

    /// Checks one call and runs it if it passes (then with its arguments).
    async fn one_call(
        &self,
        call: &ToolCall,
        tools: &[ToolSpec],
        exec: &dyn ToolExecutor,
        sink: &mut dyn Sink,
        out: &mut TurnOutcome,
    ) -> Result<(ToolOutput, Option<Map<String, Value>>), TurnError> {
        let checked = match tools.iter().find(|t| t.name == call.name) {
            None => Err(format!("there is no tool named `{}`; call only the tools you were given", call.name)),
            Some(spec) => schema::parse_and_validate(&spec.parameters, &call.arguments).map_err(|e| {
                format!("invalid arguments for `{}`: {e}. Nothing was run; call it again with corrected arguments", call.name)
            }),
        };
        match checked {
            Ok(args) => {
                out.tool_calls += 1;
                let output = exec.execute(call, &args).await;
                sink.note(TurnNote::ToolCalled {
                    call,
                    output: &output,
                });
                Ok((output, Some(args)))
            }
            Err(reason) => {
                out.invalid_tool_calls += 1;
                sink.note(TurnNote::ToolRefused {
                    call,
                    reason: &reason,
                });
                if out.invalid_tool_calls > self.cfg.max_invalid_tool_calls {
                    return Err(TurnError::TooManyInvalidToolCalls(out.invalid_tool_calls));
                }
                Ok((ToolOutput::error(reason), None))
            }
        }
    }

    async fn round_with_retries(
        &self,
        chat: &ChatRequest,
        sink: &mut dyn Sink,
        out: &mut TurnOutcome,
        deadline: Instant,
        sep: bool,
    ) -> Result<Round, TurnError> {
        let policy = RetryPolicy::from_config(&self.cfg);
        let mut retry = 0;
        loop {
            let mut forwarded = false;
            let err = match self
                .round(chat, sink, &mut out.usage, &mut forwarded, sep)
                .await
            {
                Ok(r) => return Ok(r),
                Err(RoundError::Sink(e)) => return Err(TurnError::Sink(e)),
                Err(RoundError::Api(e)) => e,
            };
            if forwarded {
                return Err(TurnError::Interrupted(err));
            }
            retry += 1;
            match policy.delay(retry, &err) {
                Some(d) if Instant::now() + d < deadline => {
                    sink.note(TurnNote::Retrying {
                        retry,
                        delay: d,
                        error: &err,
                    });
                    out.retries += 1;
                    tokio::time::sleep(d).await;
                }
                _ => {
                    return Err(TurnError::Model {
                        error: err,
                        attempts: retry,
                    })
                }
            }
        }
    }

    async fn round(
        &self,
        chat: &ChatRequest,
        sink: &mut dyn Sink,
        usage: &mut Usage,
        forwarded: &mut bool,
        sep: bool,
    ) -> Result<Round, RoundError> {
        let mut stream = self.model.start(chat).await?;
        let mut round = Round {
            content: String::new(),
            calls: Vec::new(),
            finish: FinishReason::Stop,
        };
        let mut finished = false;
        while let Some(ev) = stream.next_event().await {
            match ev? {
                StreamEvent::Content(mut t) => {
                    if sep && round.content.is_empty() {
                        t.insert_str(0, "\n\n");
                    }
                    sink.delta(&t).await.map_err(RoundError::Sink)?;
                    *forwarded = true;
                    round.content.push_str(&t);
                }
                StreamEvent::ToolCall(c) => round.calls.push(c),
                StreamEvent::Finish(f) => {
                    round.finish = f;
                    finished = true;
                }
                StreamEvent::Usage(u) => usage.add(u),
            }
        }
        if !finished {
            return Err(RoundError::Api(ApiError::Truncated));
        }
        sink.flush().await.map_err(RoundError::Sink)?;
        Ok(round)
    }
}

/// Tool call ids must be unique within the turn (results are matched by id); a model that
/// repeats or omits them gets ids made unique here.
fn unique_ids(mut calls: Vec<ToolCall>, round: u32, seen: &mut HashSet<String>) -> Vec<ToolCall> {
    for (i, c) in calls.iter_mut().enumerate() {
        if c.id.is_empty() || !seen.insert(c.id.clone()) {
            c.id = format!("call_r{round}_{i}");
            seen.insert(c.id.clone());
        }
    }
    calls
}

/// Cuts a tool's output to `max` characters, saying so (the model should know it is partial).
fn cut(s: String, max: usize) -> String {
    match s.char_indices().nth(max) {
        None => s,
        Some((at, _)) => format!("{}…[truncated]", &s[..at]),
    }
}
