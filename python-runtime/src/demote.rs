//! Runaway demotion: while a run lasts, every thread of its process tree that has used more
//! than [`DEMOTE_AFTER`] of CPU time during the call is moved to the `SCHED_IDLE` scheduling
//! class.
//!
//! Why: all sandboxed Python already runs at nice [`crate::PYTHON_NICE`], but a nice value
//! only shares the CPU in proportion: ten scripts spinning until their time limit still take
//! a large part of a small machine and delay the server's threads when they wake. A
//! `SCHED_IDLE` thread runs only on CPU time nobody else wants, and a waking normal thread
//! always preempts it, so the chat's latency is kept. Why not from the start: on a machine
//! busy with other work a `SCHED_IDLE` process may wait a long time for the CPU, and a
//! normal action (an API call and a little JSON, a few milliseconds of CPU) must still
//! finish in its time; only code that burns CPU is demoted.
//!
//! Invariants:
//! - only threads of the run's own tree (walked from its root process through
//!   `/proc/PID/task/TID/children`) are touched, and only while the run is driven (its root
//!   process alive, not reaped: its pid cannot name anyone else);
//! - the code cannot undo it: leaving `SCHED_IDLE` needs `RLIMIT_NICE` headroom (set to 0 in
//!   the sandbox) or `CAP_SYS_NICE` in the host's user namespace; threads and processes it
//!   starts afterwards inherit the class;
//! - the wall-clock limit is unchanged: a demoted run is killed at its limit like any other
//!   (SIGKILL needs no CPU share to be delivered; the exit is brief).

use std::collections::{HashMap, HashSet};
use std::time::Duration;

/// CPU time (user + system) a thread may use before it is demoted.
pub const DEMOTE_AFTER: Duration = Duration::from_millis(200);
/// How often a running run's tree is looked at.
pub const SWEEP_EVERY: Duration = Duration::from_millis(100);
/// Threads looked at per sweep, at most (RLIMIT_NPROC bounds a run's tree far below).
const MAX_TASKS: usize = 4096;

/// Demote the CPU-heavy threads of the tree under `root` every [`SWEEP_EVERY`], forever
/// (the caller drops the future when the run ends). CPU time is counted from the call: what
/// a pre-started process spent importing before its job arrived does not count. Counts
/// demotions in `demoted`.
pub async fn watch(root: libc::pid_t, demoted: &std::sync::atomic::AtomicUsize) {
    // SAFETY: sysconf has no preconditions.
    let ticks = unsafe { libc::sysconf(libc::_SC_CLK_TCK) }.max(1) as u64;
    let limit = (DEMOTE_AFTER.as_millis() as u64 * ticks / 1000).max(1);
    let mut before = HashMap::new();
    walk(root, |tid, cpu, _| {
        before.insert(tid, cpu);
    });
    loop {
        tokio::time::sleep(SWEEP_EVERY).await;
        let n = sweep(root, limit, &before);
        demoted.fetch_add(n, std::sync::atomic::Ordering::Relaxed);
    }
}

/// One pass over the tree: demotes each thread that used `limit_ticks` of CPU since `before`
/// (threads not in it: since they started); returns how many were demoted now.
pub fn sweep(root: libc::pid_t, limit_ticks: u64, before: &HashMap<libc::pid_t, u64>) -> usize {
    let mut demoted = 0;
    walk(root, |tid, cpu, policy| {
        let used = cpu.saturating_sub(before.get(&tid).copied().unwrap_or(0));
        if used >= limit_ticks && policy != libc::SCHED_IDLE as u64 && make_idle(tid) {
            demoted += 1;
        }
    });
    demoted
}

/// Calls `f(tid, cpu ticks, policy)` for every thread of the tree under `root`.
fn walk(root: libc::pid_t, mut f: impl FnMut(libc::pid_t, u64, u64)) {
    let mut stack = vec![root];
    let mut seen = HashSet::new();
    while let Some(pid) = stack.pop() {
        if !seen.insert(pid) || seen.len() > MAX_TASKS {
            continue;
        }
        let Ok(tasks) = std::fs::read_dir(format!("/proc/{pid}/task")) else {
            continue;
        };
        for task in tasks.flatten() {
            let Some(tid) = task.file_name().to_str().and_then(|t| t.parse().ok()) else {
                continue;
            };
            let base = format!("/proc/{pid}/task/{tid}");
            if let Some((cpu, policy)) = cpu_and_policy(&base) {
                f(tid, cpu, policy);
            }
            if let Ok(children) = std::fs::read_to_string(format!("{base}/children")) {
                stack.extend(
                    children
                        .split_whitespace()
                        .filter_map(|c| c.parse::<i32>().ok()),
                );
            }
        }
    }
}

/// (utime + stime in clock ticks, scheduling policy) of a thread, from its `stat`.
fn cpu_and_policy(task_dir: &str) -> Option<(u64, u64)> {
    let stat = std::fs::read_to_string(format!("{task_dir}/stat")).ok()?;
    // The command name (field 2) may hold spaces and parentheses: count from the last ')'.
    let rest = &stat[stat.rfind(')')? + 1..];
    let f: Vec<&str> = rest.split_whitespace().collect();
    // f[0] is field 3 (state): field n is f[n - 3].
    let utime: u64 = f.get(11)?.parse().ok()?;
    let stime: u64 = f.get(12)?.parse().ok()?;
    let policy: u64 = f.get(38)?.parse().ok()?;
    Some((utime + stime, policy))
}

fn make_idle(tid: libc::pid_t) -> bool {
    let param = libc::sched_param { sched_priority: 0 };
    // SAFETY: plain syscall with a valid pointer; a tid that is gone gives ESRCH.
    unsafe { libc::sched_setscheduler(tid, libc::SCHED_IDLE, &param) == 0 }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_spinning_child_is_demoted_and_an_idle_one_is_not() {
        let mut spin = std::process::Command::new("sh")
            .args(["-c", "while :; do :; done"])
            .spawn()
            .unwrap();
        let mut idle = std::process::Command::new("sleep")
            .arg("30")
            .spawn()
            .unwrap();
        let spin_pid = spin.id() as libc::pid_t;
        let idle_pid = idle.id() as libc::pid_t;
        // Bounded: a loaded machine may take a while to give the spinner 200 ms of CPU.
        let mut demoted = false;
        for _ in 0..300 {
            std::thread::sleep(Duration::from_millis(50));
            sweep(spin_pid, 20, &HashMap::new());
            if cpu_and_policy(&format!("/proc/{spin_pid}/task/{spin_pid}"))
                .is_some_and(|(_, p)| p == libc::SCHED_IDLE as u64)
            {
                demoted = true;
                break;
            }
        }
        sweep(idle_pid, 20, &HashMap::new());
        let idle_policy = cpu_and_policy(&format!("/proc/{idle_pid}/task/{idle_pid}"))
            .unwrap()
            .1;
        spin.kill().unwrap();
        idle.kill().unwrap();
        let _ = (spin.wait(), idle.wait());
        assert!(demoted, "the spinning process was not demoted");
        assert_eq!(
            idle_policy,
            libc::SCHED_OTHER as u64,
            "a sleeping process was demoted"
        );
    }
}
