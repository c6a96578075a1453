//! Natter wire protocol v1: the types the widget and the server exchange, and SSE framing.
//!
//! docs/protocol.md is the normative description; this crate is its executable form.
//! It is shared by the server (native) and the widget (wasm32-unknown-unknown), so it holds
//! only serde types and pure functions: no I/O, no clocks, no async runtime.
//!
//! - [`types`]: request/response bodies, [`types::Message`], [`types::ContentItem`], errors.
//! - [`events`]: the per-thread event stream payloads ([`events::EventPayload`]).
//! - [`sse`]: an SSE encoder (server) and an incremental SSE parser (widget) that accepts
//!   arbitrary byte chunks, including UTF-8 sequences and CRLF pairs split across chunks.

pub mod events;
pub mod sse;
pub mod types;

pub use events::{Delta, EventEnvelope, EventPayload};
pub use types::*;

/// Protocol version served under `/v1`.
pub const VERSION: u32 = 1;
