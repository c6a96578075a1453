//! Actions end to end: the seeds' action examples called from real workflows against stand-in
//! APIs on 127.0.0.1, with real python3; every helper against the real store; action events
//! in the thread. (Run Test, gating and limits: actions_admin.rs, actions_limits.rs.)

use serde_json::{json, Value};

use super::actions_bot;
use super::actions_standin::{self, Apis};
use super::common::*;

pub const ADMIN_TOKEN: &str = "test-admin-token-0123456789-abcdefghijkl";

/// A server with the `shop` bot, its stand-in APIs, and the admin API on.
pub async fn shop() -> (TestServer, Apis) {
    let apis = actions_standin::start().await;
    let tmp = tempfile::tempdir().unwrap();
    let bots = tmp.path().join("bots");
    actions_bot::write(&bots, &apis.base);
    let mut config = test_config(&tmp.path().join("data"), &bots);
    config.http.admin_token = Some(natter_server::actions::admin::AdminToken(
        ADMIN_TOKEN.into(),
    ));
    // Smaller than production so the runaway tests end sooner; still ample for requests.
    config.actions.python.memory_limit = 384 << 20;
    config.actions.python.max_processes = 24;
    let mut s = TestServer::launch(config).await;
    s._tmp = Some(tmp);
    (s, apis)
}

pub async fn admin_get(s: &TestServer, path: &str) -> (u16, Value) {
    let r = s
        .client
        .get(s.url(&format!("/admin/v1{path}")))
        .bearer_auth(ADMIN_TOKEN)
        .send()
        .await
        .unwrap();
    (r.status().as_u16(), r.json().await.unwrap_or(Value::Null))
}

pub async fn admin_post(s: &TestServer, path: &str, body: Value) -> (u16, Value) {
    let r = s
        .client
        .post(s.url(&format!("/admin/v1{path}")))
        .bearer_auth(ADMIN_TOKEN)
        .json(&body)
        .send()
        .await
        .unwrap();
    (r.status().as_u16(), r.json().await.unwrap_or(Value::Null))
}

/// The last reply text of a turn.
fn last_reply(events: &[Value]) -> String {
    replies(events).last().cloned().unwrap_or_default()
}

fn of_type<'a>(events: &'a [Value], t: &str) -> Vec<&'a Value> {
    events.iter().filter(|e| e["type"] == t).collect()
}

/// The action events of a turn carry names, ids, status and duration only.
fn check_action_events(events: &[Value], action: &str, status: &str) {
    let started = of_type(events, "action.started");
    let completed = of_type(events, "action.completed");
    assert_eq!(started.len(), 1, "{events:#?}");
    assert_eq!(completed.len(), 1, "{events:#?}");
    assert_eq!(started[0]["action"], action);
    assert_eq!(completed[0]["action"], action);
    assert_eq!(completed[0]["status"], status, "{:#}", completed[0]);
    assert_eq!(started[0]["actionRunId"], completed[0]["actionRunId"]);
    let run_started = of_type(events, "run.started")[0]["runId"].clone();
    assert_eq!(completed[0]["runId"], run_started);
    let mut keys: Vec<&str> = completed[0]
        .as_object()
        .unwrap()
        .keys()
        .map(String::as_str)
        .collect();
    keys.sort();
    assert_eq!(
        keys,
        [
            "action",
            "actionRunId",
            "createdAt",
            "durationMs",
            "runId",
            "seq",
            "status",
            "threadId",
            "type"
        ]
    );
    // In the log, the action starts after what the bot said before it, and ends before what
    // it says after.
    let pos = |e: &Value| events.iter().position(|x| x == e).unwrap();
    assert!(pos(started[0]) < pos(completed[0]));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn seed_examples_from_workflows_and_every_helper() {
    let (s, apis) = shop().await;

    // --- Fetch order with tracking from multiple APIs (seed 1) ---
    let t = s.create_thread("shop").await;
    assert_eq!(last_reply(&s.turn(&t, "track my order").await), "Order id?");
    s.turn(&t, "42").await;
    let ev = s.turn(&t, "a@b.example").await;
    assert_eq!(
        last_reply(&ev),
        "Order 42 is shipped, tracking TN1, first: picked up, eta 2026-01-05, none: []",
        "{ev:#?}"
    );
    check_action_events(&ev, "getOrderWithTracking", "ok");
    assert_eq!(
        apis.seen("erp"),
        vec![json!({"id": "42", "email": "a@b.example"})]
    );
    assert_eq!(
        apis.seen("courier"),
        vec![json!({"tracking_number": "TN1"})]
    );
    // A wrong order: the script's own {"error": …}, relayed; the run is `error`.
    s.turn(&t, "track").await;
    s.turn(&t, "43").await;
    let ev = s.turn(&t, "a@b.example").await;
    assert_eq!(
        last_reply(&ev),
        "Sorry: Order not found. Please check the order ID."
    );
    check_action_events(&ev, "getOrderWithTracking", "error");

    // --- API action with $variable (the seed's "Check product stock") ---
    s.turn(&t, "stock please").await;
    let ev = s.turn(&t, "SKU-1").await;
    assert_eq!(last_reply(&ev), "SKU-1 is in stock.");
    check_action_events(&ev, "checkProductStock", "ok");
    s.turn(&t, "stock").await;
    let ev = s.turn(&t, "SKU-9").await;
    assert_eq!(
        last_reply(&ev),
        "Not available (404): The API answered HTTP 404 Not Found"
    );
    check_action_events(&ev, "checkProductStock", "http_error");

    // --- Process a refund with validation (seed 2) ---
    let r = s.create_thread("shop").await;
    s.turn(&r, "refund").await;
    assert_eq!(
        last_reply(&s.turn(&r, "2").await),
        "No refund: This order has already been refunded."
    );
    s.turn(&r, "refund").await;
    assert_eq!(
        last_reply(&s.turn(&r, "3").await),
        "No refund: This order cannot be refunded in its current state."
    );
    s.turn(&r, "refund").await;
    let ev = s.turn(&r, "1").await;
    assert_eq!(last_reply(&ev), "Refunded 19.9.");
    assert_eq!(
        apis.seen("refund"),
        vec![json!({"orderId": "1", "reason": "asked in chat", "fullRefund": true})]
    );
    let (st, thread) = admin_get(&s, &format!("/threads/{r}")).await;
    assert_eq!(st, 200, "{thread}");
    assert_eq!(thread["tags"][0]["tag"], "refunded");
    assert!(thread["tags"][0]["id"]
        .as_str()
        .unwrap()
        .starts_with("tag_"));
    assert_eq!(thread["metadata"]["refund_amount"], "19.9");

    // --- Create an order from chat (seed 3) ---
    let c = s.create_thread("shop").await;
    s.turn(&c, "new order").await;
    s.turn(&c, "Ada Lovelace").await;
    s.turn(&c, "+306912345678").await;
    let ev = s
        .turn(&c, r#"[{"sku": "MUG", "qty": 2, "price": 5.5}]"#)
        .await;
    assert_eq!(
        last_reply(&ev),
        "Order ORD-7, total 11.0: https://shop.example/confirm/ORD-7"
    );
    assert_eq!(
        apis.seen("create"),
        vec![
            json!({"customerName": "Ada Lovelace", "phone": "6912345678", "items": [{"sku": "MUG", "qty": 2, "price": 5.5}]})
        ]
    );

    // --- Every helper, against the real store ---
    // a conversation the widget described: its page is the action's browser_session (the
    // message's own context is not)
    let r = s
        .client
        .post(s.url("/v1/bots/shop/threads"))
        .json(
            &json!({"channel": "web", "browserSession": {"pageUrl": "https://shop.example/cart"}}),
        )
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 201);
    let h = r.json::<Value>().await.unwrap()["threadId"]
        .as_str()
        .unwrap()
        .to_string();
    let r1 = s
        .client
        .post(s.url(&format!("/v1/threads/{h}/messages")))
        .json(&json!({"clientMessageId": "h1", "content": "helpers", "context": {"pageUrl": "https://shop.example/elsewhere"}}))
        .send()
        .await
        .unwrap();
    assert_eq!(r1.status(), 202);
    let run_id = r1.json::<Value>().await.unwrap()["runId"]
        .as_str()
        .unwrap()
        .to_string();
    let mut sse = s.events(&h, Some(0)).await;
    let mut ev = Vec::new();
    while let Some(e) = sse.next_json().await {
        let end = (e["type"] == "run.completed" || e["type"] == "run.failed")
            && e["runId"] == run_id.as_str();
        ev.push(e);
        if end {
            break;
        }
    }
    check_action_events(&ev, "helperTour", "ok");
    let reply = last_reply(&ev);
    let (st, runs) = admin_get(&s, "/action-runs?action=helperTour").await;
    assert_eq!(st, 200);
    let run = &runs["runs"][0];
    let out = &run["result"];
    assert_eq!(run["status"], "ok", "{run:#}");
    assert_eq!(run["stdout"], "tour done\n");
    assert_eq!(run["threadId"], h.as_str());
    assert_eq!(run["runId"], run_id.as_str());
    assert_eq!(run["test"], false);
    assert_eq!(out["set"]["success"], true);
    assert_eq!(
        out["get"],
        json!({"name": "teal", "n": 1}),
        "a later call sees the earlier set"
    );
    assert_eq!(out["deleted"]["success"], true);
    assert_eq!(out["after_delete"], Value::Null);
    let tag = out["tag1"]["tagId"].as_str().unwrap();
    assert_eq!(out["tag2"]["tagId"], tag, "the same tag keeps its id");
    assert_eq!(reply, format!("tag {tag} twice {tag}"));
    assert!(out["event"]["eventId"]
        .as_str()
        .unwrap()
        .starts_with("evt_"));
    assert!(["a", "b", "c"].contains(&out["ab1"].as_str().unwrap()));
    assert_eq!(out["ab1"], out["ab2"], "sticky");
    assert_eq!(out["llm_fallback"], true, "no LLM configured: the fallback");
    assert!(
        out["llm_raised"]
            .as_str()
            .unwrap()
            .to_lowercase()
            .contains("llm"),
        "{out:#}"
    );
    assert_eq!(out["sheets"]["success"], true, "{out:#}");
    assert_eq!(out["sheets"]["updatedRows"], 1);
    assert_eq!(out["holiday"], true);
    assert_eq!(out["workday"], false);
    for f in [
        "get_conversation_metadata",
        "set_conversation_metadata",
        "delete_conversation_metadata",
        "add_conversation_tag",
        "add_conversation_event",
        "hand_off_conversation",
        "llm_classify_binary",
        "llm_classify_category",
        "get_ab_test_variant",
        "add_google_sheets_row",
        "is_holiday",
        "list_predefined_functions",
    ] {
        assert!(
            out["functions"].as_array().unwrap().contains(&json!(f)),
            "{f} listed"
        );
    }
    assert_eq!(out["conversation_id"], h.as_str());
    assert_eq!(out["business"], "shop");
    assert_eq!(out["senders"], json!(["customer"]));
    assert_eq!(
        out["browser"],
        json!({"pageUrl": "https://shop.example/cart"})
    );
    assert!(
        out["cap"]
            .as_str()
            .unwrap()
            .contains("metadata would exceed 1024 KiB"),
        "{out:#}"
    );
    let appends = apis.seen("sheets.append");
    assert_eq!(appends.len(), 1);
    assert_eq!(appends[0]["path"], "SHEET-1/values/Sheet1!A1:append");
    assert_eq!(appends[0]["body"]["values"], json!([["Ada", 2, true]]));
    // The store and the thread's log show the changes.
    let (_, thread) = admin_get(&s, &format!("/threads/{h}")).await;
    assert_eq!(thread["tags"], json!([{"id": tag, "tag": "vip"}]));
    assert_eq!(
        thread["metadata"],
        json!({"color": {"name": "teal", "n": 1}})
    );
    let timeline = of_type(&ev, "thread.event");
    assert_eq!(timeline.len(), 1);
    assert_eq!(timeline[0]["name"], "tour");
    assert_eq!(timeline[0]["data"], json!({"step": 1}));
    // Nothing of the result (metadata, tags, page URL) is in the action events.
    for e in of_type(&ev, "action.completed")
        .into_iter()
        .chain(of_type(&ev, "action.started"))
    {
        let text = e.to_string();
        assert!(
            !text.contains("teal") && !text.contains("pageUrl"),
            "{text}"
        );
    }

    s.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn seed_hand_offs_stop_the_bot_once() {
    let (s, _apis) = shop().await;

    // Example 1: a fraud flag hands off from inside the action; the workflow's next step is
    // not said, and the bot answers nothing afterwards.
    let t = s.create_thread("shop").await;
    let ev = s.turn(&t, "fraud check").await;
    check_action_events(&ev, "fraudCheck", "ok");
    let handed = of_type(&ev, "thread.handed_off");
    assert_eq!(handed.len(), 1, "{ev:#?}");
    assert_eq!(handed[0]["reason"], "Order flagged for fraud review");
    assert!(
        replies(&ev).is_empty(),
        "nothing said after the hand-off: {ev:#?}"
    );
    let (status, body) = s.send(&t, "after", "hello?").await;
    assert_eq!(status, 202);
    assert!(body["runId"].is_null(), "no run once handed off: {body}");
    assert_eq!(s.history(&t).await["status"], "handed_off");

    // Example 2: the hand-off reason says what was attempted.
    let t2 = s.create_thread("shop").await;
    let ev = s.turn(&t2, "cancel my order").await;
    let handed = of_type(&ev, "thread.handed_off");
    assert_eq!(
        handed[0]["reason"],
        "Automatic cancellation failed: the ERP refused to cancel 55"
    );
    let (_, runs) = admin_get(&s, "/action-runs?action=cancelOrder").await;
    assert_eq!(
        runs["runs"][0]["result"],
        json!({"handedOff": true, "error": "the ERP refused to cancel 55"})
    );

    // Example 3: on web chat the phone destination is ignored; either branch hands off.
    let t3 = s.create_thread("shop").await;
    let ev = s.turn(&t3, "call me").await;
    assert_eq!(of_type(&ev, "thread.handed_off").len(), 1, "{ev:#?}");
    let (_, runs) = admin_get(&s, "/action-runs?action=transferCall").await;
    let result = &runs["runs"][0]["result"];
    assert!(
        result == &json!({"success": true})
            || result["message"]
                .as_str()
                .unwrap()
                .contains("outside business hours"),
        "{result}"
    );

    // A Run Test with a conversation runs the code but skips the hand-off (the seed's "skipped
    // in test environments"); idempotence is tested on the host (actions_admin.rs).
    let t4 = s.create_thread("shop").await;
    s.turn(&t4, "ping").await;
    let (st, body) = admin_post(
        &s,
        "/bots/shop/actions/fraudCheck/test",
        json!({"args": {"orderId": "13"}, "conversationId": t4}),
    )
    .await;
    assert_eq!(st, 200, "{body}");
    assert_eq!(
        body["run"]["result"],
        json!({"handedOff": true, "reason": "fraud_flag"})
    );
    assert!(
        body["run"]["log"].to_string().contains("skipped"),
        "{body:#}"
    );
    assert_eq!(
        s.history(&t4).await["status"],
        "open",
        "a test run never hands off"
    );
    s.stop().await;
}
