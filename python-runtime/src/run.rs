//! Driving one job on one process: send it, answer helper calls until the result arrives,
//! enforce the wall-clock limit, then kill the process tree and collect the logs.
//!
//! Invariant: whatever happens (result, crash, timeout, protocol garbage), the worker's whole
//! process group is killed before the outcome is returned.

use crate::helpers::{dispatch, Effects, RunScope};
use crate::host::Host;
use crate::outcome::{RunOutcome, RunStatus};
use crate::process::RunProcess;
use crate::Error;
use serde_json::{json, Value};
use std::time::{Duration, Instant};

/// Helper calls one run may make; beyond, calls fail (a loop must not hammer the store).
pub const MAX_HELPER_CALLS: usize = 1000;
/// Helper calls named one by one in the run log; the rest are counted.
const LOGGED_HELPER_CALLS: usize = 100;

/// One job to run, with what the outcome needs besides the worker's answer.
pub struct Job<'a> {
    /// The `{"t": "job", ...}` message.
    pub message: Value,
    /// The call's limit (reported in the error).
    pub timeout: Duration,
    /// What is left of it when the job is sent.
    pub remaining: Duration,
    /// `execute_action` or `handle_event`.
    pub function: &'a str,
    /// The runtime's notes so far.
    pub log: Vec<String>,
    pub started: Instant,
}

/// What the job loop ended with.
enum Ended {
    Result(Value),
    Eof,
    Broken(String),
    TooLarge(usize),
}

/// Run `job` on `worker` within its time limit.
pub async fn run_job<P: RunProcess>(
    mut worker: P,
    job: Job<'_>,
    host: &dyn Host,
    scope: &RunScope,
) -> RunOutcome {
    let Job {
        message: job,
        timeout,
        remaining,
        function,
        mut log,
        started,
    } = job;
    let mut effects = Effects::default();
    let mut exit_note = None;
    let demoted = std::sync::atomic::AtomicUsize::new(0);
    let root = worker.pid();
    let ended = tokio::time::timeout(remaining, async {
        let demote = async {
            match root {
                Some(pid) => crate::demote::watch(pid, &demoted).await,
                None => std::future::pending().await,
            }
        };
        tokio::select! {
            e = drive(&mut worker, &job, host, scope, &mut effects, &mut log) => e,
            () = demote => unreachable!("the demotion watch never ends"),
        }
    })
    .await;
    let demoted = demoted.into_inner();
    if demoted > 0 {
        log.push(format!(
            "cpu: {demoted} thread(s) used more than {} ms of CPU: moved to SCHED_IDLE, and the run throttled (CPU-burning runs together get at most {} of one CPU)",
            crate::demote::DEMOTE_AFTER.as_millis(),
            crate::demote::HOG_BUDGET
        ));
    }

    let (stdout, stderr) = if matches!(ended, Ok(Ended::Result(_))) {
        // Everything printed was written before the result (stdout is unbuffered), so it is
        // in the pipes now: take it without waiting for EOF. The kill that makes sure nothing
        // the code started lingers runs in the background, off the caller's latency.
        let (stdout, stderr) = worker.take_output();
        let out = (
            match stdout {
                Some(c) => c.finish_now().await,
                None => String::new(),
            },
            match stderr {
                Some(c) => c.finish_now().await,
                None => String::new(),
            },
        );
        tokio::spawn(async move {
            worker.kill_and_reap().await;
        });
        out
    } else {
        let exit = match &ended {
            Ok(Ended::Eof) => worker.exit_reason(Duration::from_secs(2)).await,
            _ => None,
        };
        worker.kill_and_reap().await;
        let out = collect(&mut worker, Duration::from_millis(500)).await;
        exit_note = exit;
        out
    };
    let (status, value, error, traceback) = match ended {
        Err(_) => {
            let secs = timeout.as_secs_f64();
            (
                RunStatus::Timeout,
                None,
                format!("timed out after {secs} s; the process tree was killed"),
                None,
            )
        }
        Ok(Ended::TooLarge(n)) => (
            RunStatus::NotJson,
            None,
            format!("the result (or a helper call) is larger than {n} bytes"),
            None,
        ),
        Ok(Ended::Broken(why)) => (
            RunStatus::Crashed,
            None,
            format!("python worker broke the channel protocol: {why}"),
            None,
        ),
        Ok(Ended::Eof) => {
            let why =
                exit_note.unwrap_or_else(|| "python ended before returning a result".to_string());
            (RunStatus::Crashed, None, why, None)
        }
        Ok(Ended::Result(msg)) => {
            if msg["ok"] == true {
                (
                    RunStatus::Ok,
                    Some(msg.get("value").cloned().unwrap_or(Value::Null)),
                    String::new(),
                    None,
                )
            } else {
                let status = match msg["kind"].as_str().unwrap_or("") {
                    "syntax_error" => RunStatus::SyntaxError,
                    "missing_function" => RunStatus::MissingFunction,
                    "script_not_found" => RunStatus::ScriptNotFound,
                    "not_json" => RunStatus::NotJson,
                    _ => RunStatus::Exception,
                };
                let message = msg["message"].as_str().unwrap_or("failed").to_string();
                let tb = msg["traceback"].as_str().map(String::from);
                (status, None, message, tb)
            }
        }
    };
    let value = match value {
        Some(v) => v,
        None => json!({"error": bot_error(status, function, &error, timeout)}),
    };
    if status != RunStatus::Ok {
        log.push(format!("error: {error}"));
    }
    log.push(format!(
        "finished: {status:?} in {:.1} ms",
        started.elapsed().as_secs_f64() * 1e3
    ));
    RunOutcome {
        status,
        value,
        error: (status != RunStatus::Ok).then_some(error),
        traceback,
        stdout,
        stderr,
        log,
        duration: started.elapsed(),
        handed_off: effects.handed_off,
    }
}

/// The short message the bot sees: the kind of failure, never paths, tracebacks or exception
/// messages (which may hold URLs with keys); those are in the run log.
fn bot_error(status: RunStatus, function: &str, error: &str, timeout: Duration) -> String {
    let exc_type = error.split(':').next().unwrap_or("an exception");
    match status {
        RunStatus::Exception => format!("The Python code failed ({exc_type}); see the run log."),
        RunStatus::SyntaxError => "The Python code has a syntax error; see the run log.".into(),
        RunStatus::MissingFunction => {
            format!("The Python code does not define {function}(context).")
        }
        RunStatus::ScriptNotFound => "The Python code's file could not be read.".into(),
        RunStatus::NotJson => {
            "The Python code returned a value that is not JSON, or too large.".into()
        }
        RunStatus::Timeout => format!(
            "The Python code did not finish within {} s.",
            timeout.as_secs_f64()
        ),
        RunStatus::Crashed => {
            "The Python code was stopped before returning (a limit was hit); see the run log."
                .into()
        }
        RunStatus::Internal | RunStatus::Ok => {
            "The Python code could not be run; see the run log.".into()
        }
    }
}

async fn drive<P: RunProcess>(
    worker: &mut P,
    job: &Value,
    host: &dyn Host,
    scope: &RunScope,
    effects: &mut Effects,
    log: &mut Vec<String>,
) -> Ended {
    if let Err(e) = worker.channel().send(job).await {
        return Ended::Broken(format!("sending the job: {e}"));
    }
    let mut calls = 0usize;
    loop {
        let msg = match worker.channel().recv().await {
            Ok(Some(m)) => m,
            Ok(None) => return Ended::Eof,
            Err(Error::TooLarge(n)) => return Ended::TooLarge(n),
            Err(e) => return Ended::Broken(e.to_string()),
        };
        match msg["t"].as_str() {
            Some("result") => return Ended::Result(msg),
            Some("call") => {
                let id = msg["id"].clone();
                let func = msg["fn"].as_str().unwrap_or("").to_string();
                let empty = serde_json::Map::new();
                let args = msg["args"].as_object().unwrap_or(&empty);
                calls += 1;
                let result = if calls > MAX_HELPER_CALLS {
                    Err(Error::Host(format!(
                        "more than {MAX_HELPER_CALLS} helper calls in one run"
                    )))
                } else {
                    dispatch(host, scope, effects, &func, args).await
                };
                log.append(&mut effects.notes);
                if calls <= LOGGED_HELPER_CALLS {
                    match &result {
                        Ok(_) => log.push(format!("helper {func}: ok")),
                        Err(e) => log.push(format!("helper {func}: error: {e}")),
                    }
                } else if calls == LOGGED_HELPER_CALLS + 1 {
                    log.push(format!(
                        "helper calls after the first {LOGGED_HELPER_CALLS} are not logged"
                    ));
                }
                let reply = match result {
                    Ok(value) => json!({"t": "reply", "id": id, "ok": true, "value": value}),
                    Err(e) => {
                        let kind = match e {
                            Error::InvalidArgument(_) => "invalid_argument",
                            _ => "failed",
                        };
                        json!({"t": "reply", "id": id, "ok": false, "kind": kind, "error": e.to_string()})
                    }
                };
                if let Err(e) = worker.channel().send(&reply).await {
                    return Ended::Broken(format!("replying to a helper call: {e}"));
                }
            }
            _ => {
                return Ended::Broken(format!(
                    "unexpected message {}",
                    truncate(&msg.to_string(), 200)
                ))
            }
        }
    }
}

/// The captured stdout and stderr, waiting at most `wait` for each to end.
async fn collect<P: RunProcess>(worker: &mut P, wait: Duration) -> (String, String) {
    let (stdout, stderr) = worker.take_output();
    let out = match stdout {
        Some(c) => c.finish(wait).await,
        None => String::new(),
    };
    let err = match stderr {
        Some(c) => c.finish(wait).await,
        None => String::new(),
    };
    (out, err)
}

fn truncate(s: &str, n: usize) -> String {
    s.chars().take(n).collect()
}
