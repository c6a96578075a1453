//! Shared by the server benchmarks: an SSE event reader and percentile helpers.

#![allow(dead_code)]

use std::time::Duration;

use futures_util::StreamExt;
use natter_protocol::sse::{SseEvent, SseParser};

pub struct Sse {
    body: futures_util::stream::BoxStream<'static, reqwest::Result<bytes::Bytes>>,
    parser: SseParser,
    pending: std::collections::VecDeque<SseEvent>,
}

impl Sse {
    pub fn new(resp: reqwest::Response) -> Self {
        Sse {
            body: resp.bytes_stream().boxed(),
            parser: SseParser::new(),
            pending: Default::default(),
        }
    }
    pub async fn next(&mut self) -> Option<SseEvent> {
        loop {
            if let Some(e) = self.pending.pop_front() {
                return Some(e);
            }
            match self.body.next().await {
                Some(Ok(c)) => self.pending.extend(self.parser.feed(&c)),
                _ => return None,
            }
        }
    }
}

pub fn pct(sorted: &[Duration], p: f64) -> Duration {
    if sorted.is_empty() {
        return Duration::ZERO;
    }
    sorted[((sorted.len() - 1) as f64 * p).round() as usize]
}

pub fn ms(d: Duration) -> String {
    format!("{:.2} ms", d.as_secs_f64() * 1000.0)
}

/// Resident set size of a process in MiB (Linux /proc).
pub fn rss_mib(pid: u32) -> f64 {
    let status = std::fs::read_to_string(format!("/proc/{pid}/status")).unwrap_or_default();
    status
        .lines()
        .find(|l| l.starts_with("VmRSS:"))
        .and_then(|l| l.split_whitespace().nth(1))
        .and_then(|kb| kb.parse::<f64>().ok())
        .map_or(0.0, |kb| kb / 1024.0)
}
