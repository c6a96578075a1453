//! What a run gives back: the value for the bot and the run's log.
//!
//! Invariant: `value` is always a JSON value the bot can use; on any failure it is
//! `{"error": "..."}` with a short message that carries no traceback, path or exception
//! message (those can hold secrets such as URLs with keys). The details are in `error`,
//! `traceback`, `stdout`, `stderr` and `log`, which are for the bot owner.

use serde::Serialize;
use serde_json::Value;
use std::time::Duration;

/// How a run ended.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum RunStatus {
    /// The function returned a JSON value.
    Ok,
    /// The function (or the module's top level) raised.
    Exception,
    /// The script does not compile.
    SyntaxError,
    /// The script defines no `execute_action` / `handle_event`.
    MissingFunction,
    /// The script file could not be read.
    ScriptNotFound,
    /// The return value is not JSON-serializable, or larger than `max_message`.
    NotJson,
    /// The wall-clock limit was hit; the whole process tree was killed.
    Timeout,
    /// Python died without a result (killed by a signal, e.g. the memory limit, or exited).
    Crashed,
    /// The runtime could not run the code at all (bad request, interpreter, spawn).
    Internal,
}

/// The result of one run.
#[derive(Debug, Clone, Serialize)]
pub struct RunOutcome {
    pub status: RunStatus,
    /// For the bot: the return value, or `{"error": "..."}`.
    pub value: Value,
    /// For the run log: one line saying what went wrong.
    pub error: Option<String>,
    /// For the run log: the Python traceback, user frames only.
    pub traceback: Option<String>,
    /// What the code printed (bounded; a truncation note is appended when cut).
    pub stdout: String,
    /// What the code wrote to stderr (bounded likewise).
    pub stderr: String,
    /// The runtime's own notes: sandbox mode, warm or cold process, helper calls.
    pub log: Vec<String>,
    pub duration: Duration,
    /// `hand_off_conversation` handed off (or transferred a call) during this run.
    pub handed_off: bool,
}

impl RunOutcome {
    pub fn is_ok(&self) -> bool {
        self.status == RunStatus::Ok
    }
}
