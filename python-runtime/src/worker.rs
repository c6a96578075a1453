//! One python worker process: started, made ready (interpreter up, helper module and
//! `requests` imported), then given exactly one job.
//!
//! Invariant: dropping a `Worker` kills its whole process group (and, under bubblewrap, the
//! pid namespace with it), so no code outlives its run or the pool.

use crate::channel::Channel;
use crate::logbuf::Capture;
use crate::sandbox::Launcher;
use crate::Error;
use std::os::unix::fs::MetadataExt;
use std::path::{Path, PathBuf};
use std::time::Instant;
use tokio::process::Child;

/// A started, ready worker for one bot folder.
pub struct Worker {
    pub child: Child,
    pub pgid: i32,
    pub channel: Channel,
    pub stdout: Option<Capture>,
    pub stderr: Option<Capture>,
    pub bot_dir: PathBuf,
    /// (dev, inode) of the bot folder when mounted: a folder replaced since then is stale.
    pub dir_id: (u64, u64),
    pub started: Instant,
    /// We collected the exit status: the pid (= pgid) may now belong to someone else.
    pub reaped: bool,
    /// Fallback as root: this worker's own uid, swept and returned when the worker drops
    /// (declared last: dropped after the kill in `Drop`).
    pub _uid: Option<crate::uids::LeasedUid>,
}

/// (dev, inode) of a folder.
pub fn dir_id(dir: &Path) -> Result<(u64, u64), Error> {
    let m = std::fs::metadata(dir)
        .map_err(|e| Error::BotDir(dir.display().to_string(), e.to_string()))?;
    if !m.is_dir() {
        return Err(Error::BotDir(
            dir.display().to_string(),
            "not a directory".into(),
        ));
    }
    Ok((m.dev(), m.ino()))
}

/// The last `n` characters of `s` (the end of a stderr is where the error is).
pub fn tail(s: &str, n: usize) -> String {
    let skip = s.chars().count().saturating_sub(n);
    s.chars().skip(skip).collect()
}

impl Worker {
    /// Start a worker for `bot_dir` and wait until it says it is ready.
    pub async fn start(launcher: &Launcher, bot_dir: &Path) -> Result<Worker, Error> {
        let id = dir_id(bot_dir)?;
        let (channel, ends) = Channel::new(launcher.cfg.max_message)?;
        let uid = match &launcher.uids {
            Some(pool) => Some(
                pool.lease()
                    .ok_or_else(|| Error::Spawn("no free sandbox uid".into()))?,
            ),
            None => None,
        };
        use std::os::fd::AsRawFd;
        let mut cmd = launcher.command(
            crate::sandbox::ProcessKind::Worker,
            bot_dir,
            ends.read.as_raw_fd(),
            ends.write.as_raw_fd(),
            uid.as_ref().map(|u| u.uid),
        );
        let spawned = cmd.spawn();
        drop((cmd, ends)); // ours must close so EOF means the child is gone
        let mut child = spawned.map_err(|e| Error::Spawn(e.to_string()))?;
        let pgid = child.id().map(|p| p as i32).unwrap_or(0); // setsid: pgid == pid
        let stdout = child
            .stdout
            .take()
            .map(|s| Capture::start(s, launcher.cfg.max_output));
        let stderr = child
            .stderr
            .take()
            .map(|s| Capture::start(s, launcher.cfg.max_output));
        let mut w = Worker {
            child,
            pgid,
            channel,
            stdout,
            stderr,
            bot_dir: bot_dir.to_path_buf(),
            dir_id: id,
            started: Instant::now(),
            reaped: false,
            _uid: uid,
        };
        let ready = tokio::time::timeout(launcher.cfg.startup_timeout, w.channel.recv()).await;
        match ready {
            Ok(Ok(Some(msg))) if msg["t"] == "ready" => Ok(w),
            other => {
                let why = match other {
                    Err(_) => "did not become ready in time".to_string(),
                    Ok(Err(e)) => e.to_string(),
                    Ok(Ok(_)) => "exited before becoming ready".to_string(),
                };
                w.kill();
                let err = match w.stderr.take() {
                    Some(c) => c.finish(std::time::Duration::from_millis(500)).await,
                    None => String::new(),
                };
                Err(Error::Spawn(format!(
                    "{why}; stderr: {}",
                    tail(&err, 2000).trim()
                )))
            }
        }
    }

    /// Is the process still there and the folder it mounted still the same folder?
    pub fn usable(&mut self) -> bool {
        match self.child.try_wait() {
            Ok(None) => {}
            _ => {
                self.reaped = true;
                return false;
            }
        }
        dir_id(&self.bot_dir)
            .map(|id| id == self.dir_id)
            .unwrap_or(false)
    }

    /// SIGKILL the whole process group (idempotent). Only before the leader is reaped: until
    /// then its pid, which is the group id, cannot be reused by an unrelated process.
    pub fn kill(&mut self) {
        if self.pgid > 0 && !self.reaped {
            // SAFETY: plain syscall; the group is ours (created by setsid in the child).
            unsafe {
                libc::killpg(self.pgid, libc::SIGKILL);
            }
        }
        let _ = self.child.start_kill();
    }

    /// Wait up to `wait` for the leader to exit on its own, WITHOUT reaping it (so the group
    /// can still be killed safely afterwards). Returns how it ended: `Ok(code)` or `Err(signal)`.
    pub async fn observe_exit(&self, wait: std::time::Duration) -> Option<Result<i32, i32>> {
        let pid = self.pgid;
        if pid <= 0 || self.reaped {
            return None;
        }
        let deadline = Instant::now() + wait;
        loop {
            // In a block: siginfo_t is not Send and must not live across the await below.
            let r = {
                // SAFETY: zeroed siginfo is a valid out-parameter for waitid.
                let mut info: libc::siginfo_t = unsafe { std::mem::zeroed() };
                let r = unsafe {
                    libc::waitid(
                        libc::P_PID,
                        pid as libc::id_t,
                        &mut info,
                        libc::WEXITED | libc::WNOHANG | libc::WNOWAIT,
                    )
                };
                // SAFETY: waitid filled `info` for a child state change (si_pid != 0).
                if r == 0 && unsafe { info.si_pid() } != 0 {
                    let status = unsafe { info.si_status() };
                    return Some(if info.si_code == libc::CLD_EXITED {
                        Ok(status)
                    } else {
                        Err(status)
                    });
                }
                r
            };
            if r < 0 || Instant::now() >= deadline {
                return None;
            }
            tokio::time::sleep(std::time::Duration::from_millis(5)).await;
        }
    }

    /// Kill the group, then collect the exit status (bounded wait).
    pub async fn kill_and_reap(&mut self) -> Option<std::process::ExitStatus> {
        self.kill();
        let status =
            tokio::time::timeout(std::time::Duration::from_secs(5), self.child.wait()).await;
        match status {
            Ok(Ok(s)) => {
                self.reaped = true;
                Some(s)
            }
            _ => None,
        }
    }
}

impl Drop for Worker {
    fn drop(&mut self) {
        self.kill();
    }
}

impl crate::process::RunProcess for Worker {
    fn channel(&mut self) -> &mut Channel {
        &mut self.channel
    }

    fn take_output(&mut self) -> (Option<Capture>, Option<Capture>) {
        (self.stdout.take(), self.stderr.take())
    }

    async fn exit_reason(&mut self, wait: std::time::Duration) -> Option<String> {
        // Under bubblewrap the leader is bwrap: it exits with python's status.
        self.observe_exit(wait)
            .await
            .map(crate::process::describe_exit)
    }

    fn pid(&self) -> Option<libc::pid_t> {
        // Not reaped by us: until then the pid stays this process's (or its zombie's).
        (self.pgid > 0 && !self.reaped).then_some(self.pgid)
    }

    async fn kill_and_reap(&mut self) {
        Worker::kill_and_reap(self).await;
    }
}
