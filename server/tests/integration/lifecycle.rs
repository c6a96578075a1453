//! Conversation lifecycle: event handlers of both events with the seed's context, handlers
//! that raise, transitions that happen once, closing by the visitor / the bot / automation.

use serde_json::{json, Value};

use crate::common::*;
use crate::lifecycle_common::*;

const BOT: &str = r#"
name = "Lifecycle bot"
greeting = "Hi!"
fallback = "Hm?"
[stream]
delay_ms = 0
[[workflows]]
name = "human"
triggers = { keywords = ["human"] }
steps = [ { handoff = "Connecting you.", reason = "asked" } ]
[[workflows]]
name = "bye"
triggers = { keywords = ["bye"] }
steps = [ { say = "Bye!" }, { close = "" } ]
"#;

const CONTEXT_PY: &str = r#"
def handle_event(context):
    conv = context["conversation"]
    set_conversation_metadata(context, "seen_" + context["args"]["event_type"], True)
    print("handled", conv["publicId"])
    return {
        "event": context["args"]["event_type"],
        "id": conv["id"],
        "publicId": conv["publicId"],
        "businessSlug": conv["businessSlug"],
        "senders": [m["sender"] for m in conv["messages"]],
        "texts": [m["content"] for m in conv["messages"]],
        "hasTimestamps": all("T" in m["timestamp"] for m in conv["messages"]),
        "browser": context["browser_session"],
    }
"#;

const RAISES_PY: &str = r#"
def handle_event(context):
    raise ValueError("the CRM is down")
"#;

async fn start() -> TestServer {
    let tmp = tempfile::tempdir().unwrap();
    let bots = tmp.path().join("bots");
    write_bot(&bots, "h", BOT);
    write_file(
        &bots,
        "h/handlers/conversation_handed_off/notify.py",
        CONTEXT_PY,
    );
    write_file(
        &bots,
        "h/handlers/conversation_closed/a_raises.py",
        RAISES_PY,
    );
    write_file(
        &bots,
        "h/handlers/conversation_closed/b_sync.py",
        CONTEXT_PY,
    );
    let mut config = test_config(&tmp.path().join("data"), &bots);
    fast(&mut config);
    let mut s = TestServer::launch(config).await;
    s._tmp = Some(tmp);
    s
}

fn by_handler<'a>(runs: &'a [Value], name: &str) -> &'a Value {
    runs.iter()
        .find(|r| r["handler"] == name)
        .unwrap_or_else(|| panic!("no run of {name}: {runs:?}"))
}

#[tokio::test]
async fn handlers_of_both_events_run_with_the_seed_context_and_one_raising_does_not_stop_another() {
    let s = start().await;
    let thread = s.create_thread("h").await;
    let public_id = s.history(&thread).await["messages"][0]["id"].clone();
    let _ = public_id;
    let evs = s.turn(&thread, "I want a human").await;
    assert!(
        types(&evs).contains(&"thread.handed_off".to_string()),
        "{evs:?}"
    );

    let runs = handler_runs(&s.client, &s.base, "h", 1).await;
    let r = by_handler(&runs, "notify");
    assert_eq!(r["status"], "ok", "{r}");
    assert_eq!(r["eventType"], "conversation_handed_off");
    let res = &r["result"];
    assert_eq!(res["event"], "conversation_handed_off");
    assert_eq!(res["id"], thread.as_str());
    assert_eq!(res["businessSlug"], "h");
    assert_eq!(res["senders"], json!(["bot", "customer", "bot"]));
    assert_eq!(
        res["texts"],
        json!(["Hi!", "I want a human", "Connecting you."])
    );
    assert_eq!(res["hasTimestamps"], true);
    assert!(
        res["browser"].is_null(),
        "a conversation no widget described has no browser_session (not its metadata): {res}"
    );
    assert!(r["stdout"].as_str().unwrap().starts_with("handled "), "{r}");

    // The visitor closes it: both closed handlers run, the raising one is logged as failed.
    let close = s
        .client
        .post(s.url(&format!("/v1/threads/{thread}/close")))
        .send()
        .await
        .unwrap();
    assert_eq!(close.json::<Value>().await.unwrap()["changed"], true);
    let runs = handler_runs(&s.client, &s.base, "h", 3).await;
    let bad = by_handler(&runs, "a_raises");
    assert_eq!(bad["status"], "exception");
    assert!(
        bad["traceback"].as_str().unwrap().contains("ValueError"),
        "{bad}"
    );
    let good = by_handler(&runs, "b_sync");
    assert_eq!(good["status"], "ok", "{good}");
    assert_eq!(good["result"]["event"], "conversation_closed");
    // The helper acted on the conversation at once.
    let t = admin_get(&s.client, &s.base, &format!("/threads/{thread}")).await;
    assert_eq!(t["metadata"]["seen_conversation_closed"], true, "{t}");
    assert_eq!(t["metadata"]["seen_conversation_handed_off"], true, "{t}");

    // A second close is a no-op that says so, and queues nothing.
    let again = s
        .client
        .post(s.url(&format!("/v1/threads/{thread}/close")))
        .send()
        .await
        .unwrap();
    assert_eq!(again.json::<Value>().await.unwrap()["changed"], false);
    let jobs = outbox(&s.client, &s.base, &thread).await;
    assert_eq!(jobs.len(), 3, "one job per handler per event: {jobs:?}");
    assert!(jobs.iter().all(|j| j["status"] == "done"), "{jobs:?}");
    let closed: Vec<Value> = s
        .all_events(&thread)
        .await
        .into_iter()
        .filter(|e| e.event == "thread.closed")
        .map(|e| serde_json::from_str(&e.data).unwrap())
        .collect();
    assert_eq!(closed.len(), 1);
    assert_eq!(closed[0]["by"], "visitor");
    s.stop().await;
}

#[tokio::test]
async fn the_bot_closes_and_a_run_test_runs_a_handler_without_the_event() {
    let s = start().await;
    let thread = s.create_thread("h").await;
    let evs = s.turn(&thread, "bye").await;
    let closed = evs
        .iter()
        .find(|e| e["type"] == "thread.closed")
        .expect("closed by the workflow");
    assert_eq!(closed["by"], "bot");
    let runs = handler_runs(&s.client, &s.base, "h", 2).await;
    assert!(
        runs.iter()
            .all(|r| r["eventType"] == "conversation_closed" && r["test"] == false),
        "{runs:?}"
    );

    // Run Test: the handed-off handler against this conversation, with the form's event type.
    let run = s
        .test_handler(ADMIN, "h", "notify", &thread, "conversation_closed")
        .await;
    assert_eq!(run["test"], true);
    assert_eq!(run["result"]["event"], "conversation_closed");
    // It did not fire the event: no new job.
    assert_eq!(outbox(&s.client, &s.base, &thread).await.len(), 2);
    // Bad input: 400, nothing ran.
    let r = s
        .client
        .post(s.url("/admin/v1/bots/h/handlers/notify/test"))
        .bearer_auth(ADMIN)
        .json(&json!({"conversationId": thread, "eventType": "conversation_opened"}))
        .send()
        .await
        .unwrap();
    assert_eq!(error_code(r).await, (400, "invalid_request".to_string()));
    s.stop().await;
}

#[tokio::test]
async fn an_idle_conversation_is_closed_by_automation() {
    let tmp = tempfile::tempdir().unwrap();
    let bots = tmp.path().join("bots");
    write_bot(
        &bots,
        "idle",
        &format!("{BOT}\n[lifecycle]\ninactivity_timeout_secs = 1\n"),
    );
    let mut config = test_config(&tmp.path().join("data"), &bots);
    fast(&mut config);
    config.lifecycle.inactivity_every = std::time::Duration::from_millis(100);
    let mut s = TestServer::launch(config).await;
    s._tmp = Some(tmp);
    let thread = s.create_thread("idle").await;
    let mut sse = s.events(&thread, Some(0)).await;
    let ev = until_event(&mut sse, "thread.closed").await;
    assert_eq!(ev["by"], "automation");
    assert_eq!(ev["reason"], "inactivity");
    s.stop().await;
}
