//! The console's admin endpoints and sign-in against a real server: conversation list
//! (order, filters, search, paging, counts), detail, overview, sessions (cookie flags, CSRF),
//! the OpenAPI document, the console off without a token, short tokens refused at start.

use serde_json::Value;

use super::common::*;
use natter_server::actions::admin::AdminToken;

const TOKEN: &str = "console-test-token-0123456789abcdefghij";

async fn server() -> TestServer {
    TestServer::start_with(&[("t", TEST_BOT)], |c| {
        c.http.admin_token = Some(AdminToken(TOKEN.into()))
    })
    .await
}

async fn get(s: &TestServer, path: &str) -> (u16, Value) {
    let r = s
        .client
        .get(s.url(&format!("/admin/v1{path}")))
        .bearer_auth(TOKEN)
        .send()
        .await
        .unwrap();
    (r.status().as_u16(), r.json().await.unwrap_or(Value::Null))
}

fn ids(page: &Value) -> Vec<String> {
    page["conversations"]
        .as_array()
        .unwrap()
        .iter()
        .map(|c| c["id"].as_str().unwrap().to_string())
        .collect()
}

#[tokio::test]
async fn list_filters_search_paging_and_counts() {
    let s = server().await;
    let a = s.create_thread("t").await;
    s.turn(&a, "hello world").await;
    let b = s.create_thread("t").await;
    s.turn(&b, "human").await;
    let c = s.create_thread("t").await;

    let (st, page) = get(&s, "/conversations").await;
    assert_eq!(st, 200, "{page}");
    assert_eq!(
        ids(&page),
        vec![c.clone(), b.clone(), a.clone()],
        "newest first"
    );
    assert_eq!(page["counts"]["open"], 2);
    assert_eq!(page["counts"]["handed_off"], 1);
    assert_eq!(page["countsCapped"], false);
    assert_eq!(page["nextCursor"], Value::Null);
    assert_eq!(page["conversations"][2]["messageCount"], 3);

    let (_, p) = get(&s, "/conversations?status=handed_off&bot=t").await;
    assert_eq!(ids(&p), vec![b.clone()]);
    assert_eq!(p["counts"]["open"], 2, "counts ignore the status filter");

    // Full-text search: accents and case folded, the last word as a prefix.
    let (_, p) = get(&s, "/conversations?q=HELLO%20wor").await;
    assert_eq!(ids(&p), vec![a.clone()]);
    let public = page["conversations"][1]["publicId"]
        .as_str()
        .unwrap()
        .to_string();
    let (_, p) = get(&s, &format!("/conversations?q={public}")).await;
    assert_eq!(ids(&p), vec![b.clone()]);
    let (_, p) = get(&s, "/conversations?q=%22%20OR%20*").await;
    assert_eq!(
        ids(&p),
        Vec::<String>::new(),
        "FTS syntax is not interpreted"
    );

    // Keyset paging: every conversation once.
    let mut seen = Vec::new();
    let mut cursor = String::new();
    loop {
        let (st, p) = get(&s, &format!("/conversations?limit=1&cursor={cursor}")).await;
        assert_eq!(st, 200);
        seen.extend(ids(&p));
        match p["nextCursor"].as_str() {
            Some(n) => cursor = n.to_string(),
            None => break,
        }
    }
    assert_eq!(seen, vec![c.clone(), b.clone(), a.clone()]);

    // Date range: today inclusive; tomorrow on is empty.
    let today = &page["conversations"][0]["createdAt"].as_str().unwrap()[..10];
    let (_, p) = get(&s, &format!("/conversations?from={today}&to={today}")).await;
    assert_eq!(ids(&p).len(), 3);
    let (_, p) = get(&s, "/conversations?from=2999-01-01").await;
    assert_eq!(ids(&p).len(), 0);

    // Bad input: 400 naming the parameter, 404 for an unknown bot.
    for (q, needle) in [
        ("status=gone", "status `gone`"),
        ("cursor=zz", "cursor"),
        ("from=yesterday", "from `yesterday`"),
        ("limit=0", "limit 0"),
        ("colour=red", "unknown field"),
    ] {
        let (st, body) = get(&s, &format!("/conversations?{q}")).await;
        assert_eq!(st, 400, "{q}: {body}");
        assert!(
            body["error"]["message"].as_str().unwrap().contains(needle),
            "{q}: {body}"
        );
    }
    let (st, _) = get(&s, "/conversations?bot=nobot").await;
    assert_eq!(st, 404);
}

#[tokio::test]
async fn detail_stats_bots_and_openapi() {
    let s = server().await;
    let a = s.create_thread("t").await;
    s.turn(&a, "colors").await;
    let (st, d) = get(&s, &format!("/conversations/{a}")).await;
    assert_eq!(st, 200, "{d}");
    assert_eq!(d["conversation"]["id"], a.as_str());
    assert!(d["messages"].as_array().unwrap().len() >= 2);
    let types: Vec<&str> = d["timeline"]
        .as_array()
        .unwrap()
        .iter()
        .map(|e| e["type"].as_str().unwrap())
        .collect();
    assert!(types.contains(&"message.created") && types.contains(&"run.completed"));
    assert!(
        !types.contains(&"message.delta"),
        "no deltas in the timeline"
    );
    let public = d["conversation"]["publicId"].as_str().unwrap();
    let (st, by_public) = get(&s, &format!("/conversations/{public}")).await;
    assert_eq!(
        (st, &by_public["conversation"]["id"]),
        (200, &d["conversation"]["id"])
    );
    let (st, body) = get(&s, "/conversations/nope").await;
    assert_eq!(st, 404);
    assert!(body["error"]["message"].as_str().unwrap().contains("nope"));

    let (st, stats) = get(&s, "/bots/t/stats").await;
    assert_eq!(st, 200, "{stats}");
    assert_eq!(stats["today"]["open"], 1);
    assert_eq!(stats["daily"].as_array().unwrap().len(), 14);
    assert_eq!(stats["daily"][13]["open"], 1);
    let (_, bots) = get(&s, "/bots").await;
    assert_eq!(bots["bots"][0]["slug"], "t");

    let (st, doc) = get(&s, "/openapi.json").await;
    assert_eq!(st, 200);
    assert!(doc["paths"]["/admin/v1/conversations"]["get"].is_object());
    assert!(doc["paths"]["/admin/v1/bots/{bot}/actions/{action}/test"]["post"].is_object());
    assert!(doc["components"]["schemas"]["ConversationPage"].is_object());
}

#[tokio::test]
async fn sessions_cookie_flags_csrf_and_sign_out() {
    let s = server().await;
    let sign_in = |token: &str, https: bool| {
        let mut r = s
            .client
            .post(s.url("/console/session"))
            .json(&serde_json::json!({ "token": token }));
        if https {
            r = r.header("x-forwarded-proto", "https");
        }
        r.send()
    };
    let r = sign_in("wrong-wrong-wrong-wrong-wrong-wrong", false)
        .await
        .unwrap();
    assert_eq!(r.status(), 401);
    assert!(r.headers().get("set-cookie").is_none());

    let r = sign_in(TOKEN, false).await.unwrap();
    assert_eq!(r.status(), 200);
    let cookie = r.headers()["set-cookie"].to_str().unwrap().to_string();
    assert!(cookie.contains("HttpOnly") && cookie.contains("SameSite=Strict"));
    assert!(!cookie.contains("Secure") && !cookie.contains(TOKEN));
    let csrf = r.json::<Value>().await.unwrap()["csrfToken"]
        .as_str()
        .unwrap()
        .to_string();
    let session = cookie.split(';').next().unwrap().to_string();
    let https = sign_in(TOKEN, true).await.unwrap();
    assert!(https.headers()["set-cookie"]
        .to_str()
        .unwrap()
        .contains("; Secure"));

    let with_cookie = |m: reqwest::Method, path: &str| {
        s.client
            .request(m, s.url(path))
            .header("cookie", session.clone())
    };
    let r = with_cookie(reqwest::Method::GET, "/admin/v1/bots")
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 200);
    let test = "/admin/v1/bots/t/handlers/x/test";
    let body = serde_json::json!({"conversationId": "x"});
    let r = with_cookie(reqwest::Method::POST, test)
        .json(&body)
        .send()
        .await
        .unwrap();
    assert_eq!(error_code(r).await, (403, "csrf_failed".to_string()));
    let r = with_cookie(reqwest::Method::POST, test)
        .header("x-csrf-token", &csrf)
        .header("origin", "https://evil.example")
        .json(&body)
        .send()
        .await
        .unwrap();
    assert_eq!(
        error_code(r).await,
        (403, "csrf_failed".to_string()),
        "cross-site"
    );
    let r = with_cookie(reqwest::Method::POST, test)
        .header("x-csrf-token", &csrf)
        .json(&body)
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 404, "past the CSRF check: no such handler");

    // Pages: CSP on every one; the app page needs a session.
    let r = s
        .client
        .get(s.url("/console/sign-in"))
        .send()
        .await
        .unwrap();
    let csp = r.headers()["content-security-policy"].to_str().unwrap();
    assert!(csp.contains("frame-ancestors 'none'") && csp.contains("script-src 'self'"));
    assert!(!csp.contains("unsafe-inline"));
    let r = with_cookie(reqwest::Method::GET, "/console/")
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 200);

    let r = with_cookie(reqwest::Method::POST, "/console/sign-out")
        .header("x-csrf-token", &csrf)
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 200);
    let r = with_cookie(reqwest::Method::GET, "/admin/v1/bots")
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 401, "signed out");
}

#[tokio::test]
async fn console_off_without_token_and_short_tokens_refused() {
    let s = TestServer::start().await;
    let r = s.client.get(s.url("/console/")).send().await.unwrap();
    assert_eq!(r.status(), 404);
    assert!(r.text().await.unwrap().contains("NATTER_ADMIN_TOKEN"));

    let tmp = tempfile::tempdir().unwrap();
    let bots = tmp.path().join("bots");
    write_bot(&bots, "t", TEST_BOT);
    let mut config = test_config(&tmp.path().join("data"), &bots);
    config.http.admin_token = Some(AdminToken("short-token".into()));
    let err = natter_server::server::Server::start(config, Default::default())
        .await
        .err()
        .expect("a short token is refused");
    assert!(err.to_string().contains("at least 32"), "{err}");
}

/// The minimum is 32 bytes, counted in bytes (not characters): 31 is refused at start, 32
/// starts, and then the admin API and the sign-in take exactly that token, not a prefix of it.
#[tokio::test]
async fn admin_token_of_31_bytes_is_refused_and_of_32_accepted() {
    let cases = [
        ("a".repeat(31), false),
        ("a".repeat(32), true),
        // 15 two-byte characters and one byte: 31 bytes in 16 characters.
        ("é".repeat(15) + "a", false),
        ("é".repeat(16), true),
    ];
    for (token, starts) in cases {
        let tmp = tempfile::tempdir().unwrap();
        let bots = tmp.path().join("bots");
        write_bot(&bots, "t", TEST_BOT);
        let mut config = test_config(&tmp.path().join("data"), &bots);
        config.http.admin_token = Some(AdminToken(token.clone()));
        let what = format!(
            "{} bytes in {} characters",
            token.len(),
            token.chars().count()
        );
        if !starts {
            let err = natter_server::server::Server::start(config, Default::default())
                .await
                .err()
                .unwrap_or_else(|| panic!("{what}: started"));
            let msg = err.to_string();
            assert!(
                msg.contains("is 31 bytes") && msg.contains("at least 32"),
                "{what}: {msg}"
            );
            continue;
        }
        let mut s = TestServer::launch(config).await;
        s._tmp = Some(tmp);
        let shorter: String = {
            let mut t = token.clone();
            t.pop();
            t
        };
        let sign_in = |t: &str| {
            s.client
                .post(s.url("/console/session"))
                .json(&serde_json::json!({ "token": t }))
                .send()
        };
        assert_eq!(sign_in(&token).await.unwrap().status(), 200, "{what}");
        assert_eq!(sign_in(&shorter).await.unwrap().status(), 401, "{what}");
        if token.is_ascii() {
            for (t, status) in [(&token, 200), (&shorter, 401)] {
                let r = s
                    .client
                    .get(s.url("/admin/v1/bots"))
                    .bearer_auth(t)
                    .send()
                    .await
                    .unwrap();
                assert_eq!(r.status(), status, "{what}: bearer of {} bytes", t.len());
            }
        }
        s.stop().await;
    }
}
