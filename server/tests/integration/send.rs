//! Sends: idempotency under retries, history, feedback, close, and the greeting.

use serde_json::{json, Value};

use crate::common::*;

#[tokio::test]
async fn greeting_is_the_first_message_and_event() {
    let s = TestServer::start().await;
    let t = s.create_thread("t").await;
    let h = s.history(&t).await;
    assert_eq!(h["status"], "open");
    assert_eq!(h["lastSeq"], 1);
    assert_eq!(h["messages"][0]["role"], "assistant");
    assert_eq!(h["messages"][0]["content"][0]["text"], "Hello there!");
    let mut sse = s.events(&t, None).await;
    let ev = sse.next_json().await.unwrap();
    assert_eq!(ev["type"], "message.completed");
    assert_eq!(sse.retry(), Some(2000), "retry hint");
    s.stop().await;
}

#[tokio::test]
async fn retried_send_returns_first_result_and_stores_one_message() {
    let s = TestServer::start().await;
    let t = s.create_thread("t").await;
    let (st1, first) = s.send(&t, "c-1", "hello world").await;
    assert_eq!(st1, 202);
    assert!(first["runId"].as_str().unwrap().starts_with("run_"));
    // Sequential retries, then a burst of concurrent ones with the same id.
    for _ in 0..3 {
        let (st, again) = s.send(&t, "c-1", "hello world").await;
        assert_eq!(st, 202);
        assert_eq!(again, first);
    }
    let futs: Vec<_> = (0..16).map(|_| s.send(&t, "c-1", "hello world")).collect();
    for (st, again) in futures_util::future::join_all(futs).await {
        assert_eq!((st, &again), (202, &first));
    }
    // Concurrent first sends of a *new* id: exactly one message, all answers equal.
    let futs: Vec<_> = (0..16).map(|_| s.send(&t, "c-2", "hello world")).collect();
    let answers = futures_util::future::join_all(futs).await;
    assert!(answers.iter().all(|a| a == &answers[0]), "{answers:?}");
    // Wait for both runs to finish, then count.
    let mut sse = s.events(&t, Some(0)).await;
    let mut completed = 0;
    while completed < 2 {
        if sse.next_json().await.unwrap()["type"] == "run.completed" {
            completed += 1;
        }
    }
    let h = s.history(&t).await;
    let users: Vec<&Value> = h["messages"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|m| m["role"] == "user")
        .collect();
    assert_eq!(users.len(), 2, "{h}");
    assert_eq!(users[0]["client_message_id"], "c-1");
    assert_eq!(users[1]["client_message_id"], "c-2");
    let bots = h["messages"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|m| m["role"] == "assistant")
        .count();
    assert_eq!(bots, 3, "greeting + one reply per message");
    s.stop().await;
}

#[tokio::test]
async fn a_turn_streams_deltas_that_add_up_to_the_completed_message() {
    let s = TestServer::start().await;
    let t = s.create_thread("t").await;
    let evs = s.turn(&t, "hello world").await;
    assert_eq!(
        types(&evs),
        ["message.created", "run.started", "message.started"]
            .into_iter()
            .chain(std::iter::repeat_n("message.delta", 8))
            .chain(["message.completed", "run.completed"])
            .collect::<Vec<_>>()
    );
    let text: String = evs
        .iter()
        .filter(|e| e["type"] == "message.delta")
        .map(|e| e["delta"]["content"][0]["text"].as_str().unwrap())
        .collect();
    assert_eq!(text, "one two three four five six seven eight");
    assert_eq!(replies(&evs), vec![text.clone()]);
    let done = &evs[evs.len() - 2];
    let mid = evs.iter().find(|e| e["type"] == "message.started").unwrap()["messageId"].clone();
    assert_eq!(done["message"]["id"], mid);
    assert!(evs
        .iter()
        .filter(|e| e["type"] == "message.delta")
        .all(|e| e["messageId"] == mid && e["delta"]["role"] == "assistant"));
    // Seqs are consecutive.
    let seqs: Vec<u64> = evs.iter().map(|e| e["seq"].as_u64().unwrap()).collect();
    assert!(seqs.windows(2).all(|w| w[1] == w[0] + 1), "{seqs:?}");
    // History has the same completed message.
    let h = s.history(&t).await;
    assert_eq!(
        h["messages"].as_array().unwrap().last().unwrap(),
        &done["message"]
    );
    s.stop().await;
}

#[tokio::test]
async fn feedback_and_close() {
    let s = TestServer::start().await;
    let t = s.create_thread("t").await;
    let evs = s.turn(&t, "hello world").await;
    let msg = &evs
        .iter()
        .find(|e| e["type"] == "message.completed")
        .unwrap()["message"];
    assert_eq!(msg["message_options"]["feedback"]["enabled"], true);
    assert_eq!(
        msg["message_options"]["feedback"]["negative_categories"],
        json!(["Wrong", "Slow"])
    );
    let url = s.url(&format!("/v1/threads/{t}/feedback"));
    let ok = s.client.post(&url).json(&json!({"messageId": msg["id"], "isPositive": false, "interactionType": "details", "text": "meh", "categories": ["Slow"]})).send().await.unwrap();
    assert_eq!(ok.status(), 201);
    let bad_cat = s.client.post(&url).json(&json!({"messageId": msg["id"], "isPositive": true, "interactionType": "button", "categories": ["Slow"]})).send().await.unwrap();
    assert_eq!(error_code(bad_cat).await, (400, "invalid_request".into()));
    let bad_msg = s
        .client
        .post(&url)
        .json(&json!({"messageId": "msg_nope", "isPositive": true, "interactionType": "button"}))
        .send()
        .await
        .unwrap();
    assert_eq!(error_code(bad_msg).await, (404, "message_not_found".into()));
    let bad_kind = s
        .client
        .post(&url)
        .json(&json!({"messageId": msg["id"], "isPositive": true, "interactionType": "swipe"}))
        .send()
        .await
        .unwrap();
    assert_eq!(error_code(bad_kind).await, (400, "invalid_request".into()));

    let close = s.url(&format!("/v1/threads/{t}/close"));
    let r: Value = s
        .client
        .post(&close)
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(r, json!({"status": "closed", "changed": true}));
    let r: Value = s
        .client
        .post(&close)
        .json(&json!({"reason": "again"}))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(
        r,
        json!({"status": "closed", "changed": false}),
        "second close is a no-op"
    );
    let closed: Vec<_> = s
        .all_events(&t)
        .await
        .into_iter()
        .filter(|e| e.event == "thread.closed")
        .collect();
    assert_eq!(closed.len(), 1, "the transition is recorded once");
    assert!(closed[0].data.contains(r#""by":"visitor""#));
    let (st, body) = s.send(&t, "late", "hello").await;
    assert_eq!(
        (st, body["error"]["code"].as_str().unwrap()),
        (409, "thread_closed")
    );
    assert_eq!(s.history(&t).await["status"], "closed");
    s.stop().await;
}
