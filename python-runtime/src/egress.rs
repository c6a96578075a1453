//! The egress proxy: the only way out of a sandbox that has no network.
//!
//! Under bubblewrap the code runs in a network namespace of its own (loopback only). For each
//! bot folder the runtime listens on a unix socket in a folder of its own, bind-mounted
//! read-only into that folder's sandboxes at [`SANDBOX_EGRESS_DIR`]; the Python side relays a
//! port on the sandbox's loopback to it and points `HTTP_PROXY`/`HTTPS_PROXY` there, so
//! `requests` and `urllib` work unchanged. The proxy speaks:
//! - `CONNECT host:port` (every HTTPS request): a tunnel, the bytes relayed untouched;
//! - `METHOD http://host[:port]/path` (plain HTTP through a proxy): the request forwarded in
//!   origin form with `Connection: close`, one request per connection.
//!
//! Invariants:
//! - every connection is decided by [`Host::egress`] for the bot that ran last in the folder
//!   (one folder is one bot on the server), which returns the addresses allowed for
//!   `host:port`; the proxy dials only those, never a look-up of its own, so what was checked
//!   is what is connected to;
//! - a refusal is an HTTP error whose status line says why (`requests` puts it in the
//!   exception's message), and a warning in the server's log; nothing is connected;
//! - at most [`MAX_CONNECTIONS`] connections per folder at once; a request head larger than
//!   [`MAX_HEAD`] or slower than [`HEAD_TIMEOUT`] is refused.

use crate::host::Host;
use std::collections::HashMap;
use std::net::SocketAddr;
use std::os::unix::fs::PermissionsExt;
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex};
use std::time::Duration;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::{TcpStream, UnixListener, UnixStream};
use tokio::sync::Semaphore;

/// Where a bot folder's egress folder appears inside its sandbox.
pub const SANDBOX_EGRESS_DIR: &str = "/natter/egress";
/// The proxy's socket, inside the egress folder.
const SOCKET_NAME: &str = "egress.sock";
/// Connections through one folder's proxy at once.
pub const MAX_CONNECTIONS: usize = 64;
/// Largest request head (request line and headers) the proxy reads.
pub const MAX_HEAD: usize = 16 << 10;
/// How long the code may take to send a request head.
pub const HEAD_TIMEOUT: Duration = Duration::from_secs(30);
/// How long connecting to the allowed addresses may take, all together.
const CONNECT_TIMEOUT: Duration = Duration::from_secs(15);

/// The sandbox path of the socket.
pub fn sandbox_socket() -> String {
    format!("{SANDBOX_EGRESS_DIR}/{SOCKET_NAME}")
}

/// Why a request through the proxy was not relayed (the status and the reason sent back).
#[derive(Debug, thiserror::Error)]
enum ProxyError {
    #[error("the request head is not a proxy request: {0}")]
    BadRequest(String),
    #[error("refused `{target}`: {why}")]
    Refused { target: String, why: String },
    #[error("could not connect to `{target}`: {why}")]
    Unreachable { target: String, why: String },
}

impl ProxyError {
    fn status(&self) -> u16 {
        match self {
            ProxyError::BadRequest(_) => 400,
            ProxyError::Refused { .. } => 403,
            ProxyError::Unreachable { .. } => 502,
        }
    }
}

/// Which bot runs code in a folder (set by every run; read by each new connection).
type BotSlot = Arc<Mutex<Option<String>>>;

/// One folder's proxy and its socket folder.
struct Proxy {
    folder: PathBuf,
    task: tokio::task::JoinHandle<()>,
}

impl Drop for Proxy {
    fn drop(&mut self) {
        self.task.abort();
        let _ = std::fs::remove_dir_all(&self.folder);
    }
}

/// The proxies of one runtime, one per bot folder, started on first use.
pub struct Egress {
    root: PathBuf,
    host: Arc<dyn Host>,
    proxies: Mutex<HashMap<PathBuf, Proxy>>,
    /// The bot of each folder, kept apart from the proxies: a run names its bot before its
    /// process (and so the folder's proxy) is started.
    bots: Mutex<HashMap<PathBuf, BotSlot>>,
    /// Names the socket folders (a folder whose proxy ended gets a new one).
    next: std::sync::atomic::AtomicU64,
}

impl std::fmt::Debug for Egress {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Egress")
            .field("root", &self.root)
            .finish_non_exhaustive()
    }
}

impl Egress {
    /// Proxies whose socket folders live under `root` (the runtime's temp folder).
    pub fn new(root: PathBuf, host: Arc<dyn Host>) -> std::io::Result<Egress> {
        std::fs::create_dir_all(&root)?;
        std::fs::set_permissions(&root, std::fs::Permissions::from_mode(0o755))?;
        Ok(Egress {
            root,
            host,
            proxies: Mutex::default(),
            bots: Mutex::default(),
            next: Default::default(),
        })
    }

    /// The egress folder of `bot_dir` (its proxy listening in it), to bind into the sandbox.
    /// Call inside a tokio runtime.
    pub fn folder(&self, bot_dir: &Path) -> std::io::Result<PathBuf> {
        let mut proxies = self.proxies.lock().unwrap();
        if let Some(p) = proxies.get(bot_dir) {
            if !p.task.is_finished() {
                return Ok(p.folder.clone());
            }
        }
        let n = self.next.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
        let folder = self.root.join(n.to_string());
        std::fs::create_dir_all(&folder)?;
        std::fs::set_permissions(&folder, std::fs::Permissions::from_mode(0o755))?;
        let path = folder.join(SOCKET_NAME);
        let listener = UnixListener::bind(&path)?;
        // The sandbox user (another uid when the server runs as root) must be able to connect.
        std::fs::set_permissions(&path, std::fs::Permissions::from_mode(0o777))?;
        let task = tokio::spawn(serve(listener, self.host.clone(), self.slot(bot_dir)));
        proxies.insert(
            bot_dir.to_path_buf(),
            Proxy {
                folder: folder.clone(),
                task,
            },
        );
        Ok(folder)
    }

    fn slot(&self, bot_dir: &Path) -> BotSlot {
        self.bots
            .lock()
            .unwrap()
            .entry(bot_dir.to_path_buf())
            .or_default()
            .clone()
    }

    /// Record which bot runs code in `bot_dir` (its allow-list decides the connections).
    pub fn set_bot(&self, bot_dir: &Path, bot: &str) {
        let slot = self.slot(bot_dir);
        let mut b = slot.lock().unwrap();
        if b.as_deref() != Some(bot) {
            *b = Some(bot.to_string());
        }
    }

    /// Stop every proxy (connections in progress end with their tasks).
    pub fn shutdown(&self) {
        self.proxies.lock().unwrap().clear();
    }
}

async fn serve(listener: UnixListener, host: Arc<dyn Host>, bot: BotSlot) {
    let slots = Arc::new(Semaphore::new(MAX_CONNECTIONS));
    loop {
        let Ok((stream, _)) = listener.accept().await else {
            // Out of fds, most likely: wait rather than spin.
            tokio::time::sleep(Duration::from_millis(50)).await;
            continue;
        };
        let Ok(permit) = slots.clone().try_acquire_owned() else {
            drop(stream); // over the limit: the code sees the connection closed
            continue;
        };
        let host = host.clone();
        let current = bot.lock().unwrap().clone();
        tokio::spawn(async move {
            handle(stream, host.as_ref(), current.as_deref()).await;
            drop(permit);
        });
    }
}

/// What the code asked for.
#[derive(Debug, PartialEq, Eq)]
struct Request {
    host: String,
    port: u16,
    /// Plain HTTP: the head to send to the origin (origin-form, `Connection: close`).
    forward: Option<Vec<u8>>,
}

async fn handle(mut client: UnixStream, host: &dyn Host, bot: Option<&str>) {
    let (head, rest) = match tokio::time::timeout(HEAD_TIMEOUT, read_head(&mut client)).await {
        Ok(Ok(x)) => x,
        Ok(Err(e)) => return refuse(&mut client, &e).await,
        Err(_) => return,
    };
    let req = match parse_head(&head) {
        Ok(r) => r,
        Err(e) => return refuse(&mut client, &e).await,
    };
    let target = format!("{}:{}", req.host, req.port);
    let addrs = match bot {
        None => Err("no bot has run in this folder".to_string()),
        Some(bot) => host
            .egress(bot, &req.host, req.port)
            .await
            .map_err(|e| e.to_string()),
    };
    let addrs = match addrs {
        Ok(a) => a,
        Err(why) => {
            tracing::warn!(bot = bot.unwrap_or(""), %target, %why, "python egress refused");
            let e = ProxyError::Refused { target, why };
            return refuse(&mut client, &e).await;
        }
    };
    let mut origin = match tokio::time::timeout(CONNECT_TIMEOUT, dial(&addrs)).await {
        Ok(Ok(s)) => s,
        Ok(Err(e)) => {
            let e = ProxyError::Unreachable {
                target,
                why: e.to_string(),
            };
            return refuse(&mut client, &e).await;
        }
        Err(_) => {
            let e = ProxyError::Unreachable {
                target,
                why: "timed out".into(),
            };
            return refuse(&mut client, &e).await;
        }
    };
    tracing::debug!(bot = bot.unwrap_or(""), %target, "python egress connected");
    let sent = match &req.forward {
        None => {
            client
                .write_all(b"HTTP/1.1 200 Connection established\r\n\r\n")
                .await
        }
        Some(head) => origin.write_all(head).await,
    };
    if sent.is_err() || origin.write_all(&rest).await.is_err() {
        return;
    }
    let _ = tokio::io::copy_bidirectional(&mut client, &mut origin).await;
}

/// The first allowed address that accepts.
async fn dial(addrs: &[SocketAddr]) -> std::io::Result<TcpStream> {
    let mut last = std::io::Error::other("no address to connect to");
    for a in addrs {
        match TcpStream::connect(a).await {
            Ok(s) => return Ok(s),
            Err(e) => last = e,
        }
    }
    Err(last)
}

/// The request head, and whatever was read after it.
async fn read_head(c: &mut UnixStream) -> Result<(Vec<u8>, Vec<u8>), ProxyError> {
    let mut buf = Vec::with_capacity(1024);
    let mut chunk = [0u8; 2048];
    loop {
        if let Some(end) = buf.windows(4).position(|w| w == b"\r\n\r\n") {
            let rest = buf.split_off(end + 4);
            return Ok((buf, rest));
        }
        if buf.len() > MAX_HEAD {
            return Err(ProxyError::BadRequest(format!(
                "the head is larger than {MAX_HEAD} bytes"
            )));
        }
        match c.read(&mut chunk).await {
            Ok(0) | Err(_) => return Err(ProxyError::BadRequest("the connection ended".into())),
            Ok(n) => buf.extend_from_slice(&chunk[..n]),
        }
    }
}

fn parse_head(head: &[u8]) -> Result<Request, ProxyError> {
    let bad = |why: &str| ProxyError::BadRequest(why.to_string());
    let text = std::str::from_utf8(head).map_err(|_| bad("not UTF-8"))?;
    let mut lines = text.split("\r\n");
    let line = lines.next().unwrap_or("");
    let mut parts = line.split(' ');
    let (Some(method), Some(target), Some(version), None) =
        (parts.next(), parts.next(), parts.next(), parts.next())
    else {
        return Err(bad("the request line is not `METHOD TARGET VERSION`"));
    };
    if !version.starts_with("HTTP/1.") {
        return Err(bad("only HTTP/1.x"));
    }
    if method.eq_ignore_ascii_case("CONNECT") {
        let (host, port) =
            split_authority(target, None).ok_or_else(|| bad("CONNECT needs host:port"))?;
        return Ok(Request {
            host,
            port,
            forward: None,
        });
    }
    let rest = target.strip_prefix("http://").ok_or_else(|| {
        bad("a plain request through the proxy needs an absolute http:// URL (HTTPS uses CONNECT)")
    })?;
    let (authority, path) = match rest.find(['/', '?']) {
        Some(i) => (&rest[..i], &rest[i..]),
        None => (rest, "/"),
    };
    let path = if path.starts_with('?') {
        format!("/{path}")
    } else {
        path.to_string()
    };
    if authority.contains('@') {
        return Err(bad("user names in proxied URLs are not supported"));
    }
    let (host, port) =
        split_authority(authority, Some(80)).ok_or_else(|| bad("bad host in the URL"))?;
    let mut out = format!("{method} {path} {version}\r\n");
    for h in lines.filter(|l| !l.is_empty()) {
        let name = h.split(':').next().unwrap_or("").trim();
        let hop = [
            "connection",
            "proxy-connection",
            "keep-alive",
            "proxy-authorization",
        ];
        if !hop.iter().any(|x| name.eq_ignore_ascii_case(x)) {
            out.push_str(h);
            out.push_str("\r\n");
        }
    }
    out.push_str("Connection: close\r\n\r\n");
    Ok(Request {
        host,
        port,
        forward: Some(out.into_bytes()),
    })
}

/// `host:port`, `[v6]:port`, or (with a default port) `host`.
fn split_authority(a: &str, default_port: Option<u16>) -> Option<(String, u16)> {
    let (host, port) = if let Some(rest) = a.strip_prefix('[') {
        let (h, after) = rest.split_once(']')?;
        let port = match after.strip_prefix(':') {
            Some(p) => p.parse().ok()?,
            None if after.is_empty() => default_port?,
            None => return None,
        };
        (h, port)
    } else {
        match a.rsplit_once(':') {
            Some((h, p)) => (h, p.parse().ok()?),
            None => (a, default_port?),
        }
    };
    if host.is_empty() || port == 0 || host.contains([':', '[', ']']) && !a.starts_with('[') {
        return None;
    }
    Some((host.to_string(), port))
}

/// Answer with the error in the status line (where `requests` shows it) and the body.
async fn refuse(c: &mut UnixStream, e: &ProxyError) {
    let reason: String = format!("natter egress {e}")
        .chars()
        .map(|ch| {
            if ch.is_ascii_graphic() || ch == ' ' {
                ch
            } else {
                '?'
            }
        })
        .take(300)
        .collect();
    let body = format!("{reason}\n");
    let msg = format!(
        "HTTP/1.1 {} {reason}\r\nContent-Type: text/plain\r\nContent-Length: {}\r\nConnection: close\r\n\r\n{body}",
        e.status(),
        body.len()
    );
    let _ = c.write_all(msg.as_bytes()).await;
    let _ = c.shutdown().await;
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn connect_and_absolute_requests_parse() {
        let r = parse_head(b"CONNECT api.example.com:443 HTTP/1.1\r\nHost: x\r\n\r\n").unwrap();
        assert_eq!((r.host.as_str(), r.port), ("api.example.com", 443));
        assert!(r.forward.is_none(), "a tunnel forwards no head");
        let r = parse_head(b"CONNECT [::1]:8443 HTTP/1.1\r\n\r\n").unwrap();
        assert_eq!((r.host.as_str(), r.port), ("::1", 8443));
        let r = parse_head(
            b"GET http://127.0.0.1:9000/a?b=1 HTTP/1.1\r\nHost: 127.0.0.1:9000\r\nProxy-Connection: keep-alive\r\nConnection: keep-alive\r\nAccept: */*\r\n\r\n",
        )
        .unwrap();
        assert_eq!((r.host.as_str(), r.port), ("127.0.0.1", 9000));
        assert_eq!(
            String::from_utf8(r.forward.unwrap()).unwrap(),
            "GET /a?b=1 HTTP/1.1\r\nHost: 127.0.0.1:9000\r\nAccept: */*\r\nConnection: close\r\n\r\n"
        );
        let r = parse_head(b"POST http://example.com?q HTTP/1.1\r\n\r\n").unwrap();
        assert_eq!(r.port, 80);
        assert!(String::from_utf8(r.forward.unwrap())
            .unwrap()
            .starts_with("POST /?q HTTP/1.1\r\n"));
    }

    #[test]
    fn anything_else_is_a_bad_request() {
        for bad in [
            &b"GET / HTTP/1.1\r\n\r\n"[..],
            b"GET https://example.com/ HTTP/1.1\r\n\r\n",
            b"CONNECT example.com HTTP/1.1\r\n\r\n",
            b"CONNECT example.com:0 HTTP/1.1\r\n\r\n",
            b"CONNECT ::1:443 HTTP/1.1\r\n\r\n",
            b"GET http://u:p@example.com/ HTTP/1.1\r\n\r\n",
            b"GET http://example.com/ SPDY/3\r\n\r\n",
            b"CONNECT  example.com:443 HTTP/1.1\r\n\r\n",
            b"\xff\xfe\r\n\r\n",
        ] {
            assert!(
                matches!(parse_head(bad), Err(ProxyError::BadRequest(_))),
                "{}",
                String::from_utf8_lossy(bad)
            );
        }
    }
}
