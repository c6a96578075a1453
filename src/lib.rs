//! Natter chat widget: Rust compiled to WebAssembly.
//!
//! The crate is split in two on purpose:
//!
//! * a **pure core** with no `web-sys`/`js-sys` — [`events`] (the 17 event names), [`bus`]
//!   (listener registry: order, `once`, `*`, snapshot dispatch), [`dispatch`] (one dispatch
//!   after another per lane, async handlers, timeouts as state), [`view`] (launcher / main
//!   window / maximized state machine), [`options`], [`theme`], [`strings`] and [`thread`]
//!   (thread id persistence and the outbox the transport will drain). It builds and is tested
//!   natively with `cargo test -p natter`; [`alloc`] is the small allocator the wasm build uses;
//! * a **thin browser shell** (`web`, wasm32 only) that turns JS values into core values,
//!   renders the DOM in a shadow root, calls handlers and raises JS `TypeError`s.
//!
//! Invariant: nothing in the core panics on user input; every bad input is an error value that
//! the shell turns into a JS exception exactly once, at the boundary.

pub mod alloc;
pub mod bus;
pub mod dispatch;
pub mod events;
pub mod md;
pub mod options;
pub mod strings;
pub mod theme;
pub mod thread;
pub mod transport;
pub mod view;

#[cfg(target_arch = "wasm32")]
pub mod web;

#[cfg(target_arch = "wasm32")]
#[global_allocator]
static ALLOC: alloc::Natter = alloc::Natter::new();
