//! The private channel between Rust and one python process: one JSON object per line
//! (Python writes compact JSON, which never contains a raw newline), over two pipes (a pool
//! worker) or one unix socket (a process forked by a zygote).
//!
//! Invariant: a line longer than the configured maximum is an error, never buffered whole,
//! so a hostile worker cannot make the server allocate without bound.

use crate::Error;
use serde_json::Value;
use std::os::fd::{FromRawFd, OwnedFd};
use tokio::io::{AsyncBufReadExt, AsyncRead, AsyncWrite, AsyncWriteExt, BufReader};
use tokio::net::unix::pipe;
use tokio::net::UnixStream;

/// The parent's ends.
pub struct Channel {
    tx: Box<dyn AsyncWrite + Send + Sync + Unpin>,
    rx: BufReader<Box<dyn AsyncRead + Send + Sync + Unpin>>,
    max_line: usize,
}

/// The child's ends, to be placed on fds 3 and 4 (closed in the parent after spawn).
pub struct ChildEnds {
    pub read: OwnedFd,
    pub write: OwnedFd,
}

pub fn pipe_pair() -> std::io::Result<(OwnedFd, OwnedFd)> {
    let mut fds = [0; 2];
    // SAFETY: valid out-pointer; O_CLOEXEC so no other child inherits these.
    if unsafe { libc::pipe2(fds.as_mut_ptr(), libc::O_CLOEXEC) } < 0 {
        return Err(std::io::Error::last_os_error());
    }
    // SAFETY: pipe2 just returned these two fresh fds.
    Ok(unsafe { (OwnedFd::from_raw_fd(fds[0]), OwnedFd::from_raw_fd(fds[1])) })
}

impl Channel {
    /// Two pipes: parent→child (the job and helper replies) and child→parent.
    pub fn new(max_line: usize) -> Result<(Channel, ChildEnds), Error> {
        let (child_read, parent_write) = pipe_pair()?;
        let (parent_read, child_write) = pipe_pair()?;
        let tx = pipe::Sender::from_owned_fd(parent_write)?;
        let rx = pipe::Receiver::from_owned_fd(parent_read)?;
        Ok((
            Channel {
                tx: Box::new(tx),
                rx: BufReader::new(Box::new(rx)),
                max_line,
            },
            ChildEnds {
                read: child_read,
                write: child_write,
            },
        ))
    }

    /// Both directions over one connected unix socket (the child holds the other end).
    pub fn from_socket(stream: UnixStream, max_line: usize) -> Channel {
        let (rx, tx) = stream.into_split();
        Channel {
            tx: Box::new(tx),
            rx: BufReader::new(Box::new(rx)),
            max_line,
        }
    }

    /// Send one message.
    pub async fn send(&mut self, msg: &Value) -> Result<(), Error> {
        let mut line = serde_json::to_vec(msg).map_err(|e| Error::Io(std::io::Error::other(e)))?;
        line.push(b'\n');
        self.tx.write_all(&line).await?;
        Ok(())
    }

    /// The next message, `Ok(None)` at end of stream.
    pub async fn recv(&mut self) -> Result<Option<Value>, Error> {
        let mut buf = Vec::new();
        loop {
            let chunk = self.rx.fill_buf().await?;
            if chunk.is_empty() {
                return if buf.is_empty() {
                    Ok(None)
                } else {
                    Err(Error::Io(std::io::Error::other(
                        "channel closed mid-message",
                    )))
                };
            }
            let (take, done) = match chunk.iter().position(|&b| b == b'\n') {
                Some(i) => (i + 1, true),
                None => (chunk.len(), false),
            };
            if buf.len() + take > self.max_line {
                return Err(Error::TooLarge(self.max_line));
            }
            buf.extend_from_slice(&chunk[..take]);
            self.rx.consume(take);
            if done {
                let v = serde_json::from_slice(&buf)
                    .map_err(|e| Error::Io(std::io::Error::other(format!("bad message: {e}"))))?;
                return Ok(Some(v));
            }
        }
    }
}
