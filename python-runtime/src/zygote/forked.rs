//! One call's process, forked by a zygote: its channel, its output, and a pidfd to kill it.
//!
//! The call process is pid 1 of a pid namespace of its own, so killing it makes the kernel
//! kill every process the call started, including ones that left its process group; its
//! pidfd becomes readable only once all of them are gone.
//!
//! Invariant: dropping a `Forked` kills the call process (and with it the call's tree).

use super::{Note, ZygoteError, ZygoteProcess};
use crate::channel::Channel;
use crate::logbuf::Capture;
use crate::process::{describe_exit, RunProcess};
use std::io;
use std::os::fd::{AsRawFd, FromRawFd, OwnedFd, RawFd};
use std::sync::Arc;
use std::time::Duration;
use tokio::io::unix::AsyncFd;
use tokio::io::Interest;
use tokio::net::UnixStream;
use tokio::sync::oneshot;

/// A call process, ready for its job.
pub struct Forked {
    channel: Channel,
    stdout: Option<Capture>,
    stderr: Option<Capture>,
    pidfd: AsyncFd<OwnedFd>,
    /// The call process's pid as the server sees it.
    pid: libc::pid_t,
    /// The call's exit status, from the zygote (which reaps it); closed if the zygote ends.
    exit: Option<oneshot::Receiver<Note>>,
    /// Keeps the zygote (and so the sandbox holding this call) alive until the call ends.
    _zygote: Arc<ZygoteProcess>,
}

/// The per-call fds, made by the server: its ends, and the ends the zygote passes on.
pub struct CallFds {
    pub channel: UnixStream,
    pub stdout: tokio::net::unix::pipe::Receiver,
    pub stderr: tokio::net::unix::pipe::Receiver,
    pub child_channel: OwnedFd,
    pub child_stdout: OwnedFd,
    pub child_stderr: OwnedFd,
}

impl CallFds {
    pub fn new() -> io::Result<CallFds> {
        let (ours, theirs) = std::os::unix::net::UnixStream::pair()?;
        // The first message then gives the call process's pid as seen from here.
        super::control::pass_credentials(ours.as_raw_fd())?;
        ours.set_nonblocking(true)?;
        let (out_r, out_w) = crate::channel::pipe_pair()?;
        let (err_r, err_w) = crate::channel::pipe_pair()?;
        Ok(CallFds {
            channel: UnixStream::from_std(ours)?,
            stdout: tokio::net::unix::pipe::Receiver::from_owned_fd(out_r)?,
            stderr: tokio::net::unix::pipe::Receiver::from_owned_fd(err_r)?,
            child_channel: theirs.into(),
            child_stdout: out_w,
            child_stderr: err_w,
        })
    }
}

impl Forked {
    /// Wait for the call process's first message (`ready`, or `fail` from its setup) and
    /// take its pid from the kernel's credentials on that message.
    pub(super) async fn connect(
        channel: UnixStream,
        stdout: Capture,
        stderr: Capture,
        exit: oneshot::Receiver<Note>,
        zygote: Arc<ZygoteProcess>,
        max_message: usize,
    ) -> Result<Forked, ZygoteError> {
        let mut exit = Some(exit);
        let (line, pid) = tokio::select! {
            first = first_message(&channel) => first?,
            note = exit.as_mut().unwrap() => return Err(match note {
                Ok(Note::SpawnFailed(why)) => ZygoteError::Setup(why),
                Ok(Note::Exited(code)) => ZygoteError::Setup(format!("the call process ended before it was ready (status {code})")),
                Err(_) => ZygoteError::Gone("the zygote ended while forking the call".into()),
            }),
        };
        let msg: serde_json::Value = serde_json::from_slice(&line)
            .map_err(|e| ZygoteError::Setup(format!("bad first message: {e}")))?;
        match msg["t"].as_str() {
            Some("ready") => {}
            Some("fail") => {
                return Err(ZygoteError::Setup(
                    msg["message"].as_str().unwrap_or("failed").to_string(),
                ))
            }
            _ => {
                return Err(ZygoteError::Setup(format!(
                    "unexpected first message {msg}"
                )))
            }
        }
        // The process is alive: it waits for its job, which has not been sent yet.
        // SAFETY: plain syscall; returns a new fd or -1.
        let fd = unsafe { libc::syscall(libc::SYS_pidfd_open, pid, 0) } as RawFd;
        if fd < 0 {
            return Err(ZygoteError::Setup(format!(
                "pidfd_open({pid}): {}",
                io::Error::last_os_error()
            )));
        }
        // SAFETY: pidfd_open just returned this fd, which the OwnedFd then owns for as long
        // as the AsyncFd holds it.
        let pidfd = unsafe {
            AsyncFd::register_with_interest(OwnedFd::from_raw_fd(fd), Interest::READABLE)
        }
        .map_err(|e| ZygoteError::Io(e.into()))?;
        Ok(Forked {
            channel: Channel::from_socket(channel, max_message),
            stdout: Some(stdout),
            stderr: Some(stderr),
            pidfd,
            pid,
            exit,
            _zygote: zygote,
        })
    }

    /// SIGKILL the call process; as the init of its pid namespace, everything it started
    /// goes with it. Idempotent.
    fn kill(&self) {
        // SAFETY: plain syscall on a pidfd we own; ESRCH (already gone) is fine.
        unsafe {
            libc::syscall(
                libc::SYS_pidfd_send_signal,
                self.pidfd.get_ref().as_raw_fd(),
                libc::SIGKILL,
                std::ptr::null::<libc::siginfo_t>(),
                0,
            );
        }
    }

    /// Wait (at most `wait`) until the call process and its whole pid namespace are gone.
    async fn gone(&self, wait: Duration) -> bool {
        tokio::time::timeout(wait, self.pidfd.readable())
            .await
            .is_ok_and(|r| r.is_ok())
    }
}

/// The first line the call process writes, and its pid (from SCM_CREDENTIALS).
async fn first_message(sock: &UnixStream) -> Result<(Vec<u8>, libc::pid_t), ZygoteError> {
    let mut buf = vec![0u8; 4096];
    let (n, pid) = sock
        .async_io(Interest::READABLE, || {
            super::control::recv_with_pid(sock.as_raw_fd(), &mut buf)
        })
        .await
        .map_err(ZygoteError::Io)?;
    if n == 0 {
        return Err(ZygoteError::Gone(
            "the call process ended before it was ready".into(),
        ));
    }
    let line = &buf[..n];
    if !line.ends_with(b"\n") || line[..n - 1].contains(&b'\n') {
        return Err(ZygoteError::Setup(
            "the call process's first message is not one line".into(),
        ));
    }
    let pid = pid.ok_or_else(|| ZygoteError::Setup("no credentials on the channel".into()))?;
    Ok((line.to_vec(), pid))
}

impl RunProcess for Forked {
    fn channel(&mut self) -> &mut Channel {
        &mut self.channel
    }

    fn take_output(&mut self) -> (Option<Capture>, Option<Capture>) {
        (self.stdout.take(), self.stderr.take())
    }

    async fn exit_reason(&mut self, wait: Duration) -> Option<String> {
        let exit = self.exit.take()?;
        match tokio::time::timeout(wait, exit).await {
            Ok(Ok(Note::Exited(code))) if code >= 0 => Some(describe_exit(Ok(code))),
            Ok(Ok(Note::Exited(code))) => Some(describe_exit(Err(-code))),
            Ok(Ok(Note::SpawnFailed(why))) => Some(why),
            Ok(Err(_)) => Some(
                "the bot's sandbox (its zygote process) ended during the call; the next call starts a new one"
                    .into(),
            ),
            Err(_) => None,
        }
    }

    fn pid(&self) -> Option<libc::pid_t> {
        // The zygote reaps the call: once the pidfd is readable the process has ended and
        // its pid may be reused, so it is only given while the pidfd is not readable yet.
        let mut fds = libc::pollfd {
            fd: self.pidfd.get_ref().as_raw_fd(),
            events: libc::POLLIN,
            revents: 0,
        };
        // SAFETY: plain syscall on one valid pollfd, no wait.
        let r = unsafe { libc::poll(&mut fds, 1, 0) };
        (r == 0).then_some(self.pid)
    }

    async fn kill_and_reap(&mut self) {
        self.kill();
        if !self.gone(Duration::from_secs(5)).await {
            tracing::warn!("a forked python call did not end within 5 s of SIGKILL");
        }
    }
}

impl Drop for Forked {
    fn drop(&mut self) {
        self.kill();
    }
}
