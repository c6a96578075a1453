//! Server load benchmark (not a test): turns per second and time to first delta, at several
//! numbers of concurrent simulated users, beside a hello-world axum handler measured in the
//! same run as the ceiling of this machine.
//!
//! A *turn*: POST a message, then read the thread's already-open SSE stream until that run's
//! `run.completed`. *First delta*: from the POST's start to that run's first `message.delta`.
//! The server runs in this process (same runtime, same cores as the clients, like the
//! hello-world ceiling), with rate limits off and the bench bot replying 8 words, unpaced.
//!
//! Each point runs twice: *saturated* (every user sends its next message as soon as its turn
//! ends: the most turns/s the box carries, with latency = users ÷ turns/s by Little's law) and,
//! with `BENCH_RATE`, *paced* (the users together offer that many turns/s, each on its own
//! schedule: the latency of a given load below saturation).
//!
//!     cargo bench -p natter-server --bench load
//!     BENCH_USERS=100,1000 BENCH_SECS=10 BENCH_RATE=2000 BENCH_DURABILITY=full cargo bench -p natter-server --bench load

#[path = "common.rs"]
mod common;

use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use common::{ms, pct, Sse};
use natter_server::http::limits::Rate;
use natter_server::server::{Server, ServerConfig};
use natter_server::store::sqlite::Durability;
use serde_json::{json, Value};
use tokio_util::sync::CancellationToken;

const BOT: &str = r#"
greeting = "Hi"
fallback = "Sorry?"
[stream]
chunk = "word"
delay_ms = 0
[[workflows]]
name = "ping"
triggers = { keywords = ["ping"] }
steps = [ { say = "Thanks! Your message was received and is handled." } ]
"#;

fn main() {
    let rt = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .unwrap();
    rt.block_on(run());
}

fn env_list(name: &str, default: &str) -> Vec<usize> {
    std::env::var(name)
        .unwrap_or_else(|_| default.into())
        .split(',')
        .filter_map(|s| s.trim().parse().ok())
        .collect()
}

async fn run() {
    let users = env_list("BENCH_USERS", "100,1000");
    let secs: u64 = std::env::var("BENCH_SECS")
        .ok()
        .and_then(|s| s.parse().ok())
        .unwrap_or(10);
    let rate: Option<f64> = std::env::var("BENCH_RATE")
        .ok()
        .and_then(|s| s.parse().ok());
    let durability = match std::env::var("BENCH_DURABILITY").as_deref() {
        Ok("normal") => Durability::Normal,
        _ => Durability::Full,
    };
    println!(
        "natter server load bench: {} cores, {secs}s per point, durability {durability:?}",
        std::thread::available_parallelism().map_or(0, |n| n.get())
    );

    // The ceiling: hello world on axum, same runtime.
    let hello = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let hello_url = format!("http://{}/hello", hello.local_addr().unwrap());
    tokio::spawn(async move {
        let app = axum::Router::new().route("/hello", axum::routing::get(|| async { "hello" }));
        axum::serve(hello, app).await.unwrap();
    });

    let tmp = tempfile::tempdir().unwrap();
    let bots = tmp.path().join("bots");
    std::fs::create_dir_all(bots.join("bench")).unwrap();
    std::fs::write(bots.join("bench/bot.toml"), BOT).unwrap();
    let mut config = ServerConfig {
        addr: "127.0.0.1:0".into(),
        data_dir: tmp.path().join("data"),
        bots_dir: bots,
        durability,
        ..ServerConfig::default()
    };
    config.http.limits.per_ip = Rate {
        per_sec: 0.0,
        burst: 0.0,
    };
    config.http.limits.per_thread = Rate {
        per_sec: 0.0,
        burst: 0.0,
    };
    let shutdown = CancellationToken::new();
    let server = Server::start(config, shutdown.clone()).await.unwrap();
    let base = format!("http://{}", server.local_addr());
    let server = tokio::spawn(server.run());

    for &n in &users {
        let (rps, p50, p99) = hello_world(&hello_url, n, secs).await;
        println!(
            "hello-world axum  users={n:5}  {rps:9.0} req/s   latency p50 {}  p99 {}",
            ms(p50),
            ms(p99)
        );
        let modes = std::iter::once(None).chain(rate.map(Some));
        for pace in modes {
            let r = natter(&base, n, secs, pace).await;
            let tps = r.turns as f64 / secs as f64;
            let mode = match pace {
                None => "saturated".to_string(),
                Some(rate) => format!("paced {rate:.0}/s"),
            };
            println!(
                "natter turns      users={n:5}  {tps:9.0} turns/s  ({:.3} × hello-world, {mode})  first delta p50 {}  p99 {}   turn p50 {}  p99 {}   ({} turns, {} errors)",
                tps / rps,
                ms(pct(&r.first, 0.5)),
                ms(pct(&r.first, 0.99)),
                ms(pct(&r.turn, 0.5)),
                ms(pct(&r.turn, 0.99)),
                r.turns,
                r.errors
            );
        }
    }
    let m = reqwest::get(format!("{base}/metrics"))
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    for l in m.lines().filter(|l| {
        l.starts_with("natter_store_commit_seconds_sum")
            || l.starts_with("natter_store_commit_seconds_count")
            || l.starts_with("natter_store_sync_seconds_sum")
            || l.starts_with("natter_store_jobs_total")
            || l.starts_with("natter_run_first_delta_seconds_sum")
            || l.starts_with("natter_run_first_delta_seconds_count")
    }) {
        println!("  {l}");
    }
    shutdown.cancel();
    let _ = server.await;
}

fn client() -> reqwest::Client {
    reqwest::Client::builder()
        .pool_max_idle_per_host(4096)
        .tcp_nodelay(true)
        .build()
        .unwrap()
}

async fn hello_world(url: &str, users: usize, secs: u64) -> (f64, Duration, Duration) {
    let client = client();
    let stop = Arc::new(AtomicBool::new(false));
    let mut tasks = Vec::new();
    for _ in 0..users {
        let (client, url, stop) = (client.clone(), url.to_string(), stop.clone());
        tasks.push(tokio::spawn(async move {
            let mut lat = Vec::new();
            while !stop.load(Ordering::Relaxed) {
                let t0 = Instant::now();
                if let Ok(r) = client.get(&url).send().await {
                    let _ = r.bytes().await;
                    lat.push(t0.elapsed());
                }
            }
            lat
        }));
    }
    tokio::time::sleep(Duration::from_secs(secs)).await;
    stop.store(true, Ordering::Relaxed);
    let mut all = Vec::new();
    for t in tasks {
        all.extend(t.await.unwrap());
    }
    all.sort();
    (
        all.len() as f64 / secs as f64,
        pct(&all, 0.5),
        pct(&all, 0.99),
    )
}

struct Result {
    turns: usize,
    errors: usize,
    first: Vec<Duration>,
    turn: Vec<Duration>,
}

/// `pace`: turns/s offered by all users together (each user every `users / pace` s), or
/// `None` to send again as soon as a turn ends.
async fn natter(base: &str, users: usize, secs: u64, pace: Option<f64>) -> Result {
    let client = client();
    // Setup (not measured): a thread and an open event stream per user.
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
            base.to_string(),
            stop.clone(),
            measuring.clone(),
        );
        tasks.push(tokio::spawn(async move {
            let (mut first, mut turn, mut errors) = (Vec::new(), Vec::new(), 0);
            let url = format!("{base}/v1/threads/{thread}/messages");
            let interval = pace.map(|p| Duration::from_secs_f64(users as f64 / p));
            // Users spread evenly over one interval, so the offered load is smooth.
            let mut next = interval
                .map(|iv| tokio::time::Instant::now() + iv.mul_f64(i as f64 / users as f64));
            let mut k = 0;
            while !stop.load(Ordering::Relaxed) {
                if let (Some(at), Some(iv)) = (next.as_mut(), interval) {
                    tokio::time::sleep_until(*at).await;
                    // A late turn does not make the next ones burst to catch up.
                    *at = (*at + iv).max(tokio::time::Instant::now());
                }
                k += 1;
                let counted = measuring.load(Ordering::Relaxed);
                let t0 = Instant::now();
                let r = client
                    .post(&url)
                    .json(&json!({"clientMessageId": format!("{i}-{k}"), "content": "ping"}))
                    .send()
                    .await;
                let run = match r {
                    Ok(r) if r.status() == 202 => r.json::<Value>().await.unwrap()["runId"]
                        .as_str()
                        .unwrap()
                        .to_string(),
                    _ => {
                        errors += 1;
                        continue;
                    }
                };
                let mut fd = None;
                loop {
                    let Some(ev) = sse.next().await else {
                        return (first, turn, errors + 1);
                    };
                    if !ev.data.contains(&run) {
                        continue;
                    }
                    if fd.is_none() && ev.event == "message.delta" {
                        fd = Some(t0.elapsed());
                    }
                    if ev.event == "run.completed" || ev.event == "run.failed" {
                        break;
                    }
                }
                if counted && !stop.load(Ordering::Relaxed) {
                    first.push(fd.unwrap_or_default());
                    turn.push(t0.elapsed());
                }
            }
            (first, turn, errors)
        }));
    }
    // One second of warm-up, then the measured window.
    tokio::time::sleep(Duration::from_secs(1)).await;
    measuring.store(true, Ordering::Relaxed);
    tokio::time::sleep(Duration::from_secs(secs)).await;
    stop.store(true, Ordering::Relaxed);
    let mut res = Result {
        turns: 0,
        errors: 0,
        first: vec![],
        turn: vec![],
    };
    for t in tasks {
        let (f, tt, e) = t.await.unwrap();
        res.first.extend(f);
        res.turn.extend(tt);
        res.errors += e;
    }
    res.turns = res.turn.len();
    res.first.sort();
    res.turn.sort();
    res
}
