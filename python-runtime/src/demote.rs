//! Runaway demotion: while a run lasts, every thread of its process tree that has used more
//! than [`DEMOTE_AFTER`] of CPU time during the call is moved to the `SCHED_IDLE` scheduling
//! class, and the run is then throttled: all such runs together get at most [`HOG_BUDGET`]
//! of one CPU, by stopping their processes (SIGSTOP) for the rest of each [`PERIOD`].
//!
//! Why: all sandboxed Python already runs at nice [`crate::PYTHON_NICE`], but a nice value
//! only shares the CPU in proportion: ten scripts spinning until their time limit still take
//! most of a small machine. `SCHED_IDLE` makes a waking server thread preempt them at once,
//! yet measured on a 2-core VM it still left them ~1.4 of the 2 CPUs while the chat ran (the
//! chat's turn latency x6); only not running at all keeps the server's share, so they are
//! also stopped most of the time (a cgroup-free CPU cap: it needs no cgroup delegation).
//! Why not from the start: on a machine busy with other work, a normal action (an API call
//! and a little JSON, a few milliseconds of CPU) must still finish in its time; only code
//! that burns CPU is demoted.
//!
//! Invariants:
//! - only processes of the run's own tree (walked from its root process through
//!   `/proc/PID/task/TID/children`) are touched, and only while the run is driven (its root
//!   process alive, not reaped: its pid cannot name anyone else); stopped processes are
//!   continued before the watch ends (the run's end then kills them as usual);
//! - the code cannot undo it: leaving `SCHED_IDLE` needs `RLIMIT_NICE` headroom (set to 0 in
//!   the sandbox) or `CAP_SYS_NICE` in the host's user namespace, SIGSTOP cannot be caught,
//!   and threads and processes it starts afterwards inherit the class (and are stopped with
//!   the rest);
//! - the wall-clock limit is unchanged: a throttled run is killed at its limit like any other
//!   (SIGKILL also ends a stopped process).

use std::collections::{HashMap, HashSet};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::Duration;

/// CPU time (user + system) a thread may use before it is demoted.
pub const DEMOTE_AFTER: Duration = Duration::from_millis(200);
/// How often a running run's tree is looked at.
pub const SWEEP_EVERY: Duration = Duration::from_millis(100);
/// Threads looked at per sweep, at most (RLIMIT_NPROC bounds a run's tree far below).
const MAX_TASKS: usize = 4096;

/// Demoted runs' share of the CPU, all of them together: a quarter of one CPU.
pub const HOG_BUDGET: f64 = 0.25;
/// The throttling period of a demoted run: it may run `on` of it, then it is stopped.
pub const PERIOD: Duration = Duration::from_millis(100);
/// The shortest `on` time (timer granularity).
const MIN_ON: Duration = Duration::from_millis(2);

/// Runs throttled right now, in this process (their share of [`HOG_BUDGET`] shrinks as
/// more are).
static HOGS: AtomicUsize = AtomicUsize::new(0);

/// A throttled run: counted in [`HOGS`] while it lives; the processes it stopped are
/// continued when it drops (the run ended or was cut off while they were stopped, and is
/// about to kill them).
struct Hog {
    stopped: Vec<libc::pid_t>,
}

impl Hog {
    fn new() -> Hog {
        HOGS.fetch_add(1, Ordering::Relaxed);
        Hog {
            stopped: Vec::new(),
        }
    }

    fn resume(&mut self) {
        for pid in self.stopped.drain(..) {
            // SAFETY: plain syscall; these processes are stopped (not reaped): their pids
            // are still theirs.
            unsafe { libc::kill(pid, libc::SIGCONT) };
        }
    }
}

impl Drop for Hog {
    fn drop(&mut self) {
        self.resume();
        HOGS.fetch_sub(1, Ordering::Relaxed);
    }
}

/// How long a throttled run may run per [`PERIOD`] now.
fn on_time() -> Duration {
    let hogs = HOGS.load(Ordering::Relaxed).max(1) as f64;
    PERIOD.mul_f64((HOG_BUDGET / hogs).min(1.0)).max(MIN_ON)
}

/// Watch the tree under `root` until the caller drops the future (the run ended): every
/// [`SWEEP_EVERY`], threads that used [`DEMOTE_AFTER`] of CPU since the call began move to
/// SCHED_IDLE (what a pre-started process spent importing before its job arrived does not
/// count); from the first one on, the run is throttled: per [`PERIOD`] it runs its share of
/// [`HOG_BUDGET`], and its processes holding demoted threads are stopped (SIGSTOP) for the
/// rest. Counts demotions in `demoted`.
pub async fn watch(root: libc::pid_t, demoted: &AtomicUsize) {
    // SAFETY: sysconf has no preconditions.
    let ticks = unsafe { libc::sysconf(libc::_SC_CLK_TCK) }.max(1) as u64;
    let limit = (DEMOTE_AFTER.as_millis() as u64 * ticks / 1000).max(1);
    let mut before = HashMap::new();
    walk(root, |_, tid, cpu, _| {
        before.insert(tid, cpu);
    });
    let mut hog: Option<Hog> = None;
    loop {
        let on = if hog.is_some() {
            on_time()
        } else {
            SWEEP_EVERY
        };
        tokio::time::sleep(on).await;
        let (n, idle) = sweep(root, limit, &before);
        demoted.fetch_add(n, Ordering::Relaxed);
        if idle.is_empty() {
            continue;
        }
        let h = hog.get_or_insert_with(Hog::new);
        for pid in idle {
            // SAFETY: plain syscall on a process of the run's tree (found just now, its root
            // alive and unreaped); the code cannot catch or ignore SIGSTOP.
            if unsafe { libc::kill(pid, libc::SIGSTOP) } == 0 {
                h.stopped.push(pid);
            }
        }
        tokio::time::sleep(PERIOD.saturating_sub(on)).await;
        h.resume();
    }
}

/// One pass over the tree: demotes each thread that used `limit_ticks` of CPU since `before`
/// (threads not in it: since they started). Returns how many were demoted now, and the
/// processes that hold a SCHED_IDLE thread.
pub fn sweep(
    root: libc::pid_t,
    limit_ticks: u64,
    before: &HashMap<libc::pid_t, u64>,
) -> (usize, Vec<libc::pid_t>) {
    let mut demoted = 0;
    let mut idle = Vec::new();
    walk(root, |pid, tid, cpu, policy| {
        let used = cpu.saturating_sub(before.get(&tid).copied().unwrap_or(0));
        let mut is_idle = policy == libc::SCHED_IDLE as u64;
        if used >= limit_ticks && !is_idle && make_idle(tid) {
            demoted += 1;
            is_idle = true;
        }
        if is_idle && idle.last() != Some(&pid) {
            idle.push(pid);
        }
    });
    (demoted, idle)
}

/// Calls `f(pid, tid, cpu ticks, policy)` for every thread of the tree under `root`.
fn walk(root: libc::pid_t, mut f: impl FnMut(libc::pid_t, libc::pid_t, u64, u64)) {
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
                f(pid, tid, cpu, policy);
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
            let (_, idle) = sweep(spin_pid, 20, &HashMap::new());
            assert!(idle.is_empty() || idle == [spin_pid], "{idle:?}");
            if cpu_and_policy(&format!("/proc/{spin_pid}/task/{spin_pid}"))
                .is_some_and(|(_, p)| p == libc::SCHED_IDLE as u64)
            {
                demoted = true;
                break;
            }
        }
        assert_eq!(sweep(idle_pid, 20, &HashMap::new()), (0, vec![]));
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
