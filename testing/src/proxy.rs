//! A TCP proxy on 127.0.0.1 that cuts connections: each accepted connection is forwarded to
//! the upstream server, and the server-to-client direction is closed after a byte budget set
//! per connection ([`CutProxy::cut_next`]), wherever that falls: inside the HTTP head, a
//! chunk header, or the middle of a `data:` line. What a flaky network does to a stream.

use std::collections::VecDeque;
use std::net::SocketAddr;
use std::sync::{Arc, Mutex};

use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::{TcpListener, TcpStream};

/// The proxy; stops accepting when dropped.
pub struct CutProxy {
    addr: SocketAddr,
    budgets: Arc<Mutex<VecDeque<usize>>>,
    task: tokio::task::JoinHandle<()>,
}

impl Drop for CutProxy {
    fn drop(&mut self) {
        self.task.abort();
    }
}

impl CutProxy {
    /// Listens on 127.0.0.1:0 and forwards to `upstream`.
    pub async fn start(upstream: SocketAddr) -> CutProxy {
        let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
        let addr = listener.local_addr().unwrap();
        let budgets: Arc<Mutex<VecDeque<usize>>> = Arc::default();
        let queue = budgets.clone();
        let task = tokio::spawn(async move {
            while let Ok((client, _)) = listener.accept().await {
                let budget = queue.lock().unwrap().pop_front();
                tokio::spawn(forward(client, upstream, budget));
            }
        });
        CutProxy {
            addr,
            budgets,
            task,
        }
    }

    /// `http://127.0.0.1:<port>`.
    pub fn base(&self) -> String {
        format!("http://{}", self.addr)
    }

    /// The next connection accepted gets only `bytes` bytes from the server, then both of its
    /// sides are closed. Connections without a budget are forwarded whole.
    pub fn cut_next(&self, bytes: usize) {
        self.budgets.lock().unwrap().push_back(bytes);
    }
}

async fn forward(client: TcpStream, upstream: SocketAddr, budget: Option<usize>) {
    let Ok(server) = TcpStream::connect(upstream).await else {
        return;
    };
    let (mut cr, mut cw) = client.into_split();
    let (mut sr, mut sw) = server.into_split();
    let up = tokio::spawn(async move {
        let _ = tokio::io::copy(&mut cr, &mut sw).await;
        let _ = sw.shutdown().await;
    });
    let mut left = budget.unwrap_or(usize::MAX);
    let mut buf = vec![0u8; 16 * 1024];
    while left > 0 {
        let n = match sr.read(&mut buf).await {
            Ok(0) | Err(_) => break,
            Ok(n) => n.min(left),
        };
        if cw.write_all(&buf[..n]).await.is_err() {
            break;
        }
        left -= n;
    }
    // Cut (or the server ended): close both directions at once.
    up.abort();
    let _ = cw.shutdown().await;
}
