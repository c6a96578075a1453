//! `GET /v1/threads/{id}/events`: the thread's event log as Server-Sent Events.
//!
//! The stream starts with a `retry:` hint, then every event with seq > the resume point
//! (`Last-Event-ID` header, else `?after=`, else 0), then live events as they are published,
//! with `: keep-alive` comments when idle. Each event is sent exactly once and in seq order:
//! the stream subscribes to the [`Hub`](crate::hub::Hub) before reading the log, drops
//! anything at or below the last seq it sent, and re-reads the log on any gap or lag.
//! It ends when the client goes away or the server shuts down.

use std::collections::VecDeque;
use std::sync::atomic::Ordering;
use std::sync::Arc;
use std::time::Duration;

use axum::body::Body;
use axum::extract::{Path, Query, State};
use axum::http::{header, HeaderMap, HeaderValue};
use axum::response::Response;
use axum::routing::get;
use axum::Router;
use natter_protocol::{error_code as code, sse};
use serde::Deserialize;
use tokio::sync::broadcast::error::RecvError;
use tokio_util::sync::CancellationToken;

use super::error::ApiError;
use super::AppState;
use crate::hub::Subscription;
use crate::metrics;
use crate::store::{Store, StoredEvent};

/// Events read from the log per query while catching up.
const PAGE: u32 = 500;
/// Bytes coalesced into one body chunk when events are ready back to back.
const MAX_CHUNK: usize = 64 * 1024;

pub fn router() -> Router<Arc<AppState>> {
    Router::new().route("/threads/{id}/events", get(stream))
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct Resume {
    after: Option<String>,
}

fn parse_seq(s: &str, what: &str) -> Result<u64, ApiError> {
    s.trim().parse().map_err(|_| {
        ApiError::bad(
            code::INVALID_REQUEST,
            format!("{what} must be a non-negative integer"),
        )
    })
}

async fn stream(
    State(st): State<Arc<AppState>>,
    Path(id): Path<String>,
    Query(q): Query<Resume>,
    headers: HeaderMap,
) -> Result<Response, ApiError> {
    st.authorized_thread(&id, &headers).await?;
    // An empty Last-Event-ID means "no id yet" (as in EventSource), not an error.
    let last_event_id = headers
        .get("last-event-id")
        .filter(|h| !h.as_bytes().iter().all(u8::is_ascii_whitespace));
    let after = match (last_event_id, &q.after) {
        (Some(h), _) => parse_seq(h.to_str().unwrap_or("x"), "Last-Event-ID")?,
        (None, Some(a)) => parse_seq(a, "after")?,
        (None, None) => 0,
    };
    Ok(sse(&st, id, after))
}

/// The event stream of thread `id` from seq `after` on; the caller has authorized it (the
/// widget's API per bot and owner, the admin API by the admin token).
pub fn sse(st: &AppState, id: String, after: u64) -> Response {
    let sub = st.hub.subscribe(&id);
    let state = StreamState {
        store: st.store.clone(),
        thread_id: id,
        sub,
        last: after,
        backlog: VecDeque::new(),
        need_log: true,
        shutdown: st.shutdown.clone(),
        keepalive: st.config.sse_keepalive,
        hello: Some(st.config.sse_retry_ms),
        _open: OpenGauge::new(),
    };
    let body = Body::from_stream(futures_util::stream::unfold(state, next_chunk));
    let mut resp = Response::new(body);
    let h = resp.headers_mut();
    h.insert(
        header::CONTENT_TYPE,
        HeaderValue::from_static("text/event-stream"),
    );
    h.insert(
        header::CACHE_CONTROL,
        HeaderValue::from_static("no-cache, no-store"),
    );
    // Tell reverse proxies (nginx) not to buffer the stream.
    h.insert("x-accel-buffering", HeaderValue::from_static("no"));
    resp
}

struct StreamState {
    store: Arc<dyn Store>,
    thread_id: String,
    sub: Subscription,
    /// Seq of the last event sent (or the resume point).
    last: u64,
    backlog: VecDeque<Arc<StoredEvent>>,
    /// The log may hold events after `last` that the channel will not deliver.
    need_log: bool,
    shutdown: CancellationToken,
    keepalive: Duration,
    hello: Option<u64>,
    _open: OpenGauge,
}

/// Counts open streams in `natter_sse_streams_open` for as long as it lives.
struct OpenGauge;
impl OpenGauge {
    fn new() -> Self {
        metrics::global().sse_open.fetch_add(1, Ordering::Relaxed);
        OpenGauge
    }
}
impl Drop for OpenGauge {
    fn drop(&mut self) {
        metrics::global().sse_open.fetch_sub(1, Ordering::Relaxed);
    }
}

impl StreamState {
    /// Moves whatever the channel already holds into the backlog without waiting.
    fn drain_channel(&mut self) {
        loop {
            match self.sub.rx.try_recv() {
                Ok(ev) => self.accept(ev),
                Err(tokio::sync::broadcast::error::TryRecvError::Lagged(_)) => self.need_log = true,
                Err(_) => return,
            }
        }
    }

    fn accept(&mut self, ev: Arc<StoredEvent>) {
        let expected = self.backlog.back().map_or(self.last, |e| e.seq) + 1;
        if ev.seq == expected {
            self.backlog.push_back(ev);
        } else if ev.seq > expected {
            self.need_log = true; // a gap: the log has what we missed
        }
    }

    /// Writes the contiguous backlog as SSE frames.
    fn render(&mut self, out: &mut String) {
        while let Some(ev) = self.backlog.pop_front() {
            if ev.seq <= self.last {
                continue;
            }
            if ev.seq != self.last + 1 {
                self.backlog.clear();
                self.need_log = true;
                return;
            }
            // File URLs signed: the page shows images with `<img src>`, which sends no token.
            let json = crate::attachments::items::sign_event_json(&self.thread_id, &ev.json);
            sse::encode_event(out, Some(&ev.seq.to_string()), &ev.event_type, &json);
            self.last = ev.seq;
            if out.len() >= MAX_CHUNK {
                return;
            }
        }
    }
}

type Chunk = Result<bytes::Bytes, std::io::Error>;

async fn next_chunk(mut st: StreamState) -> Option<(Chunk, StreamState)> {
    let mut out = String::new();
    if let Some(ms) = st.hello.take() {
        sse::encode_retry(&mut out, ms);
    }
    loop {
        if st.shutdown.is_cancelled() {
            return None;
        }
        if st.need_log && st.backlog.is_empty() {
            st.need_log = false;
            match st.store.events_after(&st.thread_id, st.last, PAGE).await {
                Ok(evs) => {
                    if evs.len() as u32 == PAGE {
                        st.need_log = true;
                    }
                    st.backlog.extend(evs);
                }
                Err(e) => {
                    tracing::warn!(thread = %st.thread_id, error = %e, "event stream: log read failed; ending stream");
                    return None;
                }
            }
        }
        st.drain_channel();
        st.render(&mut out);
        if !out.is_empty() {
            return Some((Ok(bytes::Bytes::from(out)), st));
        }
        if st.need_log {
            continue;
        }
        tokio::select! {
            _ = st.shutdown.cancelled() => return None,
            r = st.sub.rx.recv() => match r {
                Ok(ev) => st.accept(ev),
                Err(RecvError::Lagged(_)) => st.need_log = true,
                Err(RecvError::Closed) => return None,
            },
            _ = tokio::time::sleep(st.keepalive) => {
                sse::encode_comment(&mut out, "keep-alive");
                return Some((Ok(bytes::Bytes::from(out)), st));
            }
        }
    }
}
