//! A conversation's browser session, channel and subject: the widget's page description given
//! at creation and replaced when the page changes, seen by a Python action and an event handler
//! as `context["browser_session"]` (not the metadata); the channel the conversation came
//! through; the subject taken from the visitor's first message; bad input refused with a 400
//! that changes nothing.

use serde_json::{json, Value};

use crate::common::*;
use crate::lifecycle_common::*;

const BOT: &str = r#"
name = "Session bot"
greeting = "Hi!"
fallback = "Hm?"
[stream]
delay_ms = 0
[[workflows]]
name = "where"
triggers = { keywords = ["where"] }
steps = [ { action = "page", save_as = "p" }, { say = "{{p.url}} | {{p.customer}} | {{p.channel}} | {{p.subject}} | {{p.meta}}" } ]
[[workflows]]
name = "bye"
triggers = { keywords = ["bye"] }
steps = [ { say = "Bye!" }, { close = "" } ]
"#;

const PAGE_ACTION: &str = r#"description = "What page is the visitor on?"
kind = "python"
workflows = ["where"]
[python]
file = "actions/page.py"
timeout_ms = 20000
"#;

const PAGE_PY: &str = r#"
def execute_action(context):
    b = context["browser_session"] or {}
    c = context["conversation"]
    return {
        "url": b.get("url"),
        "customer": (b.get("context") or {}).get("customerId"),
        "channel": c["channel"],
        "subject": c["subject"],
        "meta": "browser_session" in c["metadata"],
    }
"#;

const CLOSED_PY: &str = r#"
def handle_event(context):
    c = context["conversation"]
    return {"browser": context["browser_session"], "channel": c["channel"], "subject": c["subject"],
            "channels": sorted({m["channel"] for m in c["messages"]})}
"#;

async fn start() -> TestServer {
    let tmp = tempfile::tempdir().unwrap();
    let bots = tmp.path().join("bots");
    write_bot(&bots, "b", BOT);
    write_file(&bots, "b/actions/page.toml", PAGE_ACTION);
    write_file(&bots, "b/actions/page.py", PAGE_PY);
    write_file(&bots, "b/handlers/conversation_closed/record.py", CLOSED_PY);
    let mut config = test_config(&tmp.path().join("data"), &bots);
    fast(&mut config);
    let mut s = TestServer::launch(config).await;
    s._tmp = Some(tmp);
    s
}

fn session(url: &str) -> Value {
    json!({
        "url": url, "title": "Cart", "referrer": "https://search.example/", "userAgent": "Test/1",
        "language": "de-CH", "timeZone": "Europe/Zurich", "screen": {"width": 1280, "height": 800},
        "context": {"customerId": "c-42"}
    })
}

async fn create(s: &TestServer, body: Value) -> reqwest::Response {
    s.client
        .post(s.url("/v1/bots/b/threads"))
        .json(&body)
        .send()
        .await
        .unwrap()
}

async fn put_session(s: &TestServer, thread: &str, body: &str) -> reqwest::Response {
    s.client
        .put(s.url(&format!("/v1/threads/{thread}/browser-session")))
        .header("content-type", "application/json")
        .body(body.to_string())
        .send()
        .await
        .unwrap()
}

#[tokio::test]
async fn actions_and_handlers_see_the_page_the_visitor_is_on() {
    let s = start().await;
    let r = create(
        &s,
        json!({"channel": "web", "browserSession": session("https://shop.example/cart"), "metadata": {"plan": "gold"}}),
    )
    .await;
    assert_eq!(r.status(), 201);
    let thread = r.json::<Value>().await.unwrap()["threadId"]
        .as_str()
        .unwrap()
        .to_string();

    // The first visitor message makes the subject; the action sees the page it was created on.
    let evs = s.turn(&thread, "  where   am I? ").await;
    assert_eq!(
        replies(&evs),
        ["https://shop.example/cart | c-42 | web | where am I? | false"],
        "{evs:?}"
    );

    // The page changed (SPA navigation): the next action sees the new one.
    let r = put_session(
        &s,
        &thread,
        &session("https://shop.example/checkout").to_string(),
    )
    .await;
    assert_eq!(r.status(), 204);
    let evs = s.turn(&thread, "where now").await;
    assert_eq!(
        replies(&evs),
        ["https://shop.example/checkout | c-42 | web | where am I? | false"],
        "the subject stays the first message's: {evs:?}"
    );

    // The closed handler gets the whole session, and the conversation's one channel.
    s.turn(&thread, "bye").await;
    let runs = handler_runs(&s.client, &s.base, "b", 1).await;
    let res = &runs[0]["result"];
    assert_eq!(
        res["browser"],
        session("https://shop.example/checkout"),
        "{res}"
    );
    assert_eq!(res["channel"], "web");
    assert_eq!(res["channels"], json!(["web"]));
    assert_eq!(res["subject"], "where am I?");

    // The console shows both.
    let c = admin_get(&s.client, &s.base, &format!("/conversations/{thread}")).await;
    assert_eq!(c["conversation"]["channel"], "web", "{c}");
    assert_eq!(c["browserSession"]["url"], "https://shop.example/checkout");
    s.stop().await;
}

#[tokio::test]
async fn channel_defaults_to_api_and_bad_input_is_a_400_that_changes_nothing() {
    let s = start().await;
    // No channel named: a protocol client. No session: None for Python.
    let thread = s.create_thread("b").await;
    let evs = s.turn(&thread, "where").await;
    assert_eq!(
        replies(&evs),
        [" |  | api | where | false"],
        "no session, channel api: {evs:?}"
    );
    let r = create(&s, json!({"channel": "ibm_orchestrate"})).await;
    assert_eq!(r.status(), 201);

    for (body, what) in [
        (json!({"channel": "crm"}), "channel must be one of"),
        (json!({"channel": "fax"}), "channel must be one of"),
        (
            json!({"browserSession": "https://x"}),
            "must be a JSON object",
        ),
        (json!({"browserSession": [1]}), "must be a JSON object"),
        (
            json!({"browserSession": {"context": {"big": "x".repeat(9000)}}}),
            "larger than 8192 bytes",
        ),
    ] {
        let r = create(&s, body.clone()).await;
        assert_eq!(r.status(), 400, "{body}");
        let e: Value = r.json().await.unwrap();
        assert_eq!(e["error"]["code"], "invalid_request", "{e}");
        let msg = e["error"]["message"].as_str().unwrap();
        assert!(msg.contains(what), "{body}: {msg}");
    }

    for (body, what) in [
        ("\"https://x\"".to_string(), "must be a JSON object"),
        ("null".to_string(), "must be a JSON object"),
        (
            json!({"title": "t".repeat(9000)}).to_string(),
            "larger than 8192 bytes",
        ),
    ] {
        let r = put_session(&s, &thread, &body).await;
        assert_eq!(r.status(), 400, "{body}");
        let e: Value = r.json().await.unwrap();
        assert!(
            e["error"]["message"].as_str().unwrap().contains(what),
            "{e}"
        );
    }
    // Nothing was kept by the refused writes; an unknown thread is a 404.
    let evs = s.turn(&thread, "where").await;
    assert_eq!(replies(&evs), [" |  | api | where | false"], "{evs:?}");
    let r = put_session(&s, "thr_nope", "{}").await;
    assert_eq!(r.status(), 404);
    s.stop().await;
}
