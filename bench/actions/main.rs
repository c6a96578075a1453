//! Per-call overhead of an API action beside calling the same endpoint directly.
//!
//! Run: `cargo bench -p natter-actions --bench actions` (iterations: `BENCH_ITERS=20000`).
//!
//! A 127.0.0.1 HTTP server (axum, its own thread and runtime) answers the seed's "Check product
//! stock" JSON. Two ways to get it, alternated call by call so drift hits both alike:
//! - direct: the bot's pooled reqwest client, a hand-built GET with the same header and query,
//!   body read and parsed as JSON;
//! - action: `ActionClient::call` — argument templating and encoding, URL invariants, policy
//!   check, the same request, capped body read, JSON decoding.
//!
//! Both reuse one pooled connection. Prints p50/p99/mean of each and the overhead (action −
//! direct) at p50 and p99, plus the pure templating cost (`ApiAction::prepare`).

use std::time::{Duration, Instant};

use axum::extract::Path;
use axum::routing::get;
use axum::{Json, Router};
use natter_actions::{parse_action, ActionClient, ClientConfig, NetPolicy};
use natter_testing::stats::Summary;
use serde_json::{json, Value};

fn us(d: Duration) -> f64 {
    d.as_secs_f64() * 1e6
}

fn main() {
    // `cargo bench` passes `--bench`; nothing else to parse.
    let iters: usize = std::env::var("BENCH_ITERS")
        .ok()
        .and_then(|s| s.parse().ok())
        .unwrap_or(5000);

    let (addr_tx, addr_rx) = std::sync::mpsc::channel();
    std::thread::spawn(move || {
        let rt = tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()
            .unwrap();
        rt.block_on(async move {
            let app = Router::new().route(
                "/stock/{id}",
                get(|Path(id): Path<String>| async move {
                    Json(json!({"productId": id, "inStock": true, "quantity": 12}))
                }),
            );
            let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
            addr_tx.send(listener.local_addr().unwrap()).unwrap();
            axum::serve(listener, app).await.unwrap();
        });
    });
    let addr = addr_rx.recv().unwrap();
    let base = format!("http://{addr}");

    let action = parse_action(
        std::path::Path::new("checkProductStock.toml"),
        &format!(
            "description = \"Checks stock\"\nkind = \"api\"\n[api]\nbase_url = \"{base}\"\npath = \"/stock/$productId\"\nmethod = \"GET\"\nheaders = {{ \"x-api-key\" = \"your-api-key\" }}\nquery = {{ lang = \"en\" }}\n"
        ),
    )
    .expect("definition");
    let api = action.api().unwrap().clone();
    let policy = NetPolicy {
        allow_private_network: false,
        allow_cidrs: vec!["127.0.0.1/32".parse().unwrap()],
    };
    let client = ActionClient::new(ClientConfig::with_policy(policy)).unwrap();
    let args = json!({"productId": "SKU-1"}).as_object().unwrap().clone();
    let direct_url = format!("{base}/stock/SKU-1?lang=en");

    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap();
    let (direct, via_action) = rt.block_on(async {
        let http = client.http_client_unchecked().clone();
        let direct_call = || async {
            let resp = http
                .get(&direct_url)
                .header("x-api-key", "your-api-key")
                .header("accept", "application/json")
                .send()
                .await
                .unwrap();
            assert!(resp.status().is_success());
            let bytes = resp.bytes().await.unwrap();
            let v: Value = serde_json::from_slice(&bytes).unwrap();
            v
        };
        // Warm up: connection established, allocator and caches settled.
        for _ in 0..500 {
            direct_call().await;
            client.call(&api, &args).await.unwrap();
        }
        let mut direct = Vec::with_capacity(iters);
        let mut via_action = Vec::with_capacity(iters);
        for i in 0..iters * 2 {
            let t = Instant::now();
            if i % 2 == 0 {
                let v = direct_call().await;
                direct.push(t.elapsed());
                assert_eq!(v["inStock"], true);
            } else {
                let r = client.call(&api, &args).await.unwrap();
                via_action.push(t.elapsed());
                assert_eq!(r.body["inStock"], true);
            }
        }
        (direct, via_action)
    });

    let mut prepare = Vec::with_capacity(iters);
    for _ in 0..iters {
        let t = Instant::now();
        let p = api.prepare(&args).unwrap();
        prepare.push(t.elapsed());
        std::hint::black_box(p);
    }

    let d = Summary::of(direct);
    let a = Summary::of(via_action);
    let p = Summary::of(prepare);
    println!("API action overhead, {iters} calls each, 127.0.0.1, one pooled connection");
    println!(
        "{:<28} {:>10} {:>10} {:>10}",
        "", "p50 µs", "p99 µs", "mean µs"
    );
    println!(
        "{:<28} {:>10.1} {:>10.1} {:>10.1}",
        "direct (same client)",
        us(d.p50),
        us(d.p99),
        us(d.mean)
    );
    println!(
        "{:<28} {:>10.1} {:>10.1} {:>10.1}",
        "API action",
        us(a.p50),
        us(a.p99),
        us(a.mean)
    );
    println!(
        "{:<28} {:>10.1} {:>10.1} {:>10.1}",
        "prepare() alone",
        us(p.p50),
        us(p.p99),
        us(p.mean)
    );
    println!(
        "overhead (action - direct): p50 {:.1} µs, p99 {:.1} µs, mean {:.1} µs (aim: <= 500 µs)",
        us(a.p50) - us(d.p50),
        us(a.p99) - us(d.p99),
        us(a.mean) - us(d.mean)
    );
}
