//! kill -9 between a transition and the end of its handlers: after a restart every handler
//! has run (at least once), none is lost.

use std::time::Duration;

use serde_json::Value;

use crate::common::*;
use crate::lifecycle_common::*;
use crate::process::*;

/// First run: records itself, then hangs (the kill lands here). Later runs return at once.
const SLOW_PY: &str = r#"
import time
def handle_event(context):
    n = get_conversation_metadata(context, "slow_runs") or 0
    set_conversation_metadata(context, "slow_runs", n + 1)
    if n == 0:
        time.sleep(55)
    return {"runs": n + 1}
"#;

const FAST_PY: &str = r#"
def handle_event(context):
    return {"ok": True}
"#;

#[tokio::test]
async fn kill_9_while_handlers_run_then_restart_runs_every_handler() {
    let tmp = tempfile::tempdir().unwrap();
    let (data, bots) = (tmp.path().join("data"), tmp.path().join("bots"));
    write_bot(&bots, "k", "fallback = \"?\"\n[stream]\ndelay_ms = 0\n");
    write_file(&bots, "k/handlers/conversation_closed/slow.py", SLOW_PY);
    write_file(&bots, "k/handlers/conversation_closed/fast.py", FAST_PY);
    let (mut proc, base) = spawn_natter(&data, &bots, &[("NATTER_ADMIN_TOKEN", ADMIN)]).await;
    let client = reqwest::Client::new();

    let r = client
        .post(format!("{base}/v1/bots/k/threads"))
        .send()
        .await
        .unwrap();
    let thread = r.json::<Value>().await.unwrap()["threadId"]
        .as_str()
        .unwrap()
        .to_string();
    let r = client
        .post(format!("{base}/v1/threads/{thread}/close"))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 200);
    // The slow handler is inside its first run: kill -9 now.
    until("the slow handler started", || async {
        let t = admin_get(&client, &base, &format!("/threads/{thread}")).await;
        (t["metadata"]["slow_runs"] == 1).then_some(())
    })
    .await;
    proc.kill9();

    let (_proc, base) = spawn_natter(&data, &bots, &[("NATTER_ADMIN_TOKEN", ADMIN)]).await;
    let runs = until("both handlers ran after the restart", || async {
        let v = admin_get(&client, &base, "/handler-runs?bot=k&limit=100").await;
        let runs = v["runs"].as_array().unwrap().clone();
        let slow_done = runs
            .iter()
            .any(|r| r["handler"] == "slow" && r["status"] == "ok");
        let fast_done = runs
            .iter()
            .any(|r| r["handler"] == "fast" && r["status"] == "ok");
        (slow_done && fast_done).then_some(runs)
    })
    .await;
    let slow = runs.iter().find(|r| r["handler"] == "slow").unwrap();
    assert_eq!(slow["result"]["runs"], 2, "re-run after the crash: {slow}");
    let jobs = outbox(&client, &base, &thread).await;
    assert_eq!(jobs.len(), 2);
    assert!(jobs.iter().all(|j| j["status"] == "done"), "{jobs:?}");
    let _ = Duration::ZERO;
}
