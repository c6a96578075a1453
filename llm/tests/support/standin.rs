//! A stand-in OpenAI-compatible server on 127.0.0.1 for tests and the benchmark.
//!
//! `POST /v1/chat/completions` (any path ending so, Azure-style included) answers with the next
//! queued [`Reply`], or the default one when the queue is empty. Streams are framed exactly as
//! the OpenAI API frames them: a role chunk, content or tool-call chunks (arguments split
//! across chunks), a finish chunk, a usage chunk with empty `choices`, `data: [DONE]`. Replies
//! can fail: an HTTP status (with `Retry-After`), a body that stops, a body that stalls.
#![allow(dead_code)]

use std::collections::VecDeque;
use std::convert::Infallible;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use axum::body::{Body, Bytes};
use axum::extract::{RawQuery, State};
use axum::http::{HeaderMap, StatusCode};
use axum::response::Response;
use axum::serve::ListenerExt;
use axum::Router;
use serde_json::{json, Value};

#[derive(Debug, Clone)]
pub enum Reply {
    /// SSE `data` payloads, each sent as its own event, then `[DONE]` unless cut.
    Stream {
        datas: Vec<String>,
        /// Send each event in two writes split mid-JSON, with this gap (tests the parser
        /// against real network splits). `None`: one write per event, no gap.
        split_gap: Option<Duration>,
        /// After this many events, close the body (no finish, no `[DONE]`).
        stop_after: Option<usize>,
        /// After this many events, go silent (the connection stays open).
        stall_after: Option<usize>,
    },
    Status {
        status: u16,
        retry_after: Option<String>,
        body: String,
    },
    /// A 200 `application/json` body (a server that ignores `stream: true`).
    Json(String),
}

impl Reply {
    pub fn stream(datas: Vec<String>) -> Reply {
        Reply::Stream {
            datas,
            split_gap: Some(Duration::from_millis(1)),
            stop_after: None,
            stall_after: None,
        }
    }
    pub fn fast(datas: Vec<String>) -> Reply {
        Reply::Stream {
            datas,
            split_gap: None,
            stop_after: None,
            stall_after: None,
        }
    }
    pub fn stopping(datas: Vec<String>, after: usize) -> Reply {
        Reply::Stream {
            datas,
            split_gap: None,
            stop_after: Some(after),
            stall_after: None,
        }
    }
    pub fn stalling(datas: Vec<String>, after: usize) -> Reply {
        Reply::Stream {
            datas,
            split_gap: None,
            stop_after: None,
            stall_after: Some(after),
        }
    }
    pub fn status(status: u16, retry_after: Option<&str>) -> Reply {
        Reply::Status {
            status,
            retry_after: retry_after.map(str::to_string),
            body: json!({"error": {"message": format!("stand-in {status}")}}).to_string(),
        }
    }
}

/// One request as received.
#[derive(Debug, Clone)]
pub struct Seen {
    pub body: Value,
    pub headers: HeaderMap,
    pub query: Option<String>,
}

#[derive(Default)]
struct Shared {
    queue: Mutex<VecDeque<Reply>>,
    default: Mutex<Option<Reply>>,
    seen: Mutex<Vec<Seen>>,
    record: bool,
    connections: std::sync::atomic::AtomicUsize,
}

pub struct StandIn {
    /// `http://127.0.0.1:PORT/v1`, the `base_url` to configure.
    pub base_url: String,
    shared: Arc<Shared>,
}

impl StandIn {
    /// Starts on an ephemeral port; `record` keeps every request for inspection.
    pub async fn start(record: bool) -> StandIn {
        let shared = Arc::new(Shared {
            record,
            ..Default::default()
        });
        let app = Router::new().fallback(handle).with_state(shared.clone());
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let addr = listener.local_addr().unwrap();
        // No Nagle: each event goes out at once, as from a real streaming server (otherwise
        // delayed ACKs add ~40 ms stalls between small writes and swamp every measurement).
        let counter = shared.clone();
        let listener = listener.tap_io(move |tcp| {
            let _ = tcp.set_nodelay(true);
            counter
                .connections
                .fetch_add(1, std::sync::atomic::Ordering::Relaxed);
        });
        tokio::spawn(async move { axum::serve(listener, app).await.unwrap() });
        StandIn {
            base_url: format!("http://{addr}/v1"),
            shared,
        }
    }

    pub fn push(&self, r: Reply) -> &Self {
        self.shared.queue.lock().unwrap().push_back(r);
        self
    }

    pub fn set_default(&self, r: Reply) {
        *self.shared.default.lock().unwrap() = Some(r);
    }

    /// TCP connections accepted so far.
    pub fn connections(&self) -> usize {
        self.shared
            .connections
            .load(std::sync::atomic::Ordering::Relaxed)
    }

    pub fn seen(&self) -> Vec<Seen> {
        self.shared.seen.lock().unwrap().clone()
    }
}

async fn handle(
    State(s): State<Arc<Shared>>,
    RawQuery(query): RawQuery,
    headers: HeaderMap,
    body: Bytes,
) -> Response {
    let body: Value = serde_json::from_slice(&body).unwrap_or(Value::Null);
    if s.record {
        s.seen.lock().unwrap().push(Seen {
            body,
            headers,
            query,
        });
    }
    let reply = s
        .queue
        .lock()
        .unwrap()
        .pop_front()
        .or_else(|| s.default.lock().unwrap().clone());
    match reply {
        None => Response::builder()
            .status(500)
            .body(Body::from("no reply queued"))
            .unwrap(),
        Some(Reply::Status {
            status,
            retry_after,
            body,
        }) => {
            let mut b = Response::builder()
                .status(StatusCode::from_u16(status).unwrap())
                .header("content-type", "application/json");
            if let Some(ra) = retry_after {
                b = b.header("retry-after", ra);
            }
            b.body(Body::from(body)).unwrap()
        }
        Some(Reply::Json(body)) => Response::builder()
            .header("content-type", "application/json")
            .body(Body::from(body))
            .unwrap(),
        Some(Reply::Stream {
            datas,
            split_gap,
            stop_after,
            stall_after,
        }) => {
            let (tx, rx) = tokio::sync::mpsc::channel::<Bytes>(8);
            tokio::spawn(async move {
                let mut events: Vec<String> =
                    datas.iter().map(|d| format!("data: {d}\n\n")).collect();
                events.push("data: [DONE]\n\n".into());
                for (i, ev) in events.into_iter().enumerate() {
                    if stop_after == Some(i) {
                        return; // dropping tx ends the body cleanly, mid-answer
                    }
                    if stall_after == Some(i) {
                        tokio::time::sleep(Duration::from_secs(30)).await;
                        return;
                    }
                    match split_gap {
                        Some(gap) => {
                            // An odd split point lands inside the JSON (and sometimes inside "\n\n").
                            let cut = (ev.len() * 2 / 3).max(1);
                            let (a, b) = ev.split_at(cut);
                            if tx.send(Bytes::from(a.to_string())).await.is_err() {
                                return;
                            }
                            tokio::time::sleep(gap).await;
                            if tx.send(Bytes::from(b.to_string())).await.is_err() {
                                return;
                            }
                        }
                        None => {
                            if tx.send(Bytes::from(ev)).await.is_err() {
                                return;
                            }
                        }
                    }
                }
            });
            let stream = futures_util::stream::unfold(rx, |mut rx| async move {
                rx.recv().await.map(|b| (Ok::<_, Infallible>(b), rx))
            });
            Response::builder()
                .header("content-type", "text/event-stream")
                .header("cache-control", "no-cache")
                .body(Body::from_stream(stream))
                .unwrap()
        }
    }
}

/// Chunk payloads shaped exactly like OpenAI's.
pub mod chunks {
    use serde_json::{json, Value};

    fn chunk(delta: Value, finish: Option<&str>) -> String {
        json!({
            "id": "chatcmpl-standin", "object": "chat.completion.chunk", "created": 1_700_000_000,
            "model": "stand-in", "system_fingerprint": "fp_standin",
            "choices": [{"index": 0, "delta": delta, "logprobs": null, "finish_reason": finish}],
            "usage": null,
        })
        .to_string()
    }

    fn role() -> String {
        chunk(
            json!({"role": "assistant", "content": "", "refusal": null}),
            None,
        )
    }

    fn usage() -> String {
        json!({
            "id": "chatcmpl-standin", "object": "chat.completion.chunk", "created": 1_700_000_000,
            "model": "stand-in", "system_fingerprint": "fp_standin", "choices": [],
            "usage": {"prompt_tokens": 20, "completion_tokens": 10, "total_tokens": 30},
        })
        .to_string()
    }

    /// Role chunk, one chunk per piece, `finish_reason: "stop"`, usage.
    pub fn text(pieces: &[&str]) -> Vec<String> {
        let mut v = vec![role()];
        v.extend(pieces.iter().map(|p| chunk(json!({"content": p}), None)));
        v.push(chunk(json!({}), Some("stop")));
        v.push(usage());
        v
    }

    /// Only the content chunks (for streams cut before the finish).
    pub fn partial(pieces: &[&str]) -> Vec<String> {
        let mut v = vec![role()];
        v.extend(pieces.iter().map(|p| chunk(json!({"content": p}), None)));
        v
    }

    /// Tool calls `(id, name, arguments)`: the first chunk of each call carries id, name and
    /// empty arguments; the arguments follow in 7-byte pieces; `finish_reason: "tool_calls"`.
    pub fn tool_calls(calls: &[(&str, &str, &str)]) -> Vec<String> {
        let mut v = Vec::new();
        for (i, (id, name, args)) in calls.iter().enumerate() {
            let first = json!({"index": i, "id": id, "type": "function", "function": {"name": name, "arguments": ""}});
            let delta = if i == 0 {
                json!({"role": "assistant", "content": null, "tool_calls": [first], "refusal": null})
            } else {
                json!({"tool_calls": [first]})
            };
            v.push(chunk(delta, None));
            let bytes: Vec<char> = args.chars().collect();
            for piece in bytes.chunks(7) {
                let s: String = piece.iter().collect();
                v.push(chunk(
                    json!({"tool_calls": [{"index": i, "function": {"arguments": s}}]}),
                    None,
                ));
            }
        }
        v.push(chunk(json!({}), Some("tool_calls")));
        v.push(usage());
        v
    }
}
