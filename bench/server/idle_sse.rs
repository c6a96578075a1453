//! Idle event streams benchmark (not a test): each server's resident memory while holding
//! N idle SSE connections (default 10,000), one thread each.
//!
//! Spawns the release `natter` binary (its RSS is measured alone, without the client's),
//! raises the open-files limit of both processes, creates N threads, opens N streams with
//! raw sockets and reads each stream's first bytes (so every stream is really established).
//!
//! `BENCH_INSTANCES=K` (K > 1 needs `BENCH_STORE=postgres`): K servers on one PostgreSQL
//! database (a throwaway cluster, as in the load bench), N streams on each (threads created
//! through the first one): the memory per instance and per stream when the store is shared
//! and each instance listens for the others' commits.
//!
//!     cargo bench -p natter-server --bench idle_sse
//!     BENCH_STREAMS=10000 cargo bench -p natter-server --bench idle_sse
//!     BENCH_STORE=postgres BENCH_INSTANCES=3 BENCH_STREAMS=5000 cargo bench -p natter-server --bench idle_sse

#[path = "common.rs"]
mod common;

use std::time::{Duration, Instant};

use common::rss_mib;
use natter_testing::env_or;
use natter_testing::pg_cluster::durable_cluster;
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
    let n: usize = env_or("BENCH_STREAMS", 10_000);
    let instances = env_or("BENCH_INSTANCES", 1usize).max(1);
    let postgres = std::env::var("BENCH_STORE").is_ok_and(|s| s == "postgres");
    assert!(
        postgres || instances == 1,
        "BENCH_INSTANCES > 1 needs BENCH_STORE=postgres (one SQLite file has one server)"
    );
    let limit = raise_nofile((n * instances) as u64 * 2 + 1024);
    let store = if postgres { "PostgreSQL" } else { "SQLite" };
    println!(
        "idle SSE bench: {n} streams on each of {instances} instance(s), {store}, open-files limit {limit} (inherited by the servers)"
    );
    let tmp = tempfile::tempdir().unwrap();
    let bots = tmp.path().join("bots");
    write_bot(&bots, "b", "greeting = \"Hi\"\n");
    let url = postgres.then(|| {
        let db = format!("idle_{}", uuid::Uuid::new_v4().simple());
        durable_cluster().database(&db)
    });
    let rt = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .unwrap();
    rt.block_on(async {
        let mut servers = Vec::new();
        for i in 0..instances {
            let mut cmd = natter_serve();
            cmd.args(["--durability", "normal"])
                .arg("--data")
                .arg(tmp.path().join(format!("data{i}")))
                .arg("--bots")
                .arg(&bots);
            if let Some(url) = &url {
                cmd.env("DATABASE_URL", url);
            }
            servers.push(start(cmd).await.0);
        }
        let pids: Vec<u32> = servers.iter().map(|s| s.id()).collect();
        let addrs: Vec<String> = servers.iter().map(|s| s.addr().to_string()).collect();
        let client = reqwest::Client::new();
        let rss = |i: usize| rss_mib(pids[i]);
        for i in 0..instances {
            println!("instance {i}: server RSS at start:           {:8.1} MiB", rss(i));
        }
        // Threads, created with bounded concurrency, through the first instance.
        let base = format!("http://{}", addrs[0]);
        let mut threads = Vec::with_capacity(n * instances);
        for chunk in (0..n * instances).collect::<Vec<_>>().chunks(200) {
            let futs = chunk.iter().map(|_| {
                let c = client.clone();
                let u = format!("{base}/v1/bots/b/threads");
                async move { c.post(u).send().await.unwrap().json::<Value>().await.unwrap()["threadId"].as_str().unwrap().to_string() }
            });
            threads.extend(futures_util::future::join_all(futs).await);
        }
        drop(client);
        tokio::time::sleep(Duration::from_millis(500)).await;
        let mut conns = Vec::with_capacity(n * instances);
        for (i, addr) in addrs.iter().enumerate() {
            let before = rss(i);
            println!("instance {i}: server RSS after {} threads:  {before:8.1} MiB", threads.len());
            let t0 = Instant::now();
            let mine = &threads[i * n..(i + 1) * n];
            let mut opened_here = Vec::with_capacity(n);
            for chunk in mine.chunks(500) {
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
                opened_here.extend(futures_util::future::join_all(futs).await);
            }
            let opened = t0.elapsed();
            tokio::time::sleep(Duration::from_secs(2)).await;
            let after = rss(i);
            let metrics = reqwest::get(format!("http://{addr}/metrics")).await.unwrap().text().await.unwrap();
            let open_gauge = metrics.lines().find(|l| l.starts_with("natter_sse_streams_open")).unwrap_or("?").to_string();
            println!("instance {i}: server RSS with {} idle streams: {after:8.1} MiB  ({:.1} KiB per stream; opened in {:.2}s; {open_gauge})",
                opened_here.len(), (after - before) * 1024.0 / opened_here.len() as f64, opened.as_secs_f64());
            conns.extend(opened_here);
        }
        drop(conns);
        drop(servers);
    });
}
