//! Slow-header connections against chatting clients (not a test): the turn latency of N
//! clients (default 100) chatting, first alone, then while M connections (default 200) hold a
//! request head open by sending it one byte every 200 ms. Prints p50/p99 of both runs and the
//! p99 ratio (the claim: within 2x). The server runs in this process with rate limits off and
//! its default header-read timeout (the slow heads are dripped for less than it).
//!
//! A *turn*: POST a message, then read the thread's already-open event stream until that
//! run's `run.completed` (the bench bot replies 8 words, unpaced). Each client runs
//! `BENCH_TURNS` turns back to back (default 20).
//!
//!     cargo bench -p natter-server --bench slowloris
//!     BENCH_CLIENTS=100 BENCH_SLOW=200 BENCH_TURNS=20 cargo bench -p natter-server --bench slowloris

use std::time::{Duration, Instant};

use natter_server::server::ServerConfig;
use natter_testing::env_or;
use natter_testing::load::{chat_turns, CHAT_BOT as BOT};
use natter_testing::server::TestServer;
use natter_testing::stats::{ms, pct};
use tokio::io::AsyncWriteExt;
use tokio_util::sync::CancellationToken;

#[tokio::main]
async fn main() {
    let clients = env_or("BENCH_CLIENTS", 100);
    let slow = env_or("BENCH_SLOW", 200);
    let turns = env_or("BENCH_TURNS", 20);
    // The server's default header-read timeout (tests shorten it).
    let header_timeout = ServerConfig::default().header_read_timeout;
    let server = TestServer::start_with(&[("bench", BOT)], |c| {
        c.header_read_timeout = header_timeout;
    })
    .await;
    let base = server.base.clone();
    let addr = base.trim_start_matches("http://").to_string();

    chat_turns(&base, "bench", clients.min(10), 2).await; // warm-up
    let alone = chat_turns(&base, "bench", clients, turns).await;

    // Slow heads: one byte every 200 ms, for less than the header-read timeout.
    let stop = CancellationToken::new();
    let mut held = Vec::new();
    for _ in 0..slow {
        let mut conn = tokio::net::TcpStream::connect(&addr).await.unwrap();
        let stop = stop.clone();
        held.push(tokio::spawn(async move {
            let head = b"POST /v1/bots/bench/threads HTTP/1.1\r\nHost: x\r\nX-Slow: ";
            for b in head.iter().chain(std::iter::repeat(&b'a')) {
                if conn.write_all(&[*b]).await.is_err() {
                    return;
                }
                tokio::select! {
                    _ = stop.cancelled() => return,
                    _ = tokio::time::sleep(Duration::from_millis(200)) => {}
                }
            }
        }));
    }
    tokio::time::sleep(Duration::from_millis(500)).await;
    let started = Instant::now();
    let loaded = chat_turns(&base, "bench", clients, turns).await;
    let took = started.elapsed();
    stop.cancel();
    for h in held {
        let _ = h.await;
    }
    if took > header_timeout {
        println!(
            "note: the loaded run took {took:?}, longer than the header-read timeout ({header_timeout:?}): some slow heads were cut off during it"
        );
    }
    let line = |what: &str, v: &[Duration]| {
        println!(
            "{what:28} {} turns  p50 {}  p99 {}",
            v.len(),
            ms(pct(v, 0.5)),
            ms(pct(v, 0.99))
        )
    };
    line(&format!("{clients} clients alone"), &alone);
    line(&format!("{clients} clients + {slow} slow heads"), &loaded);
    println!(
        "p99 ratio (loaded / alone): {:.2}",
        pct(&loaded, 0.99).as_secs_f64() / pct(&alone, 0.99).as_secs_f64()
    );
    server.stop().await;
}
