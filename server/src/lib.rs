//! Natter server: the HTTP API of protocol v1 (docs/protocol.md), the store, the bot engine.
//!
//! Map of the crate:
//! - [`server`]: config, startup, the accept loop, graceful shutdown.
//! - [`http`]: routers (API, SSE, ops, static assets), errors, limits, CORS.
//! - [`store`]: the [`store::Store`] seam and its SQLite implementation.
//! - [`hub`]: live fan-out of committed events to event streams.
//! - [`runs`]: one [`engine::Agent`] turn per acknowledged user message.
//! - [`engine`]: the `Agent` seam and the scripted workflow engine.
//! - [`bots`]: `bots/<slug>/bot.toml` loading and validation.
//! - [`auth`]: per-bot JWT checks.
//! - [`actions`]: calling bot actions (workflow steps, Run Test, admin API); [`python_host`]:
//!   the Python helpers' host over the store (actions and event handlers).
//! - [`lifecycle`]: close / hand-off from every path, event handlers, inactivity timeout;
//!   [`outbox`]: the durable job queue they feed; [`crm`]: the CRM connector wired in.
//! - [`attachments`]: files in conversations (sniffing, limits, streamed storage, signed URLs).
//! - [`embedded`]: the pages, widget and demo bot carried in the binary.
//! - [`console`]: the web console at `/console/`, its sessions, and the admin API's access check.

/// mimalloc instead of glibc's malloc for the whole process (the binary, and the tests and
/// benches that link this crate, so they measure what ships). Measured with the load bench at
/// 1,000 users (bench/server/README.md): glibc's malloc/free and its arena locks were ≈ 10 % of
/// the tokio workers' and the store writer's samples; with mimalloc the CPU per turn fell by a
/// fifth and the turns/s rose by a third.
#[global_allocator]
static ALLOCATOR: mimalloc::MiMalloc = mimalloc::MiMalloc;

pub mod actions;
pub mod attachments;
pub mod auth;
pub mod bots;
pub mod console;
pub mod crm;
pub mod embedded;
pub mod engine;
pub mod http;
pub mod hub;
pub mod ids;
pub mod lifecycle;
pub mod metrics;
pub mod outbox;
pub mod python_host;
pub mod runs;
pub mod server;
pub mod store;
pub mod text;
pub mod time;
