//! kill -9 during a burst of sends: every acknowledged message is there after a restart,
//! and runs cut by the crash are closed as `interrupted`.

use std::process::{Child, Command, Stdio};
use std::time::Duration;

use serde_json::{json, Value};

use crate::common::*;

struct Proc(Child);
impl Drop for Proc {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port()
}

async fn spawn(data: &std::path::Path, bots: &std::path::Path, port: u16) -> (Proc, String) {
    let child = Command::new(env!("CARGO_BIN_EXE_natter"))
        .args([
            "serve",
            "--addr",
            &format!("127.0.0.1:{port}"),
            "--rate-per-ip",
            "0",
            "--rate-per-thread",
            "0",
        ])
        .arg("--data")
        .arg(data)
        .arg("--bots")
        .arg(bots)
        .env("NATTER_LOG", "warn")
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    let base = format!("http://127.0.0.1:{port}");
    let client = reqwest::Client::new();
    tokio::time::timeout(PATIENCE, async {
        loop {
            if let Ok(r) = client.get(format!("{base}/healthz")).send().await {
                if r.status() == 200 {
                    return;
                }
            }
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
    })
    .await
    .expect("server comes up");
    (Proc(child), base)
}

#[tokio::test]
async fn kill_9_during_a_burst_loses_no_acknowledged_message() {
    let tmp = tempfile::tempdir().unwrap();
    let (data, bots) = (tmp.path().join("data"), tmp.path().join("bots"));
    // Paced replies so runs are in flight at the kill.
    write_bot(
        &bots,
        "t",
        &TEST_BOT.replace("delay_ms = 0", "delay_ms = 5"),
    );
    let port = free_port();
    let (mut proc, base) = spawn(&data, &bots, port).await;
    let client = reqwest::Client::new();
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
    // 8 senders, each sending until the server dies; record every 202.
    let (tx, mut rx) = tokio::sync::mpsc::unbounded_channel::<(String, String, String)>();
    let mut senders = Vec::new();
    for t in threads.clone() {
        let (client, base, tx) = (client.clone(), base.clone(), tx.clone());
        senders.push(tokio::spawn(async move {
            for i in 0.. {
                let cmid = format!("{t}-{i}");
                let r = client
                    .post(format!("{base}/v1/threads/{t}/messages"))
                    .json(&json!({"clientMessageId": cmid, "content": "hello world"}))
                    .send()
                    .await;
                match r {
                    Ok(r) if r.status() == 202 => {
                        let v: Value = match r.json().await {
                            Ok(v) => v,
                            Err(_) => return, // died mid-body: not acknowledged
                        };
                        let _ = tx.send((
                            t.clone(),
                            cmid,
                            v["messageId"].as_str().unwrap().to_string(),
                        ));
                    }
                    _ => return,
                }
            }
        }));
    }
    drop(tx);
    // Let the burst run until enough sends are acknowledged, then kill -9.
    let mut acked = Vec::new();
    while acked.len() < 150 {
        acked.push(
            tokio::time::timeout(PATIENCE, rx.recv())
                .await
                .unwrap()
                .unwrap(),
        );
    }
    proc.0.kill().unwrap(); // SIGKILL
    proc.0.wait().unwrap();
    for s in senders {
        let _ = s.await;
    }
    while let Ok(a) = rx.try_recv() {
        acked.push(a);
    }

    let (_proc2, base) = spawn(&data, &bots, free_port()).await;
    let s = TestServer {
        base,
        data,
        bots,
        shutdown: Default::default(),
        handle: None,
        client: client.clone(),
        _tmp: None,
    };
    for t in &threads {
        let h = s.history(t).await;
        let stored: Vec<(String, String)> = h["messages"]
            .as_array()
            .unwrap()
            .iter()
            .filter(|m| m["role"] == "user")
            .map(|m| {
                (
                    m["client_message_id"].as_str().unwrap().to_string(),
                    m["id"].as_str().unwrap().to_string(),
                )
            })
            .collect();
        for (_, cmid, mid) in acked.iter().filter(|a| &a.0 == t) {
            assert!(
                stored.contains(&(cmid.clone(), mid.clone())),
                "acknowledged {cmid} lost"
            );
        }
        // Each stored message once; the log is gap-free and every run ended.
        let mut ids: Vec<&String> = stored.iter().map(|s| &s.0).collect();
        ids.dedup();
        assert_eq!(ids.len(), stored.len());
        let evs = s.all_events(t).await;
        assert!(evs
            .iter()
            .enumerate()
            .all(|(i, e)| e.id.as_deref() == Some(&(i + 1).to_string())));
        let started = evs.iter().filter(|e| e.event == "run.started").count();
        let ended = evs
            .iter()
            .filter(|e| e.event == "run.completed" || e.event == "run.failed")
            .count();
        assert_eq!(
            started, ended,
            "every run ended (interrupted ones as run.failed)"
        );
    }
    assert!(acked.len() >= 150);
}
