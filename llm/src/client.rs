//! The streaming chat-completions client, behind the [`Model`] seam.
//!
//! [`ChatClient::start`] POSTs the request with `stream: true` and returns a [`ChatStream`]
//! that reads the body chunk by chunk through the SSE parser and the [`Assembler`].
//!
//! Timeouts, each a typed [`ApiError::Timeout`]: connect (reqwest), first byte (request sent →
//! first body byte: queueing and time to first token), stall (silence between two chunks once
//! the body has started), and the whole call (`request_timeout`). A stream that ends without a
//! `finish_reason` is [`ApiError::Truncated`], never a silent short answer. A server that
//! answers with one JSON completion (`application/json`) instead of a stream is read as one.
//!
//! The API key is sent as `Authorization: Bearer` (or Azure's `api-key` header) and appears in
//! no error, log or `Debug` output.

use std::collections::VecDeque;
use std::pin::Pin;
use std::time::Duration;

use async_trait::async_trait;
use bytes::Bytes;
use futures_util::{Stream, StreamExt};
use serde::Serialize;
use serde_json::json;
use tokio::time::{timeout_at, Instant};
use url::Url;

use crate::assemble::{AssembleError, Assembler, StreamEvent};
use crate::config::{ApiKey, ConfigError, LlmConfig};
use crate::sse::{SseError, SseParser};
use crate::wire::ChatRequest;

/// Default cap on one response body: far above any real answer (a 4k-token answer streams as
/// ~1 MB of chunks), low enough that a runaway server cannot exhaust memory before
/// `request_timeout`.
pub const MAX_BODY: usize = 16 << 20;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum TimeoutKind {
    Connect,
    FirstByte,
    Stall,
    Request,
}

/// A failed model call. [`ApiError::is_retryable`] says whether trying again may help.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ApiError {
    #[error("the model endpoint answered HTTP {status}: {body}")]
    Status {
        status: u16,
        retry_after: Option<Duration>,
        body: String,
    },
    #[error("timed out ({0:?})")]
    Timeout(TimeoutKind),
    #[error("could not reach the model endpoint: {0}")]
    Connect(String),
    #[error("transport error: {0}")]
    Transport(String),
    #[error("malformed stream: {0}")]
    Malformed(String),
    #[error("the model reported an error in the stream: {0}")]
    Upstream(String),
    #[error("the stream ended without a finish_reason")]
    Truncated,
}

impl ApiError {
    pub fn is_retryable(&self) -> bool {
        match self {
            ApiError::Status { status, .. } => *status == 408 || *status == 429 || *status >= 500,
            ApiError::Timeout(_)
            | ApiError::Connect(_)
            | ApiError::Transport(_)
            | ApiError::Malformed(_)
            | ApiError::Upstream(_)
            | ApiError::Truncated => true,
        }
    }

    /// The server's `Retry-After`, if it sent one.
    pub fn retry_after(&self) -> Option<Duration> {
        match self {
            ApiError::Status { retry_after, .. } => *retry_after,
            _ => None,
        }
    }
}

impl From<AssembleError> for ApiError {
    fn from(e: AssembleError) -> Self {
        match e {
            AssembleError::Upstream(m) => ApiError::Upstream(m),
            e => ApiError::Malformed(e.to_string()),
        }
    }
}

impl From<SseError> for ApiError {
    fn from(e: SseError) -> Self {
        ApiError::Malformed(e.to_string())
    }
}

#[derive(Debug, thiserror::Error)]
pub enum ClientError {
    #[error(transparent)]
    Config(#[from] ConfigError),
    #[error("could not build the HTTP client: {0}")]
    Build(String),
    #[error("llm.base_url is refused by the bot's outbound-address policy ([network]): {0}")]
    Refused(natter_actions::PolicyError),
}

/// A source of streamed model answers: [`ChatClient`] in production, a script in tests.
#[async_trait]
pub trait Model: Send + Sync {
    /// Sends the request; `Ok` once the response headers said 2xx.
    async fn start(&self, req: &ChatRequest) -> Result<Box<dyn EventStream>, ApiError>;
}

/// The events of one model answer. `None` after the last event (or after an error).
#[async_trait]
pub trait EventStream: Send {
    async fn next_event(&mut self) -> Option<Result<StreamEvent, ApiError>>;
}

/// The settings of every model client, guarded or not.
fn configure(b: reqwest::ClientBuilder, cfg: &LlmConfig) -> Result<reqwest::Client, ClientError> {
    b.connect_timeout(cfg.connect_timeout)
        .pool_idle_timeout(Duration::from_secs(60))
        // Redirects would resend the key to wherever they point.
        .redirect(reqwest::redirect::Policy::none())
        .build()
        .map_err(|e| ClientError::Build(e.to_string()))
}

/// One per bot: holds the connection pool, the endpoint and the key.
#[derive(Clone)]
pub struct ChatClient {
    http: reqwest::Client,
    endpoint: Url,
    /// The ready auth header (name, value marked sensitive so no `Debug` of it shows it).
    auth: Option<(&'static str, reqwest::header::HeaderValue)>,
    stream_usage: bool,
    max_body: usize,
    first_byte: Duration,
    stall: Duration,
    request: Duration,
}

impl std::fmt::Debug for ChatClient {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("ChatClient")
            .field("endpoint", &self.endpoint.as_str())
            .field("key", &self.auth.as_ref().map(|_| "[redacted]"))
            .finish()
    }
}

impl ChatClient {
    /// Validates the config and reads the key from the environment.
    pub fn new(cfg: &LlmConfig) -> Result<ChatClient, ClientError> {
        if let Err(mut errs) = cfg.validate() {
            return Err(ClientError::Config(errs.remove(0)));
        }
        let key = cfg.api_key()?;
        Self::with_key(cfg, key)
    }

    /// As [`ChatClient::new`] with the key given (tests, or keys from elsewhere).
    pub fn with_key(cfg: &LlmConfig, key: Option<ApiKey>) -> Result<ChatClient, ClientError> {
        let http = configure(reqwest::Client::builder(), cfg)?;
        let auth = match key {
            None => None,
            Some(k) => {
                let (name, value) = if cfg.is_azure() {
                    ("api-key", k.expose().to_string())
                } else {
                    ("authorization", format!("Bearer {}", k.expose()))
                };
                let mut v = reqwest::header::HeaderValue::from_str(&value).map_err(|_| {
                    ClientError::Build(
                        "the API key holds characters not allowed in an HTTP header".into(),
                    )
                })?;
                v.set_sensitive(true);
                Some((name, v))
            }
        };
        Ok(ChatClient {
            http,
            endpoint: cfg.endpoint()?,
            auth,
            stream_usage: cfg.stream_usage,
            max_body: MAX_BODY,
            first_byte: cfg.first_byte_timeout,
            stall: cfg.stall_timeout,
            request: cfg.request_timeout,
        })
    }

    /// This client obeys `guard` (the bot's outbound-address policy, as its API actions do):
    /// a literal-IP endpoint it refuses is an error now; a name connects only to the addresses
    /// it allows (a refused answer fails the request).
    pub fn guarded(
        mut self,
        cfg: &LlmConfig,
        guard: &natter_actions::Guard,
    ) -> Result<ChatClient, ClientError> {
        guard.check(&self.endpoint).map_err(ClientError::Refused)?;
        self.http = configure(guard.builder(), cfg)?;
        Ok(self)
    }

    /// Caps the bytes of one response body (default [`MAX_BODY`]).
    pub fn with_max_body(mut self, bytes: usize) -> ChatClient {
        self.max_body = bytes;
        self
    }

    /// Starts a streamed completion.
    pub async fn stream(&self, req: &ChatRequest) -> Result<ChatStream, ApiError> {
        #[derive(Serialize)]
        struct Body<'a> {
            #[serde(flatten)]
            req: &'a ChatRequest,
            stream: bool,
            #[serde(skip_serializing_if = "Option::is_none")]
            stream_options: Option<serde_json::Value>,
        }
        let started = Instant::now();
        let deadline = started + self.request;
        let first_deadline = (started + self.first_byte).min(deadline);
        let mut rb = self
            .http
            .post(self.endpoint.clone())
            .header("accept", "text/event-stream")
            .json(&Body {
                req,
                stream: true,
                stream_options: self.stream_usage.then(|| json!({"include_usage": true})),
            });
        if let Some((name, value)) = &self.auth {
            rb = rb.header(*name, value.clone());
        }
        let resp = match timeout_at(first_deadline, rb.send()).await {
            Err(_) => {
                return Err(ApiError::Timeout(if first_deadline < deadline {
                    TimeoutKind::FirstByte
                } else {
                    TimeoutKind::Request
                }))
            }
            Ok(Err(e)) => return Err(send_error(e)),
            Ok(Ok(r)) => r,
        };
        let status = resp.status();
        if !status.is_success() {
            let retry_after = retry_after(resp.headers());
            // The body explains the failure; read a little of it, briefly.
            let body = match timeout_at(
                first_deadline.max(Instant::now() + Duration::from_millis(200)),
                resp.bytes(),
            )
            .await
            {
                Ok(Ok(b)) => String::from_utf8_lossy(&b[..b.len().min(500)]).into_owned(),
                _ => String::new(),
            };
            return Err(ApiError::Status {
                status: status.as_u16(),
                retry_after,
                body,
            });
        }
        let json = resp
            .headers()
            .get("content-type")
            .and_then(|v| v.to_str().ok())
            .is_some_and(|v| v.trim_start().starts_with("application/json"));
        if json {
            // Not a stream: the whole completion in one body (some proxies and servers).
            let body = match timeout_at(deadline, resp.bytes()).await {
                Err(_) => return Err(ApiError::Timeout(TimeoutKind::Request)),
                Ok(Err(e)) => return Err(ApiError::Transport(without_url(&e))),
                Ok(Ok(b)) => b,
            };
            if body.len() > self.max_body {
                return Err(ApiError::Malformed(format!(
                    "the response exceeded {} bytes",
                    self.max_body
                )));
            }
            let events = crate::assemble::from_completion(&body)?;
            return Ok(ChatStream {
                body: Box::pin(futures_util::stream::empty()),
                parser: SseParser::default(),
                asm: Assembler::default(),
                pending: events.into(),
                next_deadline: deadline,
                next_kind: TimeoutKind::Request,
                deadline,
                stall: self.stall,
                ended: true,
                read: 0,
                max_body: self.max_body,
            });
        }
        Ok(ChatStream {
            body: Box::pin(resp.bytes_stream()),
            parser: SseParser::default(),
            asm: Assembler::default(),
            pending: VecDeque::new(),
            next_deadline: first_deadline,
            next_kind: TimeoutKind::FirstByte,
            deadline,
            stall: self.stall,
            ended: false,
            read: 0,
            max_body: self.max_body,
        })
    }
}

#[async_trait]
impl Model for ChatClient {
    async fn start(&self, req: &ChatRequest) -> Result<Box<dyn EventStream>, ApiError> {
        Ok(Box::new(self.stream(req).await?))
    }
}

fn send_error(e: reqwest::Error) -> ApiError {
    if e.is_timeout() {
        ApiError::Timeout(TimeoutKind::Connect)
    } else if e.is_connect() {
        ApiError::Connect(without_url(&e))
    } else {
        ApiError::Transport(without_url(&e))
    }
}

// reqwest errors print the URL; the key is never in it, but keep messages short and stable.
fn without_url(e: &reqwest::Error) -> String {
    use std::error::Error;
    let mut msg = String::new();
    let mut src = e.source();
    while let Some(s) = src {
        if !msg.is_empty() {
            msg.push_str(": ");
        }
        msg.push_str(&s.to_string());
        src = s.source();
    }
    if msg.is_empty() {
        e.to_string()
    } else {
        msg
    }
}

/// The wait a 429/503 asks for: `retry-after-ms` (OpenAI, Azure) if present, else
/// `Retry-After`.
pub fn retry_after(h: &reqwest::header::HeaderMap) -> Option<Duration> {
    let ms = h
        .get("retry-after-ms")
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.trim().parse::<f64>().ok());
    if let Some(ms) = ms.filter(|m| m.is_finite() && *m >= 0.0) {
        return Some(Duration::from_secs_f64(ms / 1000.0));
    }
    h.get("retry-after")
        .and_then(|v| v.to_str().ok())
        .and_then(parse_retry_after)
}

/// `Retry-After`: delta-seconds or an HTTP date.
pub fn parse_retry_after(v: &str) -> Option<Duration> {
    let v = v.trim();
    if let Ok(secs) = v.parse::<f64>() {
        return Duration::try_from_secs_f64(secs.max(0.0)).ok();
    }
    let when = httpdate::parse_http_date(v).ok()?;
    Some(
        when.duration_since(std::time::SystemTime::now())
            .unwrap_or(Duration::ZERO),
    )
}

/// The events of one streamed answer, read with [`EventStream::next_event`].
pub struct ChatStream {
    body: Pin<Box<dyn Stream<Item = reqwest::Result<Bytes>> + Send>>,
    parser: SseParser,
    asm: Assembler,
    pending: VecDeque<StreamEvent>,
    next_deadline: Instant,
    next_kind: TimeoutKind,
    deadline: Instant,
    stall: Duration,
    ended: bool,
    /// Body bytes read so far, against `max_body`.
    read: usize,
    max_body: usize,
}

impl ChatStream {
    /// The events as a `futures` [`Stream`] (ends after the last event or the first error).
    pub fn into_stream(self) -> impl Stream<Item = Result<StreamEvent, ApiError>> + Send {
        futures_util::stream::unfold(self, |mut s| async move {
            s.next_event().await.map(|ev| (ev, s))
        })
    }

    /// Reads the body's end after `[DONE]`: a body dropped before its end takes its connection
    /// with it, and every turn would pay a new connect (and TLS handshake). Bounded, for
    /// servers that keep the body open after `[DONE]`.
    async fn drain(&mut self) {
        let until =
            (Instant::now() + self.stall.min(Duration::from_millis(250))).min(self.deadline);
        for _ in 0..8 {
            match timeout_at(until, self.body.next()).await {
                Ok(Some(Ok(_))) => {}
                _ => return,
            }
        }
    }

    fn fail(&mut self, e: ApiError) -> Option<Result<StreamEvent, ApiError>> {
        self.ended = true;
        Some(Err(e))
    }

    fn feed(&mut self, bytes: &[u8]) -> Result<(), ApiError> {
        let mut datas = Vec::new();
        self.parser.feed(bytes, &mut datas)?;
        self.push_datas(datas)
    }

    fn push_datas(&mut self, datas: Vec<String>) -> Result<(), ApiError> {
        let mut evs = Vec::new();
        for d in datas {
            self.asm.push(&d, &mut evs)?;
        }
        self.pending.extend(evs);
        Ok(())
    }
}

#[async_trait]
impl EventStream for ChatStream {
    async fn next_event(&mut self) -> Option<Result<StreamEvent, ApiError>> {
        loop {
            if let Some(ev) = self.pending.pop_front() {
                return Some(Ok(ev));
            }
            if self.ended {
                return None;
            }
            if self.asm.is_done() {
                self.ended = true;
                if !self.asm.is_finished() {
                    return Some(Err(ApiError::Truncated));
                }
                self.drain().await;
                return None;
            }
            let (at, kind) = if self.next_deadline < self.deadline {
                (self.next_deadline, self.next_kind)
            } else {
                (self.deadline, TimeoutKind::Request)
            };
            match timeout_at(at, self.body.next()).await {
                Err(_) => return self.fail(ApiError::Timeout(kind)),
                Ok(Some(Err(e))) => {
                    let e = if e.is_timeout() {
                        ApiError::Timeout(kind)
                    } else {
                        ApiError::Transport(without_url(&e))
                    };
                    return self.fail(e);
                }
                Ok(Some(Ok(bytes))) => {
                    self.read += bytes.len();
                    if self.read > self.max_body {
                        return self.fail(ApiError::Malformed(format!(
                            "the response exceeded {} bytes",
                            self.max_body
                        )));
                    }
                    self.next_deadline = Instant::now() + self.stall;
                    self.next_kind = TimeoutKind::Stall;
                    if let Err(e) = self.feed(&bytes) {
                        return self.fail(e);
                    }
                }
                Ok(None) => {
                    // Body over. An event without its blank line still counts; a stream with
                    // a finish_reason but no `[DONE]` is complete (some servers omit it).
                    self.ended = true;
                    let tail: Vec<String> = self.parser.finish().into_iter().collect();
                    if let Err(e) = self.push_datas(tail) {
                        return self.fail(e);
                    }
                    if !self.asm.is_finished() {
                        self.pending.clear();
                        return Some(Err(ApiError::Truncated));
                    }
                }
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn retry_after_forms() {
        assert_eq!(parse_retry_after("2"), Some(Duration::from_secs(2)));
        assert_eq!(
            parse_retry_after(" 0.25 "),
            Some(Duration::from_millis(250))
        );
        assert_eq!(
            parse_retry_after("Wed, 21 Oct 2015 07:28:00 GMT"),
            Some(Duration::ZERO)
        );
        assert_eq!(parse_retry_after("soon"), None);
        let mut h = reqwest::header::HeaderMap::new();
        h.insert("retry-after", "3".parse().unwrap());
        assert_eq!(retry_after(&h), Some(Duration::from_secs(3)));
        h.insert("retry-after-ms", "150".parse().unwrap());
        assert_eq!(retry_after(&h), Some(Duration::from_millis(150)));
    }

    #[test]
    fn which_errors_are_retried() {
        let st = |s| ApiError::Status {
            status: s,
            retry_after: None,
            body: String::new(),
        };
        assert!(st(429).is_retryable() && st(503).is_retryable());
        assert!(!st(400).is_retryable() && !st(401).is_retryable() && !st(404).is_retryable());
        assert!(ApiError::Timeout(TimeoutKind::Stall).is_retryable());
    }
}
