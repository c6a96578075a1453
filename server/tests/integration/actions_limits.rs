//! Runaway Python actions (endless loop, unbounded memory, unbounded forks) are stopped within
//! their limits, the bot relays an error, and the server stays healthy. No wall-clock asserts.

use serde_json::json;

use super::actions::{admin_post, shop};
use super::common::*;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn runaway_python_is_stopped_and_the_server_stays_healthy() {
    let (s, _apis) = shop().await;
    let t = s.create_thread("shop").await;

    // From a workflow: the loop hits its 1.5 s limit; the bot says the error and goes on.
    let ev = s.turn(&t, "spin").await;
    let done: Vec<_> = ev
        .iter()
        .filter(|e| e["type"] == "action.completed")
        .collect();
    assert_eq!(done[0]["status"], "timeout", "{ev:#?}");
    let reply = replies(&ev).pop().unwrap();
    assert!(
        reply.starts_with("spin ended: ") && reply.len() > "spin ended: ".len(),
        "{reply}"
    );
    assert_eq!(ev.last().unwrap()["type"], "run.completed");

    // Memory and processes, through Run Test.
    let (st, body) = admin_post(&s, "/bots/shop/actions/hog/test", json!({})).await;
    assert_eq!(st, 200, "{body}");
    let run = &body["run"];
    assert!(
        ["exception", "crashed"].contains(&run["status"].as_str().unwrap()),
        "{run:#}"
    );
    assert!(run["result"]["error"].is_string());
    let (_, body) = admin_post(&s, "/bots/shop/actions/forks/test", json!({})).await;
    let run = &body["run"];
    assert!(
        ["exception", "timeout", "crashed"].contains(&run["status"].as_str().unwrap()),
        "{run:#}"
    );
    assert!(run["result"]["error"].is_string());

    // Healthy: health check, a turn, and a Python action that works.
    let r = s.client.get(s.url("/healthz")).send().await.unwrap();
    assert_eq!(r.status(), 200);
    assert_eq!(replies(&s.turn(&t, "ping").await), vec!["pong".to_string()]);
    let (_, body) = admin_post(
        &s,
        "/bots/shop/actions/contextProbe/test",
        json!({"args": {"note": "after"}}),
    )
    .await;
    assert_eq!(body["run"]["status"], "ok", "{body:#}");
    s.stop().await;
}
