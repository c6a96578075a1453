//! Origins that look like the allowed one but are not: `null`, another port, another scheme,
//! upper case, a trailing dot, suffix and prefix tricks, userinfo, paths, lists. Each is sent
//! on a preflight, a thread creation, a message POST and the event stream: none is accepted
//! (403 `origin_not_allowed`, no `Access-Control-Allow-Origin`), and nothing is written.

use serde_json::json;

use crate::common::*;

/// The test bot allows exactly `https://shop.example`.
const LOOKALIKES: &[&str] = &[
    "null",
    "",
    "https://shop.example:8443",
    "https://shop.example:443",
    "http://shop.example",
    "wss://shop.example",
    "HTTPS://shop.example",
    "https://SHOP.EXAMPLE",
    "https://Shop.example",
    "https://shop.example.",
    "https://shop.example.evil.test",
    "https://shop.example.evil",
    "https://evilshop.example",
    "https://evil-shop.example",
    "https://www.shop.example",
    "https://shop.exampl",
    "https://shop.example/",
    "https://shop.example/path",
    "https://shop.example@evil.test",
    "https://evil.test#https://shop.example",
    "https://evil.test?https://shop.example",
    "https://shop.example%2eevil.test",
    "https://shop.example https://evil.test",
    "https://shop.example,https://evil.test",
    "https://evil.test, https://shop.example",
    "https://xn--shop-example.test",
    "file://",
    "chrome-extension://shop.example",
];

async fn refused(what: &str, r: reqwest::Response) {
    assert!(
        r.headers().get("access-control-allow-origin").is_none(),
        "{what}: {:?}",
        r.headers()
    );
    assert_eq!(
        error_code(r).await,
        (403, "origin_not_allowed".into()),
        "{what}"
    );
}

#[tokio::test]
async fn lookalike_origins_are_refused_on_preflight_post_and_the_event_stream() {
    let s = TestServer::start().await;
    let t = s.create_thread("t").await;
    let before = s.last_seq(&t).await;
    let mut checks = 0;
    for origin in LOOKALIKES {
        for path in [
            "/v1/bots/t/threads".to_string(),
            format!("/v1/threads/{t}/messages"),
            format!("/v1/threads/{t}/events"),
        ] {
            let r = s
                .client
                .request(reqwest::Method::OPTIONS, s.url(&path))
                .header("origin", *origin)
                .header("access-control-request-method", "POST")
                .header("access-control-request-headers", "content-type")
                .send()
                .await
                .unwrap();
            refused(&format!("preflight {path} from {origin:?}"), r).await;
            checks += 1;
        }
        let r = s
            .client
            .post(s.url("/v1/bots/t/threads"))
            .header("origin", *origin)
            .send()
            .await
            .unwrap();
        refused(&format!("create from {origin:?}"), r).await;
        let r = s
            .client
            .post(s.url(&format!("/v1/threads/{t}/messages")))
            .header("origin", *origin)
            .json(&json!({"clientMessageId": format!("o-{origin}"), "content": "hello world"}))
            .send()
            .await
            .unwrap();
        refused(&format!("send from {origin:?}"), r).await;
        let r = s
            .client
            .get(s.url(&format!("/v1/threads/{t}/events?after=0")))
            .header("origin", *origin)
            .send()
            .await
            .unwrap();
        refused(&format!("event stream from {origin:?}"), r).await;
        checks += 3;
    }
    assert_eq!(s.last_seq(&t).await, before, "nothing was written");
    // The exact origin still works on all three.
    let r = s
        .client
        .get(s.url(&format!("/v1/threads/{t}/events?after=0")))
        .header("origin", "https://shop.example")
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 200);
    assert_eq!(
        r.headers()["access-control-allow-origin"],
        "https://shop.example"
    );
    eprintln!(
        "origins: {} lookalikes x 6 requests = {checks} checks, 0 accepted",
        LOOKALIKES.len()
    );
    s.stop().await;
}

#[tokio::test]
async fn a_forged_host_does_not_make_a_foreign_origin_same_origin() {
    // Same-origin passes by `Origin` host = `Host`. A browser cannot forge `Host`; the
    // lookalikes of the server's own address must still not count as same-origin.
    let s = TestServer::start().await;
    let t = s.create_thread("t").await;
    let host = s.base.trim_start_matches("http://").to_string();
    let (ip, port) = host.rsplit_once(':').unwrap();
    for origin in [
        format!("http://{ip}.:{port}"),
        format!("http://{ip}:{port}.evil.test"),
        format!("http://{ip}:{}", port.parse::<u16>().unwrap() ^ 1),
        format!("http://{ip}:{port}@evil.test"),
        format!("http://evil.test/{ip}:{port}"),
        format!("http://evil.{ip}:{port}"),
    ] {
        let r = s
            .client
            .post(s.url(&format!("/v1/threads/{t}/messages")))
            .header("origin", &origin)
            .json(&json!({"clientMessageId": "x", "content": "hello world"}))
            .send()
            .await
            .unwrap();
        refused(&format!("send from {origin:?} to {host}"), r).await;
    }
    s.stop().await;
}
