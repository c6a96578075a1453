//! Stream resume under random cuts: a live, paced reply is read through a TCP proxy that
//! closes each connection after a random number of bytes (inside the HTTP head, a chunk
//! header, or mid-event: inside a `data:` line). The client does what the widget does: it
//! keeps only whole events, reconnects with `Last-Event-ID` set to the last whole event's id,
//! and parses the new connection from scratch. The transcript so assembled must equal, byte for
//! byte, the thread's log as the store serves it afterwards: 0 gaps, 0 repeats.
//!
//! `NATTER_STREAM_CUTS` cuts of a live body (default 100); `NATTER_SEED` replays a schedule.

use futures_util::StreamExt;
use natter_protocol::sse::{SseEvent, SseParser};
use natter_testing::env_or;
use natter_testing::proxy::CutProxy;
use natter_testing::rand::Rng;
use serde_json::Value;

use crate::common::*;

const PACED_BOT: &str = r#"
greeting = "Hi"
[stream]
chunk = "word"
delay_ms = 5
[[workflows]]
name = "long"
triggers = { keywords = ["go"] }
steps = [
  { say = "alpha beta gamma delta epsilon zeta eta theta iota kappa lambda mu nu xi omicron pi" },
  { say = "rho sigma tau upsilon phi chi psi omega — crème brûlée, 東京, 🙂 done" },
]
"#;

/// What one connection brought before it ended.
struct Read {
    events: Vec<SseEvent>,
    /// The body had begun (the head was read), and the run had not completed, when it ended.
    cut_in_body: bool,
    /// Bytes of an unfinished event were pending at the end, within a `data:` line.
    cut_in_data: bool,
    completed: bool,
}

/// Reads one connection of `/events` (through the proxy) from `after` until it ends or `run`
/// completes. Only whole events count, as in the widget.
async fn read_once(
    client: &reqwest::Client,
    base: &str,
    thread: &str,
    after: u64,
    run: &str,
) -> Read {
    let mut read = Read {
        events: Vec::new(),
        cut_in_body: false,
        cut_in_data: false,
        completed: false,
    };
    let sent = client
        .get(format!("{base}/v1/threads/{thread}/events"))
        .header("Last-Event-ID", after.to_string())
        .send()
        .await;
    let Ok(resp) = sent else {
        return read; // cut inside the head
    };
    assert_eq!(resp.status(), 200);
    let mut parser = SseParser::new();
    let mut body = resp.bytes_stream();
    // Bytes since the last complete event, to tell where a cut fell.
    let mut tail: Vec<u8> = Vec::new();
    while let Some(chunk) = body.next().await {
        let Ok(chunk) = chunk else { break };
        tail.extend_from_slice(&chunk);
        if let Some(end) = tail.windows(2).rposition(|w| w == b"\n\n") {
            tail.drain(..end + 2);
        }
        for e in parser.feed(&chunk) {
            let v: Value = serde_json::from_str(&e.data).unwrap();
            let done = v["type"] == "run.completed" && v["runId"] == run;
            read.events.push(e);
            if done {
                read.completed = true;
                return read;
            }
        }
    }
    read.cut_in_body = true;
    let last_line = tail.rsplit(|&b| b == b'\n').next().unwrap_or(&[]);
    read.cut_in_data = last_line.starts_with(b"data:") && last_line.len() > 5;
    read
}

#[tokio::test]
async fn random_cuts_mid_event_resume_to_a_byte_identical_transcript() {
    let want_cuts = env_or("NATTER_STREAM_CUTS", 100usize);
    let mut rng = Rng::from_env("stream cuts");
    let s = TestServer::start_with(&[("p", PACED_BOT)], |_| {}).await;
    let proxy = CutProxy::start(s.base.trim_start_matches("http://").parse().unwrap()).await;
    // A new connection per request, so each one gets its own budget.
    let through = reqwest::Client::builder()
        .pool_max_idle_per_host(0)
        .build()
        .unwrap();
    let (mut cuts, mut in_data, mut turns, mut events) = (0, 0, 0, 0);
    while cuts < want_cuts {
        turns += 1;
        let t = s.create_thread("p").await;
        let mut got: Vec<SseEvent> = Vec::new();
        let (st, body) = s.send(&t, &format!("k{turns}"), "go").await;
        assert_eq!(st, 202, "{body}");
        let run = body["runId"].as_str().unwrap().to_string();
        loop {
            // Budgets from inside the head to a few events into the body.
            if cuts < want_cuts {
                proxy.cut_next(rng.range(100, 1200) as usize);
            }
            let after = got
                .last()
                .map_or(0, |e| e.id.as_ref().unwrap().parse::<u64>().unwrap());
            let read = read_once(&through, &proxy.base(), &t, after, &run).await;
            got.extend(read.events);
            if read.completed {
                break;
            }
            if read.cut_in_body {
                cuts += 1;
                in_data += usize::from(read.cut_in_data);
            }
        }
        // The store's log, read afterwards on a direct connection.
        let stored = s.all_events(&t).await;
        assert_eq!(got.len(), stored.len(), "{t}: events resumed vs stored");
        for (i, (a, b)) in got.iter().zip(&stored).enumerate() {
            assert_eq!(
                a.id.as_deref(),
                Some((i + 1).to_string().as_str()),
                "{t}: gap or repeat at {i}"
            );
            assert_eq!(a, b, "{t}: event {} differs from the store's", i + 1);
        }
        events += got.len();
    }
    assert!(in_data > 0, "no cut fell inside a data: line");
    eprintln!(
        "stream cuts: {cuts} cuts of live bodies ({in_data} inside a data: line) over {turns} replies, \
         {events} events resumed, byte-identical to the store's, 0 gaps, 0 repeats"
    );
    s.stop().await;
}
