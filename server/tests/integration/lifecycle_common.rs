//! Helpers of the lifecycle and CRM tests: bot folders with handler files, the admin API,
//! bounded polling (never a wall-clock assert: a wait only fails after PATIENCE).

#![allow(dead_code)]

use std::time::Duration;

use natter_server::actions::admin::AdminToken;
use natter_server::server::ServerConfig;
use serde_json::Value;

use crate::common::*;

pub const ADMIN: &str = "admin-secret-0123456789-abcdefghijklmnop";

/// Admin token on, fast CRM retries, quick outbox polling.
pub fn fast(c: &mut ServerConfig) {
    c.http.admin_token = Some(AdminToken(ADMIN.into()));
    c.lifecycle.crm_retry = natter_crm::RetryPolicy {
        base: Duration::from_millis(20),
        cap: Duration::from_millis(200),
        max_attempts: 8,
        max_retry_after: Duration::from_secs(1),
    };
    c.lifecycle.outbox.poll = Duration::from_millis(50);
}

pub async fn admin_get(client: &reqwest::Client, base: &str, path: &str) -> Value {
    let r = client
        .get(format!("{base}/admin/v1{path}"))
        .bearer_auth(ADMIN)
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 200, "{path}");
    r.json().await.unwrap()
}

pub use natter_testing::wait::until;

/// The bot's handler runs once there are at least `n`.
pub async fn handler_runs(client: &reqwest::Client, base: &str, bot: &str, n: usize) -> Vec<Value> {
    until(&format!("{n} handler runs"), || async {
        let v = admin_get(client, base, &format!("/handler-runs?bot={bot}&limit=100")).await;
        let runs = v["runs"].as_array().unwrap().clone();
        (runs.len() >= n).then_some(runs)
    })
    .await
}

pub async fn outbox(client: &reqwest::Client, base: &str, thread: &str) -> Vec<Value> {
    admin_get(client, base, &format!("/threads/{thread}/outbox")).await["jobs"]
        .as_array()
        .unwrap()
        .clone()
}

/// Reads events from `sse` until one of type `t` arrives; returns it.
pub async fn until_event(sse: &mut SseReader, t: &str) -> Value {
    loop {
        let ev = sse.next_json().await.expect("stream continues");
        if ev["type"] == t {
            return ev;
        }
    }
}
