//! LLM agent benchmark (not a test). Against natter-llm's stand-in OpenAI-compatible server on
//! 127.0.0.1, which answers at once (role chunk, 3 content chunks, finish, usage, [DONE]):
//!
//! 1. **Agent overhead per turn**: the server's run machinery (`Runs`, the SQLite store) runs
//!    the real `LlmAgent` with the real HTTP `ChatClient`; the agent's `turn` is timed, and so
//!    is every await inside the model (request → headers, and each stream read). Overhead =
//!    turn − model time: history read, prompt and tools, delta batching and the store writes
//!    of the reply. One conversation at a time, a new thread every 10 turns.
//! 2. **Throughput**: the whole server over HTTP, 500 concurrent conversations, each looping
//!    POST message → its SSE stream until `run.completed`; turns per second and turn latency.
//!
//! ```text
//! cargo bench -p natter-server --bench llm_agent
//! BENCH_TURNS=2000 BENCH_USERS=500 BENCH_SECS=10 BENCH_DURABILITY=full cargo bench -p natter-server --bench llm_agent
//! ```

#[path = "../../llm/tests/support/standin.rs"]
mod standin;

use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use async_trait::async_trait;
use natter_llm::{ApiError, ChatClient, ChatRequest, EventStream, Model, StreamEvent};
use natter_protocol::{ContentItem, Message, MessageOptions, Role};
use natter_server::engine::llm::{LlmAgent, NoActions};
use natter_server::engine::{Agent, AgentError, Reply, Turn};
use natter_server::runs::{RunInput, Runs};
use natter_server::store::sqlite::{Durability, SqliteStore};
use natter_server::store::{EventSink, NewThread, SendOutcome, Store, StoredEvent, Thread};
use natter_testing::env_or;
use natter_testing::server::TestServer;
use natter_testing::sse::SseReader as Sse;
use natter_testing::stats::{ms, pct};
use serde_json::{json, Value};
use standin::{chunks, Reply as StandInReply, StandIn};
use tokio::sync::mpsc;
use tokio_util::sync::CancellationToken;

fn bot_toml(base: &str) -> String {
    format!(
        "name = \"bench\"\nagent = \"llm\"\nfallback = \"Sorry.\"\n[llm]\nbase_url = \"{base}\"\nmodel = \"m\"\ninstructions = \"You are a helpful shop assistant. Answer briefly.\"\nmax_retries = 0\n[network]\nallow_private_network = true\n\n[[workflows]]\nname = \"main\"\ninstructions = \"Help with orders.\"\n"
    )
}

fn main() {
    let rt = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .unwrap();
    rt.block_on(run());
}

async fn run() {
    let durability = match std::env::var("BENCH_DURABILITY").as_deref() {
        Ok("full") => Durability::Full,
        _ => Durability::Normal,
    };
    let turns: usize = env_or("BENCH_TURNS", 2000);
    let users: usize = env_or("BENCH_USERS", 500);
    let secs: u64 = env_or("BENCH_SECS", 10);
    let cores = std::thread::available_parallelism().map_or(0, |n| n.get());
    let load = std::fs::read_to_string("/proc/loadavg").unwrap_or_default();
    println!(
        "natter LLM agent bench: {cores} cores, load {}, durability {durability:?}",
        load.split_whitespace()
            .take(3)
            .collect::<Vec<_>>()
            .join(" ")
    );
    let model = StandIn::start(false).await;
    model.set_default(StandInReply::fast(chunks::text(&[
        "Your order",
        " has shipped",
        " and arrives tomorrow.",
    ])));
    overhead(&model, durability, turns).await;
    throughput(&model, durability, users, secs).await;
}

// ---- 1. agent overhead ----

/// Time spent awaiting the model (request to headers, each stream read), in ns.
#[derive(Default)]
struct ModelClock(AtomicU64);

struct TimedModel {
    inner: ChatClient,
    clock: Arc<ModelClock>,
}

struct TimedStream {
    inner: Box<dyn EventStream>,
    clock: Arc<ModelClock>,
}

#[async_trait]
impl Model for TimedModel {
    async fn start(&self, req: &ChatRequest) -> Result<Box<dyn EventStream>, ApiError> {
        let t = Instant::now();
        let r = self.inner.start(req).await;
        self.clock
            .0
            .fetch_add(t.elapsed().as_nanos() as u64, Ordering::Relaxed);
        Ok(Box::new(TimedStream {
            inner: r?,
            clock: self.clock.clone(),
        }))
    }
}

#[async_trait]
impl EventStream for TimedStream {
    async fn next_event(&mut self) -> Option<Result<StreamEvent, ApiError>> {
        let t = Instant::now();
        let r = self.inner.next_event().await;
        self.clock
            .0
            .fetch_add(t.elapsed().as_nanos() as u64, Ordering::Relaxed);
        r
    }
}

/// Times each turn and reports (turn, model time inside it).
struct TimedAgent {
    inner: LlmAgent,
    clock: Arc<ModelClock>,
    done: mpsc::UnboundedSender<(Duration, Duration)>,
}

#[async_trait]
impl Agent for TimedAgent {
    fn greeting(&self, t: &Thread) -> Option<(Vec<ContentItem>, MessageOptions)> {
        self.inner.greeting(t)
    }
    async fn turn(&self, turn: Turn<'_>, out: &mut dyn Reply) -> Result<Value, AgentError> {
        self.clock.0.store(0, Ordering::Relaxed);
        let t = Instant::now();
        let r = self.inner.turn(turn, out).await;
        let total = t.elapsed();
        let model = Duration::from_nanos(self.clock.0.load(Ordering::Relaxed));
        let _ = self.done.send((total, model));
        r
    }
}

struct NoSink;
impl EventSink for NoSink {
    fn published(&self, _thread_id: &str, _events: &[Arc<StoredEvent>]) {}
}

async fn overhead(model: &StandIn, durability: Durability, turns: usize) {
    let tmp = tempfile::tempdir().unwrap();
    let bot_dir = tmp.path().join("bots/bench");
    std::fs::create_dir_all(&bot_dir).unwrap();
    std::fs::write(bot_dir.join("bot.toml"), bot_toml(&model.base_url)).unwrap();
    let bot = Arc::new(natter_server::bots::load_bot(&bot_dir).unwrap());
    let store: Arc<dyn Store> = Arc::new(
        SqliteStore::open(&tmp.path().join("data"), durability, Arc::new(NoSink))
            .await
            .unwrap(),
    );
    let clock = Arc::new(ModelClock::default());
    let client = ChatClient::new(bot.llm.as_ref().unwrap().config.as_ref()).unwrap();
    let timed: Arc<dyn Model> = Arc::new(TimedModel {
        inner: client,
        clock: clock.clone(),
    });
    let inner =
        LlmAgent::with_model(bot.clone(), store.clone(), Arc::new(NoActions), timed).unwrap();
    let (tx, mut rx) = mpsc::unbounded_channel();
    let agent: Arc<dyn Agent> = Arc::new(TimedAgent {
        inner,
        clock,
        done: tx,
    });
    let runs = Runs::new(store.clone(), CancellationToken::new());
    let (mut over, mut totals, mut models) = (Vec::new(), Vec::new(), Vec::new());
    let mut thread = String::new();
    let warmup = 50;
    for i in 0..turns + warmup {
        if i % 10 == 0 {
            thread = format!("t{i}");
            let new = NewThread {
                id: thread.clone(),
                public_id: format!("p{i}"),
                bot: "bench".into(),
                sub: None,
                subject: None,
                metadata: Default::default(),
                channel: "api".into(),
                browser_session: None,
            };
            store.create_thread(new, None).await.unwrap();
        }
        let msg = Message {
            id: format!("m{i}"),
            role: Role::User,
            content: vec![ContentItem::text("c0", "Where is my order?")],
            message_options: Default::default(),
            created_at: String::new(),
            run_id: None,
            client_message_id: Some(format!("c{i}")),
        };
        let run_id = format!("r{i}");
        let SendOutcome::Created {
            run_id: Some(_), ..
        } = store
            .send_user_message(&thread, msg, None, run_id.clone())
            .await
            .unwrap()
        else {
            panic!("send")
        };
        runs.spawn(
            agent.clone(),
            RunInput {
                thread_id: thread.clone(),
                run_id,
                text: "Where is my order?".into(),
                context: None,
            },
        );
        let (total, model) = rx.recv().await.unwrap();
        if i >= warmup {
            totals.push(total);
            models.push(model);
            over.push(total.saturating_sub(model));
        }
    }
    runs.shutdown().await;
    for v in [&mut over, &mut totals, &mut models] {
        v.sort();
    }
    println!(
        "agent overhead per turn ({turns} turns, 1 at a time): p50 {}  p99 {}   [turn p50 {} p99 {}; model p50 {} p99 {}]",
        ms(pct(&over, 0.5)),
        ms(pct(&over, 0.99)),
        ms(pct(&totals, 0.5)),
        ms(pct(&totals, 0.99)),
        ms(pct(&models, 0.5)),
        ms(pct(&models, 0.99)),
    );
    store.close().await;
}

// ---- 2. throughput through the whole server ----

async fn throughput(model: &StandIn, durability: Durability, users: usize, secs: u64) {
    let server = TestServer::start_with(&[("bench", &bot_toml(&model.base_url))], |c| {
        c.durability = durability;
    })
    .await;
    let base = server.base.clone();
    let client = reqwest::Client::builder()
        .pool_max_idle_per_host(4096)
        .tcp_nodelay(true)
        .build()
        .unwrap();
    let mut sessions = Vec::new();
    for _ in 0..users {
        let v: Value = client
            .post(format!("{base}/v1/bots/bench/threads"))
            .send()
            .await
            .unwrap()
            .json()
            .await
            .unwrap();
        let t = v["threadId"].as_str().unwrap().to_string();
        let r = client
            .get(format!("{base}/v1/threads/{t}/events"))
            .send()
            .await
            .unwrap();
        sessions.push((t, Sse::new(r)));
    }
    let stop = Arc::new(AtomicBool::new(false));
    let measuring = Arc::new(AtomicBool::new(false));
    let mut tasks = Vec::new();
    for (i, (thread, mut sse)) in sessions.into_iter().enumerate() {
        let (client, base, stop, measuring) = (
            client.clone(),
            base.clone(),
            stop.clone(),
            measuring.clone(),
        );
        tasks.push(tokio::spawn(async move {
            let (mut lat, mut failed, mut errors) = (Vec::new(), 0usize, 0usize);
            let url = format!("{base}/v1/threads/{thread}/messages");
            let mut k = 0;
            while !stop.load(Ordering::Relaxed) {
                k += 1;
                let counted = measuring.load(Ordering::Relaxed);
                let t0 = Instant::now();
                let r = client.post(&url).json(&json!({"clientMessageId": format!("{i}-{k}"), "content": "Where is my order?"})).send().await;
                let run = match r {
                    Ok(r) if r.status() == 202 => r.json::<Value>().await.unwrap()["runId"].as_str().unwrap().to_string(),
                    _ => {
                        errors += 1;
                        continue;
                    }
                };
                loop {
                    let Some(ev) = sse.next().await else { return (lat, failed, errors + 1) };
                    if !ev.data.contains(&run) {
                        continue;
                    }
                    if ev.event == "run.failed" {
                        failed += 1;
                        break;
                    }
                    if ev.event == "run.completed" {
                        break;
                    }
                }
                if counted && !stop.load(Ordering::Relaxed) {
                    lat.push(t0.elapsed());
                }
            }
            (lat, failed, errors)
        }));
    }
    tokio::time::sleep(Duration::from_secs(2)).await;
    measuring.store(true, Ordering::Relaxed);
    tokio::time::sleep(Duration::from_secs(secs)).await;
    stop.store(true, Ordering::Relaxed);
    let (mut all, mut failed, mut errors) = (Vec::new(), 0, 0);
    for t in tasks {
        let (l, f, e) = t.await.unwrap();
        all.extend(l);
        failed += f;
        errors += e;
    }
    all.sort();
    println!(
        "throughput, {users} concurrent conversations over HTTP+SSE: {:.0} turns/s   turn p50 {}  p99 {}   ({} turns in {secs}s, {failed} run.failed, {errors} errors)",
        all.len() as f64 / secs as f64,
        ms(pct(&all, 0.5)),
        ms(pct(&all, 0.99)),
        all.len()
    );
    server.stop().await;
}
