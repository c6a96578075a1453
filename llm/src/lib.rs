//! natter-llm: the core of Natter's LLM agent, independent of the server.
//!
//! - [`LlmConfig`]: the `[llm]` table of `bot.toml`, with [`LlmConfig::validate`] for
//!   `natter check`; the API key is read from the environment variable it names.
//! - [`ChatClient`]: streaming `/v1/chat/completions` (OpenAI, Azure-style, Ollama, vLLM,
//!   llama.cpp) behind the [`Model`] seam; an own incremental SSE parser ([`sse`]) and a chunk
//!   assembler ([`assemble`]) that reassembles split tool calls; typed [`ApiError`]s.
//! - [`TurnEngine`]: the turn loop — stream to a [`Sink`], validate tool calls against their
//!   schema ([`schema`]), run them through a [`ToolExecutor`], retry where safe, bounded by
//!   rounds and a deadline; [`TurnError`] otherwise.
//! - [`Batching`]: a sink wrapper coalescing token deltas (fewer stored events).
//! - [`context`]: token estimate and trimming to `context_tokens`.
//! - [`classify`]: `llm_classify_binary` / `llm_classify_category`.
//! - [`tools`]: the built-in `handOffConversation` and `closeConversation`.
//! - [`scripted::ScriptedModel`]: a [`Model`] for tests, no HTTP.
//!
//! See docs/llm.md.
//!
//! # Wiring it behind the server's `Agent`
//!
//! One [`ChatClient`] + [`TurnEngine`] per bot (built at load: `ChatClient::new(&cfg)` reads
//! the key). Per turn, the server:
//!
//! ```ignore
//! let history: Vec<ChatMessage> = /* thread messages → user/assistant ChatMessages (oldest
//!     first, ending with the new user message), plus the tool calls/results kept in the
//!     agent state from earlier turns (TurnOutcome::messages is serde) */;
//! let mut tools: Vec<ToolSpec> = workflow_actions.iter().map(|a| ToolSpec::from_openai(&a.tool()).unwrap()).collect();
//! tools.extend(builtin_tools());
//! let req = TurnRequest { history: &history, metadata: &visible_metadata, tools: &tools, instructions: Some(&wf.instructions) };
//! // Sink: begin() the message on the first delta, Reply::delta for each; wrap in Batching.
//! // Executor: run the named action (natter-actions / python runtime), `{"error": …}` on
//! //   failure; for HAND_OFF / CLOSE return `ToolOutput::json(..).ending()` and act after.
//! let res = tokio::select! {
//!     r = engine.run(req, &executor, &mut Batching::new(sink, Duration::from_millis(50), 200)) => r,
//!     _ = turn.cancel.cancelled() => /* shutdown */,
//! };
//! match res {
//!     Ok(o) => { /* complete(text); if let Some(e) = o.ended_by { hand_off / close with e.args["reason"] };
//!                  save o.messages in the state */ }
//!     Err(e) => { /* fallback message + run.failed with e.code() */ }
//! }
//! ```

pub mod assemble;
pub mod batch;
pub mod classify;
pub mod client;
pub mod config;
pub mod context;
pub mod engine;
pub mod retry;
pub mod schema;
pub mod scripted;
pub mod sse;
pub mod tools;
pub mod wire;

#[cfg(test)]
mod engine_tests;

pub use assemble::StreamEvent;
pub use batch::Batching;
pub use classify::{
    classify_binary, classify_binary_or, classify_category, classify_category_or, ClassifyError,
};
pub use client::{
    ApiError, ChatClient, ChatStream, ClientError, EventStream, Model, TimeoutKind, MAX_BODY,
};
pub use config::{ApiKey, ConfigError, LlmConfig};
pub use engine::{
    EndedBy, Sink, SinkError, ToolExecutor, ToolOutput, TurnEngine, TurnError, TurnNote,
    TurnOutcome, TurnRequest,
};
pub use tools::{builtin_tools, close_tool, hand_off_tool, CLOSE, HAND_OFF};
pub use wire::{ChatMessage, ChatRequest, FinishReason, Role, ToolCall, ToolSpec, Usage};
