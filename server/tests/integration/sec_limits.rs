//! Limits under attack: a body one byte over the limit is a 413, and so are bodies of several
//! MB, each with its JSON error body (the client is not reset mid-upload); rate limits (per
//! IP, per thread, admin API, console sign-in, CRM inbound including the agent's file upload)
//! let through exactly their burst plus what refilled while the requests were taken, ±1, and
//! refuse the rest with a 429 `rate_limited` JSON error and `Retry-After`; slow-header
//! connections held open do not stop other clients from chatting. The p99
//! under slow-header load is measured by bench/server (`slowloris`), not asserted here.

use std::time::{Duration, Instant};

use natter_server::actions::admin::AdminToken;
use natter_server::http::limits::Rate;
use serde_json::{json, Value};
use tokio::io::AsyncWriteExt;

use crate::common::*;
use crate::sec_json::client_from;

const ADMIN: &str = "sec-limits-admin-token-0123456789abcdef";
const CRM_KEY: &str = "sec-limits-crm-key";
const LIMIT: usize = 64 * 1024;

fn crm_bot() -> String {
    format!(
        r#"
name = "CRM bot"
[stream]
delay_ms = 0
[crm]
local = true
bot_id = "BOT_ID"
api_key = "{CRM_KEY}"
"#
    )
}

/// A `clientMessageId`/`content` body of exactly `len` bytes.
fn message_of(len: usize) -> Vec<u8> {
    let empty = json!({"clientMessageId": "big", "content": ""}).to_string();
    json!({"clientMessageId": "big", "content": "x".repeat(len - empty.len())})
        .to_string()
        .into_bytes()
}

async fn status_and_code(
    what: &str,
    r: Result<reqwest::Response, reqwest::Error>,
) -> (u16, String) {
    let r = r.unwrap_or_else(|e| panic!("{what}: no answer (reset?): {e:?}"));
    let status = r.status().as_u16();
    let v: Value = r
        .json()
        .await
        .unwrap_or_else(|e| panic!("{what}: {status} without a JSON body: {e}"));
    let code = v["error"]["code"].as_str().unwrap_or("<none>").to_string();
    assert!(
        status < 400 || v["error"]["message"].as_str().is_some(),
        "{what}: {v}"
    );
    (status, code)
}

#[tokio::test]
async fn limit_plus_one_and_multi_megabyte_bodies_get_a_413_with_its_body() {
    let s = TestServer::start_with(&[("t", TEST_BOT), ("c", &crm_bot())], |c| {
        c.http.admin_token = Some(AdminToken(ADMIN.into()));
    })
    .await;
    let t = s.create_thread("t").await;
    let send = format!("/v1/threads/{t}/messages");
    // Exactly the limit passes the size check (and is then refused for the message length).
    let at = s
        .client
        .post(s.url(&send))
        .header("content-type", "application/json")
        .body(message_of(LIMIT))
        .send()
        .await;
    let (st, code) = status_and_code("limit", at).await;
    assert_ne!(st, 413, "{code}");
    let over = s
        .client
        .post(s.url(&send))
        .header("content-type", "application/json")
        .body(message_of(LIMIT + 1))
        .send()
        .await;
    assert_eq!(
        status_and_code("limit+1", over).await,
        (413, "payload_too_large".into())
    );
    let routes = [
        (send.clone(), None),
        ("/v1/bots/t/threads".to_string(), None),
        ("/converse/chat".into(), Some(CRM_KEY)),
        (
            "/agent/converse/send-message-to-widget".into(),
            Some(CRM_KEY),
        ),
    ];
    let mut answered = 0;
    for mb in [1usize, 3, 8] {
        let body = message_of(mb * 1024 * 1024);
        for round in 0..3 {
            for (path, key) in &routes {
                let mut req = s
                    .client
                    .post(s.url(path))
                    .header("content-type", "application/json")
                    .body(body.clone());
                if let Some(k) = key {
                    req = req.header("authorization", *k);
                }
                let what = format!("{mb} MB to {path} (round {round})");
                assert_eq!(
                    status_and_code(&what, req.send().await).await,
                    (413, "payload_too_large".into()),
                    "{what}"
                );
                answered += 1;
            }
        }
    }
    // The console's sign-in has its own small limit: still an answer, not a reset.
    let r = s
        .client
        .post(s.url("/console/session"))
        .header("content-type", "application/json")
        .body(message_of(3 * 1024 * 1024))
        .send()
        .await;
    assert_eq!(status_and_code("3 MB sign-in", r).await.0, 400);
    // Nothing was written by any of them.
    assert_eq!(s.last_seq(&t).await, 1);
    eprintln!(
        "413: limit+1 and {answered} bodies of 1-8 MB, every one answered with its JSON body"
    );
    s.stop().await;
}

/// What a run of requests got: how many were accepted and refused, and the window in which
/// the server can have seen them.
struct Burst {
    ok: usize,
    refused: usize,
    /// From the first answer to the last request sent: the server saw at least this much time
    /// pass between taking the first and the last token.
    t_first: Duration,
    /// From the first request sent to the last answer: at most this much.
    t_last: Duration,
}

/// Sends `n` requests one after another; a 429 must carry `Retry-After` and the JSON error.
async fn burst(n: usize, mut request: impl FnMut(usize) -> reqwest::RequestBuilder) -> Burst {
    let started = Instant::now();
    let (mut ok, mut refused) = (0, 0);
    let (mut first_answer, mut last_sent) = (None, started);
    for i in 0..n {
        let req = request(i);
        last_sent = Instant::now();
        let r = req.send().await.unwrap();
        first_answer.get_or_insert_with(Instant::now);
        if r.status() == 429 {
            let ra: u64 = r.headers()["retry-after"]
                .to_str()
                .unwrap()
                .parse()
                .unwrap();
            assert!(ra >= 1);
            let v: Value = r.json().await.unwrap();
            assert_eq!(v["error"]["code"], "rate_limited", "{v}");
            assert!(
                v["error"]["message"]
                    .as_str()
                    .is_some_and(|m| !m.is_empty()),
                "{v}"
            );
            refused += 1;
        } else {
            ok += 1;
        }
    }
    let first_answer = first_answer.unwrap_or(started);
    Burst {
        ok,
        refused,
        t_first: last_sent.saturating_duration_since(first_answer),
        t_last: started.elapsed(),
    }
}

/// What a token bucket lets through: its burst plus what refilled while the requests were
/// taken, ±1 — `burst + ⌊rate·t_first⌋ − 1 ≤ ok ≤ burst + ⌈rate·t_last⌉ + 1`.
fn assert_exact(what: &str, b: &Burst, rate: Rate) {
    let low = rate.burst + (rate.per_sec * b.t_first.as_secs_f64()).floor() - 1.0;
    let high = rate.burst + (rate.per_sec * b.t_last.as_secs_f64()).ceil() + 1.0;
    let ok = b.ok as f64;
    assert!(
        low <= ok && ok <= high,
        "{what}: {} accepted, expected {low}..={high} (requests taken over {:?}..{:?})",
        b.ok,
        b.t_first,
        b.t_last
    );
    assert!(b.refused > 0, "{what}: the limit was reached");
    eprintln!(
        "rate limit {what}: {} accepted, {} refused; bounds {low}..={high} ({:.0} ms)",
        b.ok,
        b.refused,
        b.t_last.as_secs_f64() * 1000.0
    );
}

#[tokio::test]
async fn rate_limits_let_through_exactly_the_burst_plus_the_refill() {
    let per_ip = Rate {
        per_sec: 0.5,
        burst: 30.0,
    };
    let per_thread = Rate {
        per_sec: 0.5,
        burst: 10.0,
    };
    let crm = Rate {
        per_sec: 0.5,
        burst: 25.0,
    };
    let s = TestServer::start_with(&[("t", TEST_BOT), ("c", &crm_bot())], |c| {
        c.http.admin_token = Some(AdminToken(ADMIN.into()));
        c.http.limits.per_thread = per_thread;
        c.http.limits.crm_per_ip = crm;
    })
    .await;
    let t = s.create_thread("t").await;
    let ct = s.create_thread("c").await;

    // Per thread (sends), from different IPs so the per-IP limit does not interfere.
    let b = burst(30, |i| {
        client_from(1000 + i)
            .post(s.url(&format!("/v1/threads/{t}/messages")))
            .json(&json!({"clientMessageId": format!("r{i}"), "content": "hi"}))
    })
    .await;
    assert_exact("per thread", &b, per_thread);
    assert_eq!(b.ok + b.refused, 30);

    // CRM inbound, wrong key and right key alike.
    let c = client_from(2000);
    let b = burst(60, |i| {
        c.post(s.url("/converse/chat"))
            .header("authorization", if i % 2 == 0 { "guess" } else { CRM_KEY })
            .json(&json!({}))
    })
    .await;
    assert_exact("CRM inbound", &b, crm);
    // The agent's file upload is a CRM route too: the same bucket, already empty for this IP.
    let agent_upload = |c: &reqwest::Client, key: &str| {
        c.post(s.url(&format!(
            "/agent/converse/attachments?platformConversationId={ct}&name=a.txt&clientId=u1"
        )))
        .header("authorization", key)
        .body("hello")
    };
    let r = agent_upload(&c, CRM_KEY).send().await.unwrap();
    assert_eq!(
        r.status(),
        429,
        "the upload shares the CRM routes' per-IP limit"
    );
    // ... and on its own, from a fresh IP, it gets exactly the CRM routes' rate.
    let c = client_from(2500);
    let b = burst(60, |i| {
        agent_upload(&c, if i % 2 == 0 { "guess" } else { CRM_KEY })
    })
    .await;
    assert_exact("agent upload", &b, crm);

    // Admin API (its rate is fixed: 50/s after a burst of 200). 400 requests: even on a loaded
    // machine they outrun the refill, so some are refused.
    let admin = natter_server::console::ADMIN_RATE;
    let c = client_from(3000);
    let b = burst(400, |i| {
        c.get(s.url("/admin/v1/bots"))
            .bearer_auth(if i % 2 == 0 { "wrong" } else { ADMIN })
    })
    .await;
    assert_exact("admin", &b, admin);

    // Console sign-in (fixed: one per 3 s after a burst of 10), wrong tokens and right.
    let sign_in = natter_server::console::SIGN_IN_RATE;
    let c = client_from(4000);
    let b = burst(20, |i| {
        c.post(s.url("/console/session"))
            .json(&json!({"token": if i % 2 == 0 { "a wrong guess" } else { ADMIN }}))
    })
    .await;
    assert_exact("console sign-in", &b, sign_in);
    s.stop().await;

    // Per IP on /v1.
    let s = TestServer::start_with(&[("t", TEST_BOT)], |c| c.http.limits.per_ip = per_ip).await;
    let b = burst(50, |_| s.client.post(s.url("/v1/bots/t/threads"))).await;
    assert_exact("per IP", &b, per_ip);
    s.stop().await;
}

#[tokio::test]
async fn clients_are_served_while_200_slow_header_connections_are_held_open() {
    let s = TestServer::start_with(&[("t", TEST_BOT)], |c| {
        c.header_read_timeout = Duration::from_secs(30);
    })
    .await;
    let addr = s.base.trim_start_matches("http://").to_string();
    // 200 connections that send a request head one byte at a time and never finish it.
    let stop = tokio_util::sync::CancellationToken::new();
    let mut slow = Vec::new();
    for _ in 0..200 {
        let mut conn = tokio::net::TcpStream::connect(&addr).await.unwrap();
        let stop = stop.clone();
        slow.push(tokio::spawn(async move {
            let head = b"POST /v1/bots/t/threads HTTP/1.1\r\nHost: x\r\nX-Slow: ";
            for b in head.iter().chain(std::iter::repeat(&b'a')) {
                if conn.write_all(&[*b]).await.is_err() {
                    return;
                }
                tokio::select! {
                    _ = stop.cancelled() => return,
                    _ = tokio::time::sleep(Duration::from_millis(200)) => {}
                }
            }
        }));
    }
    // 100 clients each open a thread and have a full turn with the bot.
    let clients = (0..100).map(|i| {
        let s = &s;
        async move {
            let t = s.create_thread("t").await;
            let evs = s.turn(&t, &format!("hello world {i}")).await;
            assert_eq!(types(&evs).last().unwrap(), "run.completed");
        }
    });
    futures_util::future::join_all(clients).await;
    stop.cancel();
    for h in slow {
        h.await.unwrap();
    }
    s.stop().await;
}
