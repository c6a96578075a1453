//! Outbox benchmark (not a test): CRM webhooks delivered per second to a receiver on
//! 127.0.0.1, and the latency from a conversation's transition to its webhook's arrival, with
//! N conversations (default 1,000) closing at once.
//!
//! Setup: N widget conversations are handed off (each queues a `widgetEscalate`, delivered
//! before the measurement starts). Then all N are closed at once (N concurrent
//! `POST /v1/threads/{id}/close`); each close commits the transition and its
//! `widgetEndSession` job in one transaction, and the outbox worker delivers them, signed, to
//! the receiver, which checks every signature. Latency per conversation: from just before its
//! close request is sent (so it includes the request) to the webhook's arrival. Throughput:
//! N / (last arrival − first close sent). The server runs in this process, SQLite durability
//! `full` (fsync per group commit) unless BENCH_DURABILITY=normal.
//!
//!     cargo bench -p natter-server --bench outbox
//!     BENCH_CONVERSATIONS=2000 BENCH_CONCURRENCY=64 cargo bench -p natter-server --bench outbox

use std::collections::HashMap;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use axum::body::Bytes;
use axum::http::HeaderMap;
use natter_crm::sign::{verify, SignatureHeaders};
use natter_crm::SigningSecret;
use natter_server::http::limits::Rate;
use natter_server::store::sqlite::Durability;
use natter_testing::env_or;
use natter_testing::server::TestServer;
use natter_testing::stats::pct;
use serde_json::{json, Value};
use tokio::sync::Notify;

#[derive(Default)]
struct Arrivals {
    /// (eventType, platformConversationId) → first arrival.
    at: Mutex<HashMap<(String, String), Instant>>,
    bad_signatures: Mutex<u64>,
    notify: Notify,
}

fn main() {
    let rt = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .unwrap();
    rt.block_on(run());
}

async fn run() {
    let n = env_or("BENCH_CONVERSATIONS", 1000);
    let concurrency = env_or("BENCH_CONCURRENCY", 32);
    let durability = if std::env::var("BENCH_DURABILITY").as_deref() == Ok("normal") {
        Durability::Normal
    } else {
        Durability::Full
    };
    let secret = SigningSecret::generate();

    // The receiver: checks signatures, records first arrivals.
    let arrivals = Arc::new(Arrivals::default());
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let recv_url = format!("http://{}/hook", listener.local_addr().unwrap());
    let (a2, s2) = (arrivals.clone(), secret.clone());
    let app = axum::Router::new().route(
        "/hook",
        axum::routing::post(move |headers: HeaderMap, body: Bytes| {
            let (a, secret) = (a2.clone(), s2.clone());
            async move {
                let ok = SignatureHeaders::from_header_map(&headers)
                    .ok()
                    .map(|h| {
                        verify(
                            std::slice::from_ref(&secret),
                            &h,
                            &body,
                            now_secs(),
                            Duration::from_secs(300),
                        )
                        .is_ok()
                    })
                    .unwrap_or(false);
                if !ok {
                    *a.bad_signatures.lock().unwrap() += 1;
                    return axum::http::StatusCode::UNAUTHORIZED;
                }
                let v: Value = serde_json::from_slice(&body).unwrap_or(Value::Null);
                let key = (
                    v["data"]["eventType"].as_str().unwrap_or("").to_string(),
                    v["data"]["platformConversationId"]
                        .as_str()
                        .unwrap_or("")
                        .to_string(),
                );
                a.at.lock().unwrap().entry(key).or_insert_with(Instant::now);
                a.notify.notify_waiters();
                axum::http::StatusCode::OK
            }
        }),
    );
    tokio::spawn(async move { axum::serve(listener, app).await.unwrap() });

    let bot = format!(
        "fallback = \"?\"\n[network]\nallow_private_network = true\n[crm]\nchat_webhook_url = \"{recv_url}\"\nsigning_secret = \"{}\"\napi_key = \"bench-key\"\n",
        secret.expose_whsec()
    );
    let server = TestServer::start_with(&[("b", &bot)], |c| {
        c.durability = durability;
        c.http.limits.crm_per_ip = Rate {
            per_sec: 0.0,
            burst: 0.0,
        };
        c.lifecycle.outbox.concurrency = concurrency;
    })
    .await;
    let base = server.base.clone();
    let client = reqwest::Client::builder()
        .pool_max_idle_per_host(256)
        .build()
        .unwrap();

    // N handed-off conversations (their widgetEscalate delivered before measuring).
    let mut threads = Vec::with_capacity(n);
    for chunk in (0..n).collect::<Vec<_>>().chunks(100) {
        let futs = chunk.iter().map(|_| {
            let (client, base) = (client.clone(), base.clone());
            async move {
                let r = client
                    .post(format!("{base}/v1/bots/b/threads"))
                    .send()
                    .await
                    .unwrap();
                let t = r.json::<Value>().await.unwrap()["threadId"]
                    .as_str()
                    .unwrap()
                    .to_string();
                let r = client
                    .post(format!("{base}/agent/converse/send-message-to-widget"))
                    .header("Authorization", "bench-key")
                    .json(&json!({"eventType": "escalationSuccess", "platformConversationId": t}))
                    .send()
                    .await
                    .unwrap();
                assert_eq!(r.status(), 200);
                t
            }
        });
        threads.extend(futures_util::future::join_all(futs).await);
    }
    wait_for(&arrivals, "widgetEscalate", n).await;

    // All N close at once.
    let started = Instant::now();
    let sent: Vec<(String, Instant)> = futures_util::future::join_all(threads.iter().map(|t| {
        let (client, base, t) = (client.clone(), base.clone(), t.clone());
        async move {
            let at = Instant::now();
            let r = client
                .post(format!("{base}/v1/threads/{t}/close"))
                .send()
                .await
                .unwrap();
            assert_eq!(r.status(), 200);
            (t, at)
        }
    }))
    .await;
    let closes_done = started.elapsed();
    wait_for(&arrivals, "widgetEndSession", n).await;
    let at = arrivals.at.lock().unwrap().clone();
    let mut lat: Vec<f64> = sent
        .iter()
        .map(|(t, s)| {
            at[&("widgetEndSession".to_string(), t.clone())]
                .duration_since(*s)
                .as_secs_f64()
                * 1000.0
        })
        .collect();
    lat.sort_by(|a, b| a.partial_cmp(b).unwrap());
    let last = sent
        .iter()
        .map(|(t, _)| at[&("widgetEndSession".to_string(), t.clone())])
        .max()
        .unwrap();
    let span = last.duration_since(started).as_secs_f64();
    println!("outbox bench: {n} conversations closing at once, outbox concurrency {concurrency}, durability {durability:?}");
    println!(
        "  all {n} close requests answered in {:.0} ms",
        closes_done.as_secs_f64() * 1000.0
    );
    println!(
        "  webhooks delivered: {n} in {:.0} ms = {:.0} webhooks/s (signatures checked, {} bad)",
        span * 1000.0,
        n as f64 / span,
        arrivals.bad_signatures.lock().unwrap()
    );
    println!(
        "  transition -> delivery latency: p50 {:.0} ms, p99 {:.0} ms, max {:.0} ms",
        pct(&lat, 0.5),
        pct(&lat, 0.99),
        lat.last().unwrap()
    );
    server.stop().await;
}

async fn wait_for(a: &Arrivals, event: &str, n: usize) {
    let deadline = Instant::now() + Duration::from_secs(300);
    loop {
        let notified = a.notify.notified();
        let got =
            a.at.lock()
                .unwrap()
                .keys()
                .filter(|(e, _)| e == event)
                .count();
        if got >= n {
            return;
        }
        assert!(Instant::now() < deadline, "only {got}/{n} {event} arrived");
        let _ = tokio::time::timeout(Duration::from_millis(200), notified).await;
    }
}

fn now_secs() -> i64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_secs() as i64
}
