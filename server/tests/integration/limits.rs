//! Limits and bad input: each gets its status and error code, and changes nothing.

use std::time::Duration;

use natter_server::http::limits::Rate;
use serde_json::json;
use tokio::io::{AsyncReadExt, AsyncWriteExt};

use crate::common::*;

#[tokio::test]
async fn bad_input_is_refused_and_nothing_is_written() {
    let s = TestServer::start_with(&[("t", TEST_BOT)], |c| {
        c.http.limits.max_body_bytes = 2048;
        c.http.limits.max_message_chars = 100;
    })
    .await;
    let t = s.create_thread("t").await;
    let before = s.all_events(&t).await;
    let url = s.url(&format!("/v1/threads/{t}/messages"));
    let post = |body: String, ct: &'static str| {
        s.client
            .post(&url)
            .header("content-type", ct)
            .body(body)
            .send()
    };
    let cases: Vec<(String, &str, (u16, &str))> = vec![
        (
            "{\"clientMessageId\":\"a\",".into(),
            "application/json",
            (400, "invalid_json"),
        ),
        ("not json".into(), "application/json", (400, "invalid_json")),
        (
            json!({"clientMessageId": "a", "content": "hi", "extra": true}).to_string(),
            "application/json",
            (400, "invalid_request"),
        ),
        (
            json!({"content": "hi"}).to_string(),
            "application/json",
            (400, "invalid_request"),
        ),
        (
            json!({"clientMessageId": 5, "content": "hi"}).to_string(),
            "application/json",
            (400, "invalid_request"),
        ),
        (
            json!({"clientMessageId": "", "content": "hi"}).to_string(),
            "application/json",
            (400, "invalid_request"),
        ),
        (
            json!({"clientMessageId": "a", "content": "   "}).to_string(),
            "application/json",
            (400, "invalid_request"),
        ),
        (
            json!({"clientMessageId": "a", "content": "hi", "context": [1]}).to_string(),
            "application/json",
            (400, "invalid_request"),
        ),
        (
            json!({"clientMessageId": "a", "content": "é".repeat(101)}).to_string(),
            "application/json",
            (400, "message_too_long"),
        ),
        (
            json!({"clientMessageId": "a", "content": "x".repeat(3000)}).to_string(),
            "application/json",
            (413, "payload_too_large"),
        ),
        (
            json!({"clientMessageId": "a", "content": "hi"}).to_string(),
            "text/plain",
            (415, "unsupported_media_type"),
        ),
        (String::new(), "application/json", (400, "invalid_json")),
    ];
    for (body, ct, want) in cases {
        let got = error_code(post(body.clone(), ct).await.unwrap()).await;
        assert_eq!((got.0, got.1.as_str()), want, "body {body:.80}");
    }
    // A message of exactly the limit is fine (characters, not bytes).
    assert_eq!(s.send(&t, "ok", &"é".repeat(100)).await.0, 202);
    let after = s.all_events(&t).await;
    assert_eq!(after[..before.len()], before[..]);
    assert_eq!(
        after[before.len()].event,
        "message.created",
        "only the valid send was written"
    );

    // Unknown things are 404 with their code.
    let r = s
        .client
        .get(s.url("/v1/threads/thr_nope/messages"))
        .send()
        .await
        .unwrap();
    assert_eq!(error_code(r).await, (404, "thread_not_found".into()));
    let r = s
        .client
        .get(s.url("/v1/threads/thr_nope/events"))
        .send()
        .await
        .unwrap();
    assert_eq!(error_code(r).await, (404, "thread_not_found".into()));
    let r = s
        .client
        .post(s.url("/v1/bots/nope/threads"))
        .send()
        .await
        .unwrap();
    assert_eq!(error_code(r).await, (404, "bot_not_found".into()));
    let r = s.client.get(s.url("/v1/nothing")).send().await.unwrap();
    assert_eq!(error_code(r).await, (404, "not_found".into()));
    let r = s
        .client
        .delete(s.url(&format!("/v1/threads/{t}/messages")))
        .send()
        .await
        .unwrap();
    assert_eq!(error_code(r).await, (405, "method_not_allowed".into()));
    let r = s
        .client
        .post(s.url("/v1/bots/t/threads"))
        .header("content-type", "application/json")
        .body(r#"{"subject":"x","nope":1}"#)
        .send()
        .await
        .unwrap();
    assert_eq!(error_code(r).await, (400, "invalid_request".into()));
    s.stop().await;
}

#[tokio::test]
async fn per_thread_rate_limit_answers_429_with_retry_after() {
    let s = TestServer::start_with(&[("t", TEST_BOT)], |c| {
        c.http.limits.per_thread = Rate {
            per_sec: 0.2,
            burst: 3.0,
        }
    })
    .await;
    let t = s.create_thread("t").await;
    for i in 0..3 {
        assert_eq!(s.send(&t, &format!("m{i}"), "zzz").await.0, 202);
    }
    let r = s
        .client
        .post(s.url(&format!("/v1/threads/{t}/messages")))
        .json(&json!({"clientMessageId": "m9", "content": "zzz"}))
        .send()
        .await
        .unwrap();
    let retry: u64 = r.headers()["retry-after"]
        .to_str()
        .unwrap()
        .parse()
        .unwrap();
    assert!((1..=5).contains(&retry), "{retry}");
    assert_eq!(error_code(r).await, (429, "rate_limited".into()));
    // A retry of a stored message is answered with its first result, limit or not.
    assert_eq!(s.send(&t, "m1", "zzz").await.0, 202);
    // Another thread is not affected.
    let t2 = s.create_thread("t").await;
    assert_eq!(s.send(&t2, "m0", "zzz").await.0, 202);
    let users = s.history(&t).await["messages"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|m| m["role"] == "user")
        .count();
    assert_eq!(users, 3, "the refused send wrote nothing");
    s.stop().await;
}

#[tokio::test]
async fn per_ip_rate_limit() {
    let s = TestServer::start_with(&[("t", TEST_BOT)], |c| {
        c.http.limits.per_ip = Rate {
            per_sec: 0.5,
            burst: 4.0,
        }
    })
    .await;
    let mut statuses = Vec::new();
    for _ in 0..6 {
        let r = s
            .client
            .post(s.url("/v1/bots/t/threads"))
            .send()
            .await
            .unwrap();
        statuses.push(r.status().as_u16());
        if r.status() == 429 {
            assert!(r.headers().contains_key("retry-after"));
        }
    }
    assert_eq!(statuses, [201, 201, 201, 201, 429, 429]);
    // Health and metrics are not API calls: not limited.
    assert_eq!(
        s.client
            .get(s.url("/healthz"))
            .send()
            .await
            .unwrap()
            .status(),
        200
    );
    s.stop().await;
}

#[tokio::test]
async fn slow_request_heads_are_cut_off() {
    let s = TestServer::start_with(&[("t", TEST_BOT)], |c| {
        c.header_read_timeout = Duration::from_millis(300)
    })
    .await;
    let addr = s.base.trim_start_matches("http://").to_string();
    let mut conn = tokio::net::TcpStream::connect(&addr).await.unwrap();
    conn.write_all(b"GET /healthz HTTP/1.1\r\nHost: x\r\n")
        .await
        .unwrap();
    // Never finish the head: the server must close the connection on its own.
    let mut buf = Vec::new();
    let read = tokio::time::timeout(PATIENCE, conn.read_to_end(&mut buf))
        .await
        .expect("server closed the connection");
    assert!(
        read.is_err() || !String::from_utf8_lossy(&buf).contains("200 OK"),
        "{:?}",
        String::from_utf8_lossy(&buf)
    );
    // A normal client is still served.
    assert_eq!(
        s.client
            .get(s.url("/healthz"))
            .send()
            .await
            .unwrap()
            .status(),
        200
    );
    s.stop().await;
}
