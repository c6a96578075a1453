//! Chat load for benchmarks: visitors that each open a thread and its event stream, then send
//! and wait for each reply in turn. A *turn*: POST a message, then read the already-open stream
//! until that run's `run.completed`; its latency is measured from before the POST.

use std::time::{Duration, Instant};

use serde_json::{json, Value};

use crate::sse::SseReader;

/// The bot [`chat_turns`] is meant for: every turn a fixed eight-word reply, streamed word by
/// word without delay, so a turn's cost is the server's own.
pub const CHAT_BOT: &str = r#"
name = "Bench"
fallback = "one two three four five six seven eight"
[stream]
chunk = "word"
delay_ms = 0
"#;

/// `clients` visitors of `bot` chatting at once, each `turns` turns back to back; every
/// turn's latency, sorted.
pub async fn chat_turns(base: &str, bot: &str, clients: usize, turns: usize) -> Vec<Duration> {
    let http = reqwest::Client::new();
    let tasks = (0..clients).map(|c| {
        let (http, base, bot) = (http.clone(), base.to_string(), bot.to_string());
        tokio::spawn(async move {
            let r = http
                .post(format!("{base}/v1/bots/{bot}/threads"))
                .send()
                .await
                .unwrap();
            let t = r.json::<Value>().await.unwrap()["threadId"]
                .as_str()
                .unwrap()
                .to_string();
            let resp = http
                .get(format!("{base}/v1/threads/{t}/events"))
                .send()
                .await
                .unwrap();
            let mut sse = SseReader::new(resp);
            let mut out = Vec::with_capacity(turns);
            for i in 0..turns {
                let started = Instant::now();
                let r = http
                    .post(format!("{base}/v1/threads/{t}/messages"))
                    .json(&json!({"clientMessageId": format!("c{c}-{i}"), "content": "hi"}))
                    .send()
                    .await
                    .unwrap();
                let run = r.json::<Value>().await.unwrap()["runId"].clone();
                loop {
                    let ev = sse.next().await.expect("stream open");
                    let v: Value = serde_json::from_str(&ev.data).unwrap();
                    if v["type"] == "run.completed" && v["runId"] == run {
                        break;
                    }
                }
                out.push(started.elapsed());
            }
            out
        })
    });
    let mut all = Vec::new();
    for t in futures_util::future::join_all(tasks).await {
        all.extend(t.unwrap());
    }
    all.sort();
    all
}
