//! kill -9 during a burst of sends: every acknowledged message is there after a restart,
//! and runs cut by the crash are closed as `interrupted`, then re-run (docs/protocol.md §7).

use std::time::Duration;

use serde_json::{json, Value};

use crate::common::*;
use crate::process::*;

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
    let (mut proc, base) = spawn_natter(&data, &bots, &[]).await;
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
    proc.kill9();
    for s in senders {
        let _ = s.await;
    }
    while let Ok(a) = rx.try_recv() {
        acked.push(a);
    }

    let (_proc2, base) = spawn_natter(&data, &bots, &[]).await;
    let s = TestServer::at(base, &data, &bots);
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
        // Re-runs of interrupted runs may still be going: wait until every run ended.
        let evs = tokio::time::timeout(PATIENCE, async {
            loop {
                let evs = s.all_events(t).await;
                let started = evs.iter().filter(|e| e.event == "run.started").count();
                let ended = evs
                    .iter()
                    .filter(|e| e.event == "run.completed" || e.event == "run.failed")
                    .count();
                if started == ended {
                    return evs;
                }
                tokio::time::sleep(Duration::from_millis(50)).await;
            }
        })
        .await
        .expect("every run ends, re-runs included");
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

/// The complete text of a `message.completed` event.
fn completed_text(e: &Value) -> String {
    e["message"]["content"]
        .as_array()
        .unwrap()
        .iter()
        .filter_map(|c| c["text"].as_str())
        .collect()
}

#[tokio::test]
async fn kill_9_mid_reply_re_runs_the_message_once_after_restart() {
    const REPLY: &str = "one two three four five six seven eight";
    let tmp = tempfile::tempdir().unwrap();
    let (data, bots) = (tmp.path().join("data"), tmp.path().join("bots"));
    // Slow pacing: the reply is still streaming when the first delta is seen and the server dies.
    write_bot(
        &bots,
        "t",
        &TEST_BOT.replace("delay_ms = 0", "delay_ms = 300"),
    );
    let (mut proc, base) = spawn_natter(&data, &bots, &[]).await;
    let mut s = TestServer::at(base, &data, &bots);
    let t = s.create_thread("t").await;
    let before = s.last_seq(&t).await;
    let mut sse = s.events(&t, Some(before)).await;
    let (status, body) = s.send(&t, "cm-1", "hello world").await;
    assert_eq!(status, 202, "{body}");
    let first_run = body["runId"].as_str().unwrap().to_string();
    let user_message = body["messageId"].as_str().unwrap().to_string();
    loop {
        let ev = sse.next_json().await.expect("stream continues");
        assert_ne!(
            ev["type"], "message.completed",
            "reply finished before the kill"
        );
        if ev["type"] == "message.delta" {
            break;
        }
    }
    proc.kill9(); // mid-reply
    drop(sse);

    let (_proc2, base) = spawn_natter(&data, &bots, &[]).await;
    s.base = base;
    // Everything from the start; read until a run other than the first one completes.
    let mut sse = s.events(&t, Some(0)).await;
    let mut evs: Vec<Value> = Vec::new();
    loop {
        let ev = sse.next_json().await.expect("the re-run ends");
        let done = (ev["type"] == "run.completed" || ev["type"] == "run.failed")
            && ev["runId"] != first_run.as_str();
        evs.push(ev);
        if done {
            break;
        }
    }
    let dump = || serde_json::to_string_pretty(&evs).unwrap();
    let failed = evs
        .iter()
        .position(|e| e["type"] == "run.failed" && e["runId"] == first_run.as_str())
        .unwrap_or_else(|| panic!("interrupted run failed: {}", dump()));
    assert_eq!(evs[failed]["error"]["code"], "interrupted", "{}", dump());
    let restarted: Vec<&Value> = evs
        .iter()
        .filter(|e| e["type"] == "run.started" && e["runId"] != first_run.as_str())
        .collect();
    assert_eq!(restarted.len(), 1, "one re-run: {}", dump());
    let rerun = restarted[0]["runId"].as_str().unwrap().to_string();
    assert_eq!(restarted[0]["messageId"], user_message.as_str());
    let started_at = evs
        .iter()
        .position(|e| e["type"] == "run.started" && e["runId"] == rerun.as_str())
        .unwrap();
    assert!(started_at > failed, "re-run after the failure: {}", dump());
    let last = evs.last().unwrap();
    assert_eq!(last["type"], "run.completed", "{}", dump());
    assert_eq!(last["runId"], rerun.as_str());
    // Exactly one completed reply for the message (the greeting has no run), the complete text.
    let answers: Vec<&Value> = evs
        .iter()
        .filter(|e| e["type"] == "message.completed" && !e["message"]["run_id"].is_null())
        .collect();
    assert_eq!(answers.len(), 1, "{}", dump());
    assert_eq!(answers[0]["message"]["run_id"], rerun.as_str());
    assert_eq!(completed_text(answers[0]), REPLY);

    // History: the user message once and the complete reply once.
    let h = s.history(&t).await;
    let msgs = h["messages"].as_array().unwrap();
    let users: Vec<&Value> = msgs.iter().filter(|m| m["role"] == "user").collect();
    assert_eq!(users.len(), 1, "{h}");
    assert_eq!(users[0]["id"], user_message.as_str());
    let replies: Vec<String> = msgs
        .iter()
        .filter(|m| m["role"] == "assistant" && !m["run_id"].is_null())
        .map(|m| {
            m["content"]
                .as_array()
                .unwrap()
                .iter()
                .filter_map(|c| c["text"].as_str())
                .collect()
        })
        .collect();
    assert_eq!(replies, vec![REPLY.to_string()], "{h}");
    // Every run of the thread ended: the interrupted one and its re-run, nothing else.
    let all = s.all_events(&t).await;
    let started = all.iter().filter(|e| e.event == "run.started").count();
    let ended = all
        .iter()
        .filter(|e| e.event == "run.completed" || e.event == "run.failed")
        .count();
    assert_eq!((started, ended), (2, 2));
}

#[tokio::test]
async fn no_re_run_when_handed_off_a_later_run_completed_or_retries_are_used_up() {
    // After kill -9, runs are set back to `running` in the database, as if the crash had cut
    // them: the next start fails them but must not re-run them.
    let tmp = tempfile::tempdir().unwrap();
    let (data, bots) = (tmp.path().join("data"), tmp.path().join("bots"));
    write_bot(&bots, "t", TEST_BOT);
    let (mut proc, base) = spawn_natter(&data, &bots, &[]).await;
    let mut s = TestServer::at(base, &data, &bots);
    // A thread handed off: its (finished) runs and an interrupted one are not re-run.
    let handed = s.create_thread("t").await;
    let evs = s.turn(&handed, "human").await;
    assert!(types(&evs).contains(&"thread.handed_off".to_string()));
    // An open thread whose first message's run is interrupted after a later run completed.
    let stale = s.create_thread("t").await;
    let first = s.turn(&stale, "hello world").await;
    let first_run = first.iter().find(|e| e["type"] == "run.started").unwrap()["runId"]
        .as_str()
        .unwrap()
        .to_string();
    s.turn(&stale, "colors").await;
    // An open thread whose message was re-run twice already (the cap).
    let capped = s.create_thread("t").await;
    s.turn(&capped, "hello world").await;
    proc.kill9();
    // Leave a run `running` on the handed-off thread, as a crash mid-reply would (owner gone).
    let running = "UPDATE runs SET status = 'running', error = NULL, ended_at = NULL, owner = NULL";
    store_sql(
        &data,
        &format!(
            "{running} WHERE thread_id = '{handed}'; {running} WHERE id = '{first_run}'; \
             {running}, attempt = 2 WHERE thread_id = '{capped}';"
        ),
    )
    .await;
    let (_proc2, base) = spawn_natter(&data, &bots, &[]).await;
    s.base = base;
    let all = s.all_events(&handed).await;
    let started = all.iter().filter(|e| e.event == "run.started").count();
    assert_eq!(started, 1, "no re-run on a handed-off thread");
    assert!(all
        .iter()
        .any(|e| e.event == "run.failed" && e.data.contains("interrupted")));
    let all = s.all_events(&stale).await;
    let started = all.iter().filter(|e| e.event == "run.started").count();
    assert_eq!(started, 2, "no re-run of a stale answer");
    assert!(all
        .iter()
        .any(|e| e.event == "run.failed" && e.data.contains(&first_run)));
    let all = s.all_events(&capped).await;
    let started = all.iter().filter(|e| e.event == "run.started").count();
    assert_eq!(started, 1, "no third re-run");
    assert!(all
        .iter()
        .any(|e| e.event == "run.failed" && e.data.contains("interrupted")));
}
