//! Console sessions live in the store: one survives a restart of the server, and on PostgreSQL
//! a session made on one instance is known to every other, and signing out on one ends it on
//! all.

use natter_server::actions::admin::AdminToken;
use serde_json::{json, Value};

use crate::common::*;

const TOKEN: &str = "console-test-token-0123456789abcdefghij";

/// Signs in on `base`: `(cookie pair, csrf token)`.
async fn sign_in(client: &reqwest::Client, base: &str) -> (String, String) {
    let r = client
        .post(format!("{base}/console/session"))
        .json(&json!({ "token": TOKEN }))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 200);
    let cookie = r.headers()["set-cookie"].to_str().unwrap();
    let pair = cookie.split(';').next().unwrap().to_string();
    let csrf = r.json::<Value>().await.unwrap()["csrfToken"]
        .as_str()
        .unwrap()
        .to_string();
    (pair, csrf)
}

/// The status of an admin request made with the session cookie only.
async fn with_session(client: &reqwest::Client, base: &str, cookie: &str) -> u16 {
    client
        .get(format!("{base}/admin/v1/bots"))
        .header("cookie", cookie)
        .send()
        .await
        .unwrap()
        .status()
        .as_u16()
}

/// Signs out on `base`; the status.
async fn sign_out(client: &reqwest::Client, base: &str, cookie: &str, csrf: &str) -> u16 {
    client
        .post(format!("{base}/console/sign-out"))
        .header("cookie", cookie)
        .header("x-csrf-token", csrf)
        .send()
        .await
        .unwrap()
        .status()
        .as_u16()
}

fn config(data: &std::path::Path, bots: &std::path::Path) -> natter_server::server::ServerConfig {
    let mut c = test_config(data, bots);
    c.http.admin_token = Some(AdminToken(TOKEN.into()));
    c
}

#[tokio::test]
async fn a_session_outlives_a_restart_and_sign_out_ends_it() {
    let tmp = tempfile::tempdir().unwrap();
    let bots = tmp.path().join("bots");
    let data = tmp.path().join("data");
    write_bot(&bots, "t", TEST_BOT);
    let s = TestServer::launch(config(&data, &bots)).await;
    let (cookie, csrf) = sign_in(&s.client, &s.base).await;
    assert_eq!(with_session(&s.client, &s.base, &cookie).await, 200);
    s.stop().await;

    let s = TestServer::launch(config(&data, &bots)).await;
    assert_eq!(
        with_session(&s.client, &s.base, &cookie).await,
        200,
        "after a restart"
    );
    let info: Value = s
        .client
        .get(s.url("/console/session"))
        .header("cookie", &cookie)
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(info["csrfToken"], csrf.as_str());
    let forged = format!("{}x", cookie);
    assert_eq!(with_session(&s.client, &s.base, &forged).await, 401);
    assert_eq!(sign_out(&s.client, &s.base, &cookie, &csrf).await, 200);
    assert_eq!(with_session(&s.client, &s.base, &cookie).await, 401);
    s.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn on_postgres_every_instance_knows_a_session_and_sign_out_on_one_ends_it_on_all() {
    if !on_postgres() {
        return;
    }
    let tmp = tempfile::tempdir().unwrap();
    let bots = tmp.path().join("bots");
    write_bot(&bots, "t", TEST_BOT);
    let url = database_url(&tmp.path().join("shared")).unwrap();
    let mut servers = Vec::new();
    for i in 0..2 {
        let mut c = config(&tmp.path().join(format!("data{i}")), &bots);
        c.database_url = Some(url.clone());
        servers.push(TestServer::launch(c).await);
    }
    let (a, b) = (&servers[0], &servers[1]);
    let (cookie, csrf) = sign_in(&a.client, &a.base).await;
    assert_eq!(
        with_session(&b.client, &b.base, &cookie).await,
        200,
        "known to B"
    );
    assert_eq!(sign_out(&b.client, &b.base, &cookie, &csrf).await, 200);
    assert_eq!(
        with_session(&a.client, &a.base, &cookie).await,
        401,
        "ended on A"
    );
    for s in servers {
        s.stop().await;
    }
}
