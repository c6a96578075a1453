//! Idle event streams benchmark (not a test): the server's resident memory while holding
//! N idle SSE connections (default 10,000), one thread each.
//!
//! Spawns the release `natter` binary (its RSS is measured alone, without the client's),
//! raises the open-files limit of both processes, creates N threads, opens N streams with
//! raw sockets and reads each stream's first bytes (so every stream is really established).
//!
//!     cargo bench -p natter-server --bench idle_sse
//!     BENCH_STREAMS=10000 cargo bench -p natter-server --bench idle_sse

#[path = "common.rs"]
mod common;

use std::process::Stdio;
use std::time::{Duration, Instant};

use common::rss_mib;
use natter_testing::process::{natter_serve, start};
use natter_testing::server::write_bot;
use serde_json::Value;
use tokio::io::{AsyncReadExt, AsyncWriteExt};

fn raise_nofile(want: u64) -> u64 {
    unsafe {
        let mut r = libc::rlimit {
            rlim_cur: 0,
            rlim_max: 0,
        };
        libc::getrlimit(libc::RLIMIT_NOFILE, &mut r);
        let target = want.min(r.rlim_max);
        if r.rlim_cur < target {
            r.rlim_cur = target;
            libc::setrlimit(libc::RLIMIT_NOFILE, &r);
        }
        libc::getrlimit(libc::RLIMIT_NOFILE, &mut r);
        r.rlim_cur
    }
}

fn main() {
    let n: usize = natter_testing::env_or("BENCH_STREAMS", 10_000);
    let limit = raise_nofile(n as u64 * 2 + 1024);
    println!("idle SSE bench: {n} streams, open-files limit {limit} (inherited by the server)");
    let tmp = tempfile::tempdir().unwrap();
    let bots = tmp.path().join("bots");
    write_bot(&bots, "b", "greeting = \"Hi\"\n");
    let rt = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .unwrap();
    rt.block_on(async {
        let mut cmd = natter_serve();
        cmd.args(["--durability", "normal"])
            .arg("--data")
            .arg(tmp.path().join("data"))
            .arg("--bots")
            .arg(&bots)
            .stderr(Stdio::inherit());
        let (child, base) = start(cmd).await;
        let (pid, addr) = (child.id(), child.addr().to_string());
        let client = reqwest::Client::new();
        println!("server RSS at start:           {:8.1} MiB", rss_mib(pid));
        // Threads, created with bounded concurrency.
        let mut threads = Vec::with_capacity(n);
        for chunk in (0..n).collect::<Vec<_>>().chunks(200) {
            let futs = chunk.iter().map(|_| {
                let c = client.clone();
                let u = format!("{base}/v1/bots/b/threads");
                async move { c.post(u).send().await.unwrap().json::<Value>().await.unwrap()["threadId"].as_str().unwrap().to_string() }
            });
            threads.extend(futures_util::future::join_all(futs).await);
        }
        drop(client);
        tokio::time::sleep(Duration::from_millis(500)).await;
        let before = rss_mib(pid);
        println!("server RSS after {n} threads:  {before:8.1} MiB");
        let t0 = Instant::now();
        let mut conns = Vec::with_capacity(n);
        for chunk in threads.chunks(500) {
            let futs = chunk.iter().map(|t| {
                let addr = addr.clone();
                let req = format!("GET /v1/threads/{t}/events HTTP/1.1\r\nHost: {addr}\r\nAccept: text/event-stream\r\n\r\n");
                async move {
                    let mut s = tokio::net::TcpStream::connect(&addr).await.unwrap();
                    s.write_all(req.as_bytes()).await.unwrap();
                    let mut buf = vec![0u8; 4096];
                    let mut got = Vec::new();
                    // Wait for the greeting event: the stream is established end to end.
                    while !String::from_utf8_lossy(&got).contains("message.completed") {
                        let k = s.read(&mut buf).await.unwrap();
                        assert!(k > 0, "stream closed early");
                        got.extend_from_slice(&buf[..k]);
                    }
                    s
                }
            });
            conns.extend(futures_util::future::join_all(futs).await);
        }
        let opened = t0.elapsed();
        tokio::time::sleep(Duration::from_secs(2)).await;
        let after = rss_mib(pid);
        let metrics = reqwest::get(format!("{base}/metrics")).await.unwrap().text().await.unwrap();
        let open_gauge = metrics.lines().find(|l| l.starts_with("natter_sse_streams_open")).unwrap_or("?").to_string();
        println!("server RSS with {} idle streams: {after:8.1} MiB  ({:.1} KiB per stream; opened in {:.2}s; {open_gauge})",
            conns.len(), (after - before) * 1024.0 / conns.len() as f64, opened.as_secs_f64());
        drop(conns);
        drop(child);
    });
}
