//! Bounded capture of a worker's stdout or stderr.
//!
//! Invariant: the pipe is always drained (so a chatty script never blocks on a full pipe),
//! but only the first `cap` bytes are kept; the rest is counted and reported.

use std::os::fd::{AsRawFd, FromRawFd, OwnedFd};
use std::sync::{Arc, Mutex};
use tokio::io::{AsyncRead, AsyncReadExt};
use tokio::task::JoinHandle;

#[derive(Default)]
struct Buf {
    kept: Vec<u8>,
    dropped: u64,
    cap: usize,
}

impl Buf {
    fn push(&mut self, data: &[u8]) {
        let room = self.cap.saturating_sub(self.kept.len()).min(data.len());
        self.kept.extend_from_slice(&data[..room]);
        self.dropped += (data.len() - room) as u64;
    }
}

/// A capture in progress.
pub struct Capture {
    buf: Arc<Mutex<Buf>>,
    task: JoinHandle<()>,
    /// A second fd on the same (non-blocking) pipe, to drain it without waiting for EOF.
    fd: Option<OwnedFd>,
}

impl Capture {
    /// Start draining `src`, keeping at most `cap` bytes.
    pub fn start<R: AsyncRead + AsRawFd + Unpin + Send + 'static>(
        mut src: R,
        cap: usize,
    ) -> Capture {
        // SAFETY: dup of an fd we own; the copy is owned by the OwnedFd.
        let dup = unsafe { libc::fcntl(src.as_raw_fd(), libc::F_DUPFD_CLOEXEC, 0) };
        let fd = (dup >= 0).then(|| unsafe { OwnedFd::from_raw_fd(dup) });
        let buf = Arc::new(Mutex::new(Buf {
            cap,
            ..Buf::default()
        }));
        let b = buf.clone();
        let task = tokio::spawn(async move {
            let mut chunk = vec![0u8; 8192];
            // Read and append happen in one poll: aborting between polls loses nothing.
            while let Ok(n) = src.read(&mut chunk).await {
                if n == 0 {
                    break;
                }
                b.lock().unwrap().push(&chunk[..n]);
            }
        });
        Capture { buf, task, fd }
    }

    /// Wait (at most `wait`) for the stream to end, then return the text.
    pub async fn finish(self, wait: std::time::Duration) -> String {
        let mut task = self.task;
        if tokio::time::timeout(wait, &mut task).await.is_err() {
            task.abort(); // something still holds the pipe open; keep what we have
        }
        Self::text(&self.buf)
    }

    /// Everything written so far, without waiting for the writer to close the pipe: stop the
    /// reader, then read what is left in the pipe until it would block. Exact for all output
    /// written before the caller learned the run's result.
    pub async fn finish_now(self) -> String {
        self.task.abort();
        let _ = self.task.await;
        if let Some(fd) = &self.fd {
            let mut chunk = [0u8; 8192];
            loop {
                // SAFETY: reading into a stack buffer of the given length.
                let n =
                    unsafe { libc::read(fd.as_raw_fd(), chunk.as_mut_ptr().cast(), chunk.len()) };
                if n <= 0 {
                    break; // EOF, EAGAIN (empty, non-blocking) or error
                }
                self.buf.lock().unwrap().push(&chunk[..n as usize]);
            }
        }
        Self::text(&self.buf)
    }

    fn text(buf: &Mutex<Buf>) -> String {
        let g = buf.lock().unwrap();
        let mut s = String::from_utf8_lossy(&g.kept).into_owned();
        if g.dropped > 0 {
            s.push_str(&format!(
                "\n[natter: output truncated, {} more bytes dropped]\n",
                g.dropped
            ));
        }
        s
    }
}
