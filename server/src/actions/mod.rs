//! Calling a bot's actions: the same path for a workflow `action` step, an LLM tool
//! call and a "Run Test" (CLI `natter action test`, admin API).
//!
//! - [`runner::ActionRunner`]: gates by workflow, runs API actions (natter-actions'
//!   `ActionClient`, one per bot with its `[network]` policy) and Python actions (the python
//!   runtime, started on first use, with [`crate::python_host::StoreHost`] as its host), logs
//!   every run in the store, and writes `action.started` / `action.completed` to the thread.
//! - [`context`]: the `context["conversation"]` built from the store.
//! - [`args`]: a step's `$variable` arguments → JSON arguments.
//! - [`admin`]: `/admin/v1/…` — list actions, run one, list runs (admin token).
//!
//! Invariants: what the bot (and so the visitor) gets is the action's result or a short
//! `{"error": …}`; causes, tracebacks and logs go only to the run log. Events carry names,
//! ids, status and duration — never arguments or results.

pub mod admin;
pub mod args;
pub mod cli;
pub mod context;
pub mod runner;

pub use runner::{ActionRunner, ActionsConfig, CallSite, RunTestError};
