//! Bounded capture of a worker's stdout or stderr.
//!
//! Invariant: the pipe is always drained (so a chatty script never blocks on a full pipe),
//! but only the first `cap` bytes are kept; the rest is counted and reported.

use std::sync::{Arc, Mutex};
use tokio::io::{AsyncRead, AsyncReadExt};
use tokio::task::JoinHandle;

#[derive(Default)]
struct Buf {
    kept: Vec<u8>,
    dropped: u64,
}

/// A capture in progress.
pub struct Capture {
    buf: Arc<Mutex<Buf>>,
    task: JoinHandle<()>,
}

impl Capture {
    /// Start draining `src`, keeping at most `cap` bytes.
    pub fn start<R: AsyncRead + Unpin + Send + 'static>(mut src: R, cap: usize) -> Capture {
        let buf = Arc::new(Mutex::new(Buf::default()));
        let b = buf.clone();
        let task = tokio::spawn(async move {
            let mut chunk = vec![0u8; 8192];
            while let Ok(n) = src.read(&mut chunk).await {
                if n == 0 {
                    break;
                }
                let mut g = b.lock().unwrap();
                let room = cap.saturating_sub(g.kept.len()).min(n);
                g.kept.extend_from_slice(&chunk[..room]);
                g.dropped += (n - room) as u64;
            }
        });
        Capture { buf, task }
    }

    /// Wait (briefly) for the stream to end, then return the text with a truncation note.
    pub async fn finish(self, wait: std::time::Duration) -> String {
        let mut task = self.task;
        if tokio::time::timeout(wait, &mut task).await.is_err() {
            task.abort(); // something still holds the pipe open; keep what we have
        }
        let g = self.buf.lock().unwrap();
        let mut s = String::from_utf8_lossy(&g.kept).into_owned();
        if g.dropped > 0 {
            s.push_str(&format!("\n[natter: output truncated, {} more bytes dropped]\n", g.dropped));
        }
        s
    }
}
