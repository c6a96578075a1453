//! An event-stream (SSE) reader on the protocol crate's parser, as a client of
//! `GET /v1/threads/{id}/events` sees it; every read is bounded by [`PATIENCE`].

use futures_util::StreamExt;
use natter_protocol::sse::{SseEvent, SseParser};
use serde_json::Value;

use crate::wait::PATIENCE;

pub struct SseReader {
    body: futures_util::stream::BoxStream<'static, reqwest::Result<bytes::Bytes>>,
    parser: SseParser,
    pending: std::collections::VecDeque<SseEvent>,
}

impl SseReader {
    pub fn new(resp: reqwest::Response) -> Self {
        SseReader {
            body: resp.bytes_stream().boxed(),
            parser: SseParser::new(),
            pending: Default::default(),
        }
    }

    /// The next event, `None` when the stream ends. Panics after [`PATIENCE`].
    pub async fn next(&mut self) -> Option<SseEvent> {
        tokio::time::timeout(PATIENCE, async {
            loop {
                if let Some(e) = self.pending.pop_front() {
                    return Some(e);
                }
                match self.body.next().await {
                    Some(Ok(chunk)) => self.pending.extend(self.parser.feed(&chunk)),
                    _ => return None,
                }
            }
        })
        .await
        .expect("event within patience")
    }

    pub async fn next_json(&mut self) -> Option<Value> {
        let e = self.next().await?;
        let v: Value = serde_json::from_str(&e.data).unwrap();
        assert_eq!(
            v["seq"].to_string(),
            e.id.clone().unwrap(),
            "id line is the seq"
        );
        assert_eq!(
            v["type"].as_str().unwrap(),
            e.event,
            "event line is the type"
        );
        Some(v)
    }

    pub fn retry(&self) -> Option<u64> {
        self.parser.retry()
    }
}

pub fn types(events: &[Value]) -> Vec<String> {
    events
        .iter()
        .map(|e| e["type"].as_str().unwrap().to_string())
        .collect()
}

/// The texts of the completed bot messages among `events`.
pub fn replies(events: &[Value]) -> Vec<String> {
    events
        .iter()
        .filter(|e| e["type"] == "message.completed")
        .map(|e| {
            e["message"]["content"]
                .as_array()
                .unwrap()
                .iter()
                .filter_map(|c| c["text"].as_str())
                .collect::<Vec<_>>()
                .join("|")
        })
        .collect()
}
