//! Shared test fixtures: a bot folder in a temp dir, a runtime with short limits, a context.
#![allow(dead_code)]

use natter_python_runtime::*;
use serde_json::{json, Value};
use std::os::unix::fs::PermissionsExt;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::Duration;

/// A bot folder readable by the sandbox uid (tempdirs are 0700 by default).
pub struct Bot {
    pub dir: tempfile::TempDir,
}

impl Bot {
    pub fn new() -> Bot {
        let dir = tempfile::Builder::new()
            .prefix("natter-bot-")
            .tempdir()
            .unwrap();
        std::fs::set_permissions(dir.path(), std::fs::Permissions::from_mode(0o755)).unwrap();
        Bot { dir }
    }

    pub fn path(&self) -> &Path {
        self.dir.path()
    }

    /// Write `name` with `code` (dedented) and return its relative path.
    pub fn script(&self, name: &str, code: &str) -> PathBuf {
        let p = self.dir.path().join(name);
        std::fs::write(&p, dedent(code)).unwrap();
        std::fs::set_permissions(&p, std::fs::Permissions::from_mode(0o644)).unwrap();
        PathBuf::from(name)
    }
}

fn dedent(code: &str) -> String {
    let lines: Vec<&str> = code.lines().collect();
    let indent = lines
        .iter()
        .filter(|l| !l.trim().is_empty())
        .map(|l| l.len() - l.trim_start().len())
        .min()
        .unwrap_or(0);
    lines
        .iter()
        .map(|l| {
            if l.len() >= indent {
                &l[indent..]
            } else {
                l.trim()
            }
        })
        .collect::<Vec<_>>()
        .join("\n")
        + "\n"
}

/// Limits short enough for CI.
pub fn test_config() -> RuntimeConfig {
    RuntimeConfig {
        action_timeout: Duration::from_secs(10),
        handler_timeout: Duration::from_secs(10),
        memory_limit: 256 << 20,
        max_processes: 32,
        warm_per_folder: 1,
        max_warm_total: 4,
        ..RuntimeConfig::default()
    }
}

/// The warm pool of fresh interpreters instead of zygotes.
pub fn pool_config() -> RuntimeConfig {
    RuntimeConfig {
        zygote: false,
        ..test_config()
    }
}

pub async fn runtime_with(host: Arc<dyn Host>) -> Runtime {
    Runtime::start(test_config(), host)
        .await
        .expect("runtime starts")
}

pub fn conversation(id: &str, channel: &str) -> Conversation {
    Conversation {
        id: id.into(),
        public_id: "ABC123XYZ".into(),
        subject: "Where is my order?".into(),
        business_slug: "acme".into(),
        channel: channel.into(),
        messages: vec![
            Message {
                sender: "customer".into(),
                timestamp: "2026-01-02T10:00:00Z".into(),
                content: "Hi, order 42?".into(),
                channel: channel.into(),
                attachments: vec![],
            },
            Message {
                sender: "bot".into(),
                timestamp: "2026-01-02T10:00:01Z".into(),
                content: "Let me check.".into(),
                channel: channel.into(),
                attachments: vec![],
            },
        ],
        extra: serde_json::Map::new(),
    }
}

pub fn context(args: Value, conv: Option<Conversation>) -> Context {
    Context {
        args: args.as_object().cloned().unwrap_or_default(),
        conversation: conv,
        browser_session: None,
    }
}

pub fn action(bot: &Bot, script: &Path, ctx: Context) -> RunRequest {
    RunRequest::action("acme", bot.path(), script, ctx)
}

pub fn no_args() -> Value {
    json!({})
}

/// A plain-HTTP/1.1 server on 127.0.0.1 (port 0) for the code under test to call: `answer`
/// gets each request's head (request line and headers) and returns the status line's tail
/// (`"200 OK"`) and the body. Returns the port and the number of connections accepted.
pub async fn http_server(
    answer: impl Fn(&str) -> (&'static str, String) + Send + Sync + 'static,
) -> (u16, Arc<std::sync::atomic::AtomicUsize>) {
    use tokio::io::{AsyncReadExt, AsyncWriteExt};
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let port = listener.local_addr().unwrap().port();
    let seen = Arc::new(std::sync::atomic::AtomicUsize::new(0));
    let count = seen.clone();
    let answer = Arc::new(answer);
    tokio::spawn(async move {
        loop {
            let (mut sock, _) = listener.accept().await.unwrap();
            count.fetch_add(1, std::sync::atomic::Ordering::SeqCst);
            let answer = answer.clone();
            tokio::spawn(async move {
                let mut buf = vec![0u8; 8192];
                let mut n = 0;
                while !buf[..n].windows(4).any(|w| w == b"\r\n\r\n") {
                    match sock.read(&mut buf[n..]).await {
                        Ok(0) | Err(_) => return,
                        Ok(k) => n += k,
                    }
                }
                let (status, body) = answer(&String::from_utf8_lossy(&buf[..n]));
                let reply = format!(
                    "HTTP/1.1 {status}\r\nContent-Length: {}\r\nConnection: close\r\n\r\n{body}",
                    body.len()
                );
                let _ = sock.write_all(reply.as_bytes()).await;
            });
        }
    });
    (port, seen)
}

/// The request target of a request head (`GET /a?b HTTP/1.1` → `/a?b`).
pub fn target(head: &str) -> String {
    head.split(' ').nth(1).unwrap_or("").to_string()
}
