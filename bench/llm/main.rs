//! What the LLM client + turn engine add per turn beyond the model's own time, and turns/s
//! with many concurrent conversations, against the stand-in OpenAI-compatible server on
//! 127.0.0.1 answering at once.
//!
//! 1. Per-turn overhead: a full turn (context build, request JSON, SSE parsing, chunk
//!    assembly, sink, outcome) beside a bare reqwest POST of the same request body that reads
//!    the same stream to its end — the "model's own" time as the client sees it. Alternated
//!    turn by turn so machine load hits both alike. Two shapes: a 24-chunk text answer, and a
//!    tool turn (a call with split arguments, validation, a no-op executor, a second round).
//! 2. The engine alone on a scripted model (no HTTP): its CPU cost per turn.
//! 3. Throughput: 500 conversations each running turns back to back, one shared engine.
//!
//! `cargo bench -p natter-llm --bench llm`; `BENCH_ITERS` (default 2000) and `BENCH_CONVS`
//! (default 500) change the sizes.

#[path = "../../llm/tests/support/standin.rs"]
mod standin;

use std::sync::Arc;
use std::time::{Duration, Instant};

use async_trait::async_trait;
use futures_util::StreamExt;
use natter_llm::scripted::{Script, ScriptedModel};
use natter_llm::*;
use natter_testing::env_or;
use natter_testing::stats::pct;
use serde_json::{json, Map, Value};
use standin::{chunks, Reply, StandIn};

struct NoopExec;

#[async_trait]
impl ToolExecutor for NoopExec {
    async fn execute(&self, _: &ToolCall, _: &Map<String, Value>) -> ToolOutput {
        ToolOutput::json(&json!({"status": "shipped", "trackingNumber": "TRK9"}))
    }
}

struct Drain(usize);

#[async_trait]
impl Sink for Drain {
    async fn delta(&mut self, text: &str) -> Result<(), SinkError> {
        self.0 += text.len();
        Ok(())
    }
}

fn pieces() -> Vec<&'static str> {
    "Your order A1 has shipped and is on its way to you . The tracking number is TRK9 and it should arrive on Friday ."
        .split_inclusive(' ')
        .take(24)
        .collect()
}

fn history() -> Vec<ChatMessage> {
    let mut h = Vec::new();
    for i in 0..4 {
        h.push(ChatMessage::user(format!(
            "Question number {i} about my order and its delivery?"
        )));
        h.push(ChatMessage::assistant(format!(
            "Answer number {i}: it is being prepared and will ship soon."
        )));
    }
    h.push(ChatMessage::user("Where is my order A1?"));
    h
}

fn tools() -> Vec<ToolSpec> {
    let mut t = vec![ToolSpec {
        name: "getOrderDetails".into(),
        description:
            "Retrieves the customer's order status, items, and tracking link given an order ID."
                .into(),
        parameters: json!({"type": "object", "properties": {"orderId": {"type": "string"}},
                           "required": ["orderId"], "additionalProperties": false}),
    }];
    t.extend(builtin_tools());
    t
}

fn config(base_url: &str) -> LlmConfig {
    let mut c = LlmConfig::new(base_url, "bench-model");
    c.instructions = "You are the Acme shop assistant. Step 1: ask for the order ID. Step 2: call getOrderDetails.".into();
    c.max_retries = 0;
    c
}

async fn turn(engine: &TurnEngine, history: &[ChatMessage], tools: &[ToolSpec]) -> TurnOutcome {
    let req = TurnRequest {
        history,
        metadata: &[],
        tools,
        instructions: None,
    };
    engine
        .run(req, &NoopExec, &mut Drain(0))
        .await
        .expect("turn failed")
}

/// The same request as the engine's first round, posted and read to the end with plain reqwest.
async fn bare(http: &reqwest::Client, url: &str, body: &Value) {
    let resp = http.post(url).json(body).send().await.unwrap();
    assert!(resp.status().is_success());
    let mut s = resp.bytes_stream();
    while let Some(b) = s.next().await {
        b.unwrap();
    }
}

fn us(d: Duration) -> String {
    format!("{:.1} µs", d.as_secs_f64() * 1e6)
}

/// `a - b` in µs, negative when the turn was faster (noise).
fn signed(a: Duration, b: Duration) -> String {
    format!("{:+.1} µs", (a.as_secs_f64() - b.as_secs_f64()) * 1e6)
}

fn report(name: &str, mut engine: Vec<Duration>, mut base: Vec<Duration>) {
    engine.sort();
    base.sort();
    let (e50, e99, b50, b99) = (
        pct(&engine, 0.5),
        pct(&engine, 0.99),
        pct(&base, 0.5),
        pct(&base, 0.99),
    );
    println!(
        "{name:<10} turn p50 {} p99 {} | bare request p50 {} p99 {} | added p50 {} p99 {}",
        us(e50),
        us(e99),
        us(b50),
        us(b99),
        signed(e50, b50),
        signed(e99, b99),
    );
}

/// The stand-in on its own thread and runtime, as a model server is its own process: its work
/// does not share the client's scheduler.
fn standin_thread(workers: usize) -> StandIn {
    let (tx, rx) = std::sync::mpsc::channel();
    std::thread::spawn(move || {
        let rt = match workers {
            1 => tokio::runtime::Builder::new_current_thread()
                .enable_all()
                .build()
                .unwrap(),
            n => tokio::runtime::Builder::new_multi_thread()
                .worker_threads(n)
                .enable_all()
                .build()
                .unwrap(),
        };
        rt.block_on(async move {
            tx.send(StandIn::start(false).await).unwrap();
            std::future::pending::<()>().await
        })
    });
    rx.recv().unwrap()
}

fn main() {
    // Latency: one client thread against a one-thread stand-in (no cross-thread wake-ups in the
    // measurement). Throughput: multi-thread runtimes on both sides, as the server runs.
    let s = standin_thread(1);
    tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap()
        .block_on(latency(&s));
    let s = standin_thread(2);
    tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .unwrap()
        .block_on(throughput(&s));
}

async fn latency(s: &StandIn) {
    let iters = env_or("BENCH_ITERS", 2000);
    let cfg = config(&s.base_url);
    let engine = TurnEngine::new(
        Arc::new(ChatClient::with_key(&cfg, None).unwrap()),
        Arc::new(cfg.clone()),
    );
    let (history, tools) = (history(), tools());
    let url = cfg.endpoint().unwrap().to_string();
    let http = reqwest::Client::new();
    let body = json!({
        "model": cfg.model,
        "messages": std::iter::once(json!({"role": "system", "content": cfg.instructions}))
            .chain(history.iter().map(|m| serde_json::to_value(m).unwrap())).collect::<Vec<_>>(),
        "tools": tools.iter().map(ToolSpec::to_openai).collect::<Vec<_>>(),
        "stream": true, "stream_options": {"include_usage": true},
    });
    let text = chunks::text(&pieces());
    let call = chunks::tool_calls(&[(
        "call_1",
        "getOrderDetails",
        r#"{"orderId": "A1-2024-000123"}"#,
    )]);
    println!(
        "natter-llm bench: {iters} turns per shape, stand-in on {}",
        s.base_url
    );

    // 1a. Text turns.
    s.set_default(Reply::fast(text.clone()));
    for _ in 0..200 {
        turn(&engine, &history, &tools).await;
        bare(&http, &url, &body).await;
    }
    let client = ChatClient::with_key(&cfg, None).unwrap();
    let req: ChatRequest = ChatRequest {
        model: cfg.model.clone(),
        messages: serde_json::from_value(body["messages"].clone()).unwrap(),
        tools: body["tools"].as_array().unwrap().clone(),
        temperature: None,
        max_tokens: None,
    };
    let (mut e, mut b, mut c) = (
        Vec::with_capacity(iters),
        Vec::with_capacity(iters),
        Vec::with_capacity(iters),
    );
    for i in 0..iters * 3 {
        // Rotate the order so no side always runs right after another.
        match (i + i / 3) % 3 {
            0 => {
                let t = Instant::now();
                let out = turn(&engine, &history, &tools).await;
                e.push(t.elapsed());
                assert_eq!(out.rounds, 1);
            }
            1 => {
                let t = Instant::now();
                bare(&http, &url, &body).await;
                b.push(t.elapsed());
            }
            _ => {
                let t = Instant::now();
                let mut st = client.stream(&req).await.unwrap();
                while let Some(ev) = st.next_event().await {
                    ev.unwrap();
                }
                c.push(t.elapsed());
            }
        }
    }
    report("text", e, b.clone());
    report("client", c, b);

    // 1b. Tool turns: two model calls each, so the bare side makes two requests too.
    let (mut e, mut b) = (Vec::with_capacity(iters), Vec::with_capacity(iters));
    for i in 0..iters + 200 {
        let run_turn = || async {
            s.push(Reply::fast(call.clone()));
            let t = Instant::now();
            let out = turn(&engine, &history, &tools).await;
            assert_eq!((out.rounds, out.tool_calls), (2, 1));
            t.elapsed()
        };
        let run_bare = || async {
            s.push(Reply::fast(call.clone()));
            let t = Instant::now();
            bare(&http, &url, &body).await;
            bare(&http, &url, &body).await;
            t.elapsed()
        };
        let (te, tb) = if i % 2 == 0 {
            let te = run_turn().await;
            (te, run_bare().await)
        } else {
            let tb = run_bare().await;
            (run_turn().await, tb)
        };
        if i >= 200 {
            e.push(te);
            b.push(tb);
        }
    }
    report("tool", e, b);

    // 2. The engine alone, scripted model, no HTTP.
    let mut e = Vec::with_capacity(iters);
    for _ in 0..iters {
        let model = Arc::new(ScriptedModel::new([Script::text(&pieces())]));
        let eng = TurnEngine::new(model, Arc::new(cfg.clone()));
        let t = Instant::now();
        turn(&eng, &history, &tools).await;
        e.push(t.elapsed());
    }
    e.sort();
    println!(
        "engine alone (scripted model, text turn): p50 {} p99 {}",
        us(pct(&e, 0.5)),
        us(pct(&e, 0.99))
    );

    // 2b. Parsing alone: the text answer's bytes through the SSE parser and the assembler.
    let bytes: String = text
        .iter()
        .map(|d| format!("data: {d}\n\n"))
        .chain(["data: [DONE]\n\n".to_string()])
        .collect();
    let mut e = Vec::with_capacity(iters);
    for _ in 0..iters {
        let t = Instant::now();
        let (mut p, mut a) = (
            natter_llm::sse::SseParser::default(),
            natter_llm::assemble::Assembler::default(),
        );
        let (mut datas, mut evs) = (Vec::new(), Vec::new());
        p.feed(bytes.as_bytes(), &mut datas).unwrap();
        for d in &datas {
            a.push(d, &mut evs).unwrap();
        }
        assert_eq!(evs.len(), pieces().len() + 2);
        e.push(t.elapsed());
    }
    e.sort();
    println!(
        "SSE parse + assemble of that answer ({} bytes, {} events): p50 {} p99 {}",
        bytes.len(),
        text.len() + 1,
        us(pct(&e, 0.5)),
        us(pct(&e, 0.99))
    );
}

/// 3. Throughput with `BENCH_CONVS` concurrent conversations sharing one engine (one per bot).
async fn throughput(s: &StandIn) {
    let convs = env_or("BENCH_CONVS", 500);
    let per_conv = 10;
    let cfg = config(&s.base_url);
    s.set_default(Reply::fast(chunks::text(&pieces())));
    let engine = Arc::new(TurnEngine::new(
        Arc::new(ChatClient::with_key(&cfg, None).unwrap()),
        Arc::new(cfg),
    ));
    let (history, tools) = (Arc::new(history()), Arc::new(tools()));
    let start = Instant::now();
    let tasks: Vec<_> = (0..convs)
        .map(|_| {
            let (engine, history, tools) = (engine.clone(), history.clone(), tools.clone());
            tokio::spawn(async move {
                let mut lat = Vec::with_capacity(per_conv);
                for _ in 0..per_conv {
                    let t = Instant::now();
                    turn(&engine, &history, &tools).await;
                    lat.push(t.elapsed());
                }
                lat
            })
        })
        .collect();
    let mut lat = Vec::new();
    for t in tasks {
        lat.extend(t.await.unwrap());
    }
    let secs = start.elapsed().as_secs_f64();
    lat.sort();
    println!(
        "{convs} concurrent conversations x {per_conv} text turns: {:.0} turns/s ({} turns in {:.2} s), turn latency p50 {} p99 {}",
        lat.len() as f64 / secs,
        lat.len(),
        secs,
        us(pct(&lat, 0.5)),
        us(pct(&lat, 0.99)),
    );

    // The same load through the client alone (no engine), then with bare requests: what the
    // stand-in and HTTP alone allow on this machine.
    let client = Arc::new(ChatClient::with_key(engine.config(), None).unwrap());
    let req = Arc::new(ChatRequest {
        model: "bench-model".into(),
        messages: history.iter().cloned().collect(),
        tools: tools.iter().map(ToolSpec::to_openai).collect(),
        temperature: None,
        max_tokens: None,
    });
    let start = Instant::now();
    let tasks: Vec<_> = (0..convs)
        .map(|_| {
            let (client, req) = (client.clone(), req.clone());
            tokio::spawn(async move {
                for _ in 0..per_conv {
                    let mut st = client.stream(&req).await.unwrap();
                    while let Some(ev) = st.next_event().await {
                        ev.unwrap();
                    }
                }
            })
        })
        .collect();
    for t in tasks {
        t.await.unwrap();
    }
    println!(
        "{convs} concurrent conversations x {per_conv} client-only streams: {:.0} streams/s",
        (convs * per_conv) as f64 / start.elapsed().as_secs_f64()
    );

    let http = reqwest::Client::new();
    let url = engine.config().endpoint().unwrap().to_string();
    let body = Arc::new(
        json!({"model": "bench-model", "messages": history.iter().collect::<Vec<_>>(),
        "tools": tools.iter().map(ToolSpec::to_openai).collect::<Vec<_>>(), "stream": true}),
    );
    let start = Instant::now();
    let tasks: Vec<_> = (0..convs)
        .map(|_| {
            let (http, url, body) = (http.clone(), url.clone(), body.clone());
            tokio::spawn(async move {
                for _ in 0..per_conv {
                    bare(&http, &url, &body).await;
                }
            })
        })
        .collect();
    for t in tasks {
        t.await.unwrap();
    }
    let secs = start.elapsed().as_secs_f64();
    println!(
        "{convs} concurrent conversations x {per_conv} bare requests: {:.0} requests/s (stand-in on its own 2-thread runtime in the same process; {} cores shared)",
        (convs * per_conv) as f64 / secs,
        std::thread::available_parallelism().map_or(0, |n| n.get()),
    );
}
