//! A CRM stand-in on 127.0.0.1: the receiving side of the webhooks, for tests, benchmarks and
//! the demo. It checks every signature, can fail the first N tries of each `webhook-id`,
//! answers `escalate` and `isTeamOnline` as told, answers the actions webhook with a fixed
//! body, and records everything it received in arrival order.
//!
//! Paths are the template's: `POST /converse-webhook` (chat) and `POST /action-webhook`.
//! It binds loopback only; it is not a CRM.

use std::collections::HashMap;
use std::net::SocketAddr;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use axum::body::Bytes;
use axum::extract::State;
use axum::http::{HeaderMap, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::routing::post;
use axum::Router;
use tokio::sync::Notify;

use crate::client::unix_now;
use crate::sign::{verify, SignatureHeaders, SigningSecret, DEFAULT_TOLERANCE};

pub const CHAT_PATH: &str = "/converse-webhook";
pub const ACTIONS_PATH: &str = "/action-webhook";

#[derive(Debug, Clone)]
pub struct StandInConfig {
    pub secret: SigningSecret,
    /// Answer 503 to the first `fail_first` tries of every asynchronous event (per webhook-id).
    pub fail_first: u32,
    /// Sent with those 503s as `Retry-After`, when set.
    pub retry_after: Option<String>,
    /// Once past `fail_first`, answer asynchronous events with this status instead of 200
    /// (a 3xx comes with a `Location` back to this stand-in, which a client must not follow).
    pub chat_status: Option<u16>,
    /// The status `escalate` gets (2xx accepts).
    pub escalate_status: u16,
    /// The `isOnline` answer; `None` answers 500.
    pub team_online: Option<bool>,
    /// Wait this long before answering anything (to exercise timeouts).
    pub delay: Duration,
    /// Status and body of the actions webhook's answer.
    pub action_status: u16,
    pub action_answer: String,
    /// Keep request bodies (off for benchmarks).
    pub keep_bodies: bool,
}

impl StandInConfig {
    pub fn new(secret: SigningSecret) -> Self {
        StandInConfig {
            secret,
            fail_first: 0,
            retry_after: None,
            chat_status: None,
            escalate_status: 200,
            team_online: Some(true),
            delay: Duration::ZERO,
            action_status: 200,
            action_answer: r#"{"results": []}"#.to_string(),
            keep_bodies: true,
        }
    }
}

/// One request as the stand-in saw it.
#[derive(Debug, Clone)]
pub struct Received {
    pub path: String,
    pub id: String,
    pub timestamp: String,
    /// `None` when the body was not JSON or bodies are not kept.
    pub body: Option<serde_json::Value>,
    pub signature_ok: bool,
    /// 1 for the first time this id arrived.
    pub try_number: u32,
    pub status: u16,
}

struct Shared {
    cfg: StandInConfig,
    log: Mutex<Log>,
    arrived: Notify,
}

#[derive(Default)]
struct Log {
    received: Vec<Received>,
    tries: HashMap<String, u32>,
}

pub struct StandIn {
    addr: SocketAddr,
    shared: Arc<Shared>,
    task: tokio::task::JoinHandle<()>,
}

impl Drop for StandIn {
    fn drop(&mut self) {
        self.task.abort();
    }
}

impl StandIn {
    pub async fn start(cfg: StandInConfig) -> std::io::Result<StandIn> {
        let listener = tokio::net::TcpListener::bind(("127.0.0.1", 0)).await?;
        let addr = listener.local_addr()?;
        let shared = Arc::new(Shared {
            cfg,
            log: Mutex::default(),
            arrived: Notify::new(),
        });
        let app = Router::new()
            .route(CHAT_PATH, post(chat))
            .route(ACTIONS_PATH, post(action))
            .with_state(shared.clone());
        let task = tokio::spawn(async move {
            let _ = axum::serve(listener, app).await;
        });
        Ok(StandIn { addr, shared, task })
    }

    pub fn chat_url(&self) -> String {
        format!("http://{}{CHAT_PATH}", self.addr)
    }

    pub fn actions_url(&self) -> String {
        format!("http://{}{ACTIONS_PATH}", self.addr)
    }

    pub fn received(&self) -> Vec<Received> {
        self.shared.log.lock().unwrap().received.clone()
    }

    pub fn count(&self) -> usize {
        self.shared.log.lock().unwrap().received.len()
    }

    /// Waits until at least `n` requests arrived, or `limit` passed; returns how many did.
    pub async fn wait_for(&self, n: usize, limit: Duration) -> usize {
        let deadline = tokio::time::Instant::now() + limit;
        loop {
            let notified = self.shared.arrived.notified();
            let c = self.count();
            if c >= n {
                return c;
            }
            if tokio::time::timeout_at(deadline, notified).await.is_err() {
                return self.count();
            }
        }
    }
}

fn record(
    s: &Shared,
    path: &str,
    headers: &HeaderMap,
    body: &[u8],
    signature_ok: bool,
    status: u16,
    try_number: u32,
) {
    let h = |n: &str| {
        headers
            .get(n)
            .and_then(|v| v.to_str().ok())
            .unwrap_or("")
            .to_string()
    };
    let r = Received {
        path: path.to_string(),
        id: h(crate::sign::HEADER_ID),
        timestamp: h(crate::sign::HEADER_TIMESTAMP),
        body: if s.cfg.keep_bodies {
            serde_json::from_slice(body).ok()
        } else {
            None
        },
        signature_ok,
        try_number,
        status,
    };
    s.log.lock().unwrap().received.push(r);
    s.arrived.notify_waiters();
}

/// Signature check and try count; `None` means refused (the 401 is already recorded).
fn admit(s: &Shared, path: &str, headers: &HeaderMap, body: &[u8]) -> Option<u32> {
    let ok = SignatureHeaders::from_header_map(headers)
        .and_then(|h| {
            verify(
                std::slice::from_ref(&s.cfg.secret),
                &h,
                body,
                unix_now(),
                DEFAULT_TOLERANCE,
            )
        })
        .is_ok();
    if !ok {
        record(s, path, headers, body, false, 401, 0);
        return None;
    }
    let id = headers
        .get(crate::sign::HEADER_ID)
        .and_then(|v| v.to_str().ok())
        .unwrap_or("")
        .to_string();
    let mut log = s.log.lock().unwrap();
    let n = log.tries.entry(id).or_insert(0);
    *n += 1;
    Some(*n)
}

fn unauthorized() -> Response {
    (StatusCode::UNAUTHORIZED, "bad signature").into_response()
}

async fn chat(State(s): State<Arc<Shared>>, headers: HeaderMap, body: Bytes) -> Response {
    if !s.cfg.delay.is_zero() {
        tokio::time::sleep(s.cfg.delay).await;
    }
    let Some(try_number) = admit(&s, CHAT_PATH, &headers, &body) else {
        return unauthorized();
    };
    let event_type = serde_json::from_slice::<serde_json::Value>(&body)
        .ok()
        .and_then(|v| v["data"]["eventType"].as_str().map(str::to_string))
        .unwrap_or_default();
    let (status, answer) = match event_type.as_str() {
        "escalate" => (s.cfg.escalate_status, String::new()),
        "isTeamOnline" => match s.cfg.team_online {
            Some(b) => (200, format!(r#"{{"isOnline":{b}}}"#)),
            None => (500, "team lookup failed".to_string()),
        },
        _ if try_number <= s.cfg.fail_first => (503, "try later".to_string()),
        _ => (s.cfg.chat_status.unwrap_or(200), String::new()),
    };
    record(&s, CHAT_PATH, &headers, &body, true, status, try_number);
    let mut resp = (
        StatusCode::from_u16(status).unwrap_or(StatusCode::INTERNAL_SERVER_ERROR),
        answer,
    )
        .into_response();
    if (300..400).contains(&status) {
        resp.headers_mut().insert(
            axum::http::header::LOCATION,
            axum::http::HeaderValue::from_static(CHAT_PATH),
        );
    }
    if status == 503 {
        if let Some(ra) = s.cfg.retry_after.as_deref().and_then(|v| v.parse().ok()) {
            resp.headers_mut()
                .insert(axum::http::header::RETRY_AFTER, ra);
        }
    }
    resp
}

async fn action(State(s): State<Arc<Shared>>, headers: HeaderMap, body: Bytes) -> Response {
    if !s.cfg.delay.is_zero() {
        tokio::time::sleep(s.cfg.delay).await;
    }
    let Some(try_number) = admit(&s, ACTIONS_PATH, &headers, &body) else {
        return unauthorized();
    };
    record(
        &s,
        ACTIONS_PATH,
        &headers,
        &body,
        true,
        s.cfg.action_status,
        try_number,
    );
    (
        StatusCode::from_u16(s.cfg.action_status).unwrap_or(StatusCode::INTERNAL_SERVER_ERROR),
        [(axum::http::header::CONTENT_TYPE, "application/json")],
        s.cfg.action_answer.clone(),
    )
        .into_response()
}
