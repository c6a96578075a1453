//! API actions against real HTTP servers on 127.0.0.1: templating in every position with
//! hostile values, methods, headers, query, JSON body, timeout, non-2xx, the seed's example.

mod common;

use std::time::Duration;

use common::{api, args, start_api, Api};
use natter_actions::request::PrepareError;
use natter_actions::template::RenderError;
use natter_actions::{bot_value, ActionClient, ActionSet, CallError, ClientConfig, NetPolicy};
use serde_json::{json, Value};

fn loopback_client() -> ActionClient {
    // These tests are about templating and HTTP, so the bot allows loopback; the policy has
    // its own tests.
    ActionClient::new(ClientConfig::with_policy(NetPolicy {
        allow_private_network: true,
        allow_cidrs: vec![],
    }))
    .unwrap()
}

thread_local! {
    static HOST: std::cell::RefCell<String> = const { std::cell::RefCell::new(String::new()) };
}

fn naughty_strings() -> Vec<String> {
    include_str!("fixtures/naughty-strings.txt")
        .split('\n')
        .filter(|l| !l.is_empty() && !l.starts_with('#'))
        .map(str::to_string)
        .collect()
}

fn percent_decode(s: &str) -> String {
    percent_encoding::percent_decode_str(s)
        .decode_utf8()
        .expect("utf-8")
        .into_owned()
}

/// One action that puts `$v` in the path, a query value, a header value and the body.
fn everywhere(server: &Api) -> natter_actions::ApiAction {
    api(
        &server.base(),
        r#"method = "POST"
path = "/echo/items/$v/tail"
query = { q = "$v", fixed = "1 & 2" }
headers = { "x-v" = "$v", "x-fixed" = "static" }
body = { v = "$v", w = "pre-$v-post", fixed = "$$v", n = 1 }"#,
    )
}

/// Checks that the echo saw `v` exactly in every position and nothing else changed.
fn assert_echo(echo: &Value, v: &str) {
    assert_eq!(echo["method"], "POST", "{v:?}");
    let path = echo["path"].as_str().unwrap();
    let segments: Vec<&str> = path.split('/').collect();
    assert_eq!(segments.len(), 5, "{v:?} changed the path's shape: {path}");
    assert_eq!(&segments[..3], ["", "echo", "items"], "{v:?}: {path}");
    assert_eq!(segments[4], "tail", "{v:?}: {path}");
    assert_eq!(percent_decode(segments[3]), v, "path segment of {v:?}");
    let query = echo["query"].as_str().unwrap();
    let pairs: Vec<(String, String)> = url::form_urlencoded::parse(query.as_bytes())
        .into_owned()
        .collect();
    assert_eq!(
        pairs,
        vec![("q".into(), v.into()), ("fixed".into(), "1 & 2".into())],
        "query of {v:?}: {query}"
    );
    // HTTP strips spaces and tabs around a field value; the bytes in between arrive as sent.
    assert_eq!(
        echo["headers"]["x-v"].as_str().unwrap(),
        v.trim_matches([' ', '\t']),
        "header of {v:?}"
    );
    assert_eq!(echo["headers"]["x-fixed"], "static");
    assert_eq!(
        echo["headers"]["host"],
        HOST.with(|h| h.borrow().clone()),
        "{v:?} changed the Host"
    );
    assert_eq!(echo["headers"]["content-type"], "application/json");
    assert_eq!(
        echo["body"],
        json!({"v": v, "w": format!("pre-{v}-post"), "fixed": "$v", "n": 1}),
        "body of {v:?}"
    );
}

#[tokio::test]
async fn naughty_strings_land_exactly_where_they_belong() {
    let server = start_api("127.0.0.1:0").await;
    let client = loopback_client();
    let action = everywhere(&server);
    HOST.with(|h| *h.borrow_mut() = server.addr.to_string());
    let values = naughty_strings();
    assert!(values.len() > 60, "fixture not read");
    let mut checked = 0;
    for v in &values {
        // `other` must never be expanded from inside a value.
        let a = args(json!({ "v": v, "other": "EXPANDED" }));
        let result = client.call(&action, &a).await;
        let echo = match result {
            Ok(ok) => ok.body,
            Err(e) => panic!("{v:?}: {e}"),
        };
        assert!(
            !echo.to_string().contains("EXPANDED"),
            "{v:?} was re-expanded: {echo}"
        );
        assert_echo(&echo, v);
        checked += 1;
    }
    assert_eq!(checked, values.len());
}

#[tokio::test]
async fn control_characters_go_through_path_query_and_body_but_never_headers() {
    let server = start_api("127.0.0.1:0").await;
    let client = loopback_client();
    let no_header = api(
        &server.base(),
        r#"method = "PUT"
path = "/echo/items/$v/tail"
query = { q = "$v" }
body = { v = "$v" }"#,
    );
    for v in [
        "a\r\nX-Injected: 1",
        "\r\n\r\nGET /admin HTTP/1.1",
        "nul\0byte",
        "\u{1b}[31m",
        "tab\there",
    ] {
        let echo = client
            .call(&no_header, &args(json!({ "v": v })))
            .await
            .unwrap()
            .body;
        assert_eq!(echo["method"], "PUT");
        let seg = echo["path"]
            .as_str()
            .unwrap()
            .split('/')
            .nth(3)
            .unwrap()
            .to_string();
        assert_eq!(percent_decode(&seg), v);
        let q: Vec<(String, String)> =
            url::form_urlencoded::parse(echo["query"].as_str().unwrap().as_bytes())
                .into_owned()
                .collect();
        assert_eq!(q, vec![("q".to_string(), v.to_string())]);
        assert_eq!(echo["body"], json!({ "v": v }));
        assert!(echo["headers"].get("x-injected").is_none());
    }

    let with_header = everywhere(&server);
    let before = server.hits();
    for v in [
        "a\r\nX-Injected: 1",
        "a\nb",
        "a\rb",
        "nul\0byte",
        "bell\u{7}",
    ] {
        let err = client
            .call(&with_header, &args(json!({ "v": v })))
            .await
            .unwrap_err();
        assert!(
            matches!(err, CallError::Prepare(PrepareError::Render(RenderError::HeaderControl { ref name, .. })) if name == "v"),
            "{v:?}: {err}"
        );
        assert!(
            err.bot_value()["error"]
                .as_str()
                .unwrap()
                .contains("header"),
            "{err}"
        );
    }
    assert_eq!(
        server.hits(),
        before,
        "a refused request reached the server"
    );
}

#[tokio::test]
async fn dot_and_empty_path_values_are_refused_before_sending() {
    let server = start_api("127.0.0.1:0").await;
    let client = loopback_client();
    let action = everywhere(&server);
    for v in [".", ".."] {
        let err = client
            .call(&action, &args(json!({ "v": v })))
            .await
            .unwrap_err();
        assert!(
            matches!(err, CallError::Prepare(PrepareError::DotSegment)),
            "{v:?}: {err}"
        );
    }
    let err = client
        .call(&action, &args(json!({ "v": "" })))
        .await
        .unwrap_err();
    assert!(
        matches!(
            err,
            CallError::Prepare(PrepareError::Render(RenderError::EmptyPathValue(_)))
        ),
        "{err}"
    );
    assert_eq!(server.hits(), 0);
}

#[tokio::test]
async fn every_method_and_raw_json_body_values() {
    let server = start_api("127.0.0.1:0").await;
    let client = loopback_client();
    for method in ["GET", "POST", "PUT", "DELETE"] {
        let body = if method == "GET" {
            ""
        } else {
            "body = { items = \"$items\", count = \"$count\", label = \"n=$count\" }"
        };
        let query = if method == "GET" {
            "query = { items = \"$count\" }"
        } else {
            ""
        };
        let action = api(
            &server.base(),
            &format!("method = \"{method}\"\npath = \"/echo/m\"\n{body}\n{query}"),
        );
        let a = args(json!({"items": [{"sku": "A", "qty": 2}], "count": 3}));
        let res = client.call(&action, &a).await.unwrap();
        assert_eq!(res.status, 200);
        assert_eq!(res.body["method"], method);
        if method == "GET" {
            assert_eq!(res.body["body"], Value::Null);
            assert_eq!(res.body["query"], "items=3");
        } else {
            assert_eq!(
                res.body["body"],
                json!({"items": [{"sku": "A", "qty": 2}], "count": 3, "label": "n=3"})
            );
        }
    }
}

#[tokio::test]
async fn headers_may_override_accept_and_content_type() {
    let server = start_api("127.0.0.1:0").await;
    let client = loopback_client();
    let action = api(
        &server.base(),
        "method = \"POST\"\npath = \"/echo\"\nheaders = { Accept = \"application/vnd.x+json\", \"Content-Type\" = \"application/vnd.api+json\", Authorization = \"Bearer $token\" }\nbody_json = '''{\"data\": {\"id\": \"$id\"}}'''",
    );
    let res = client
        .call(&action, &args(json!({"token": "tök€n", "id": 5})))
        .await
        .unwrap();
    let h = &res.body["headers"];
    assert_eq!(h["accept"], "application/vnd.x+json");
    assert_eq!(h["content-type"], "application/vnd.api+json");
    assert_eq!(h["authorization"], "Bearer tök€n");
    // "$id" alone is the raw JSON value: the number stays a number.
    assert_eq!(res.body["body"], json!({"data": {"id": 5}}));
}

#[tokio::test]
async fn missing_and_invalid_arguments_are_clear_errors() {
    let server = start_api("127.0.0.1:0").await;
    let client = loopback_client();
    let action = everywhere(&server);
    let err = client.call(&action, &args(json!({}))).await.unwrap_err();
    assert!(
        matches!(err, CallError::Prepare(PrepareError::Render(RenderError::Missing(ref n))) if n == "v"),
        "{err}"
    );
    assert_eq!(err.bot_value(), json!({"error": "missing argument `v`"}));
    let err = client
        .call(&action, &args(json!({"v": {"nested": true}})))
        .await
        .unwrap_err();
    assert!(
        matches!(
            err,
            CallError::Prepare(PrepareError::Render(RenderError::NotScalar { .. }))
        ),
        "{err}"
    );

    let def = common::action(
        "getOrder",
        &format!("description = \"d\"\nkind = \"api\"\n[api]\nbase_url = \"{}\"\npath = \"/echo/$orderId\"\nmethod = \"GET\"\n", server.base()),
    );
    let err = client
        .call_action(&def, &json!({"orderId": 12}))
        .await
        .unwrap_err();
    assert_eq!(
        err.to_string(),
        "invalid arguments: argument `orderId` must be a string, not a number"
    );
    let err = client
        .call_action(&def, &json!({"orderId": "1", "admin": true}))
        .await
        .unwrap_err();
    assert!(
        err.to_string().contains("unknown argument `admin`"),
        "{err}"
    );
    assert_eq!(server.hits(), 0);
    let ok = client
        .call_action(&def, &json!({"orderId": "A/1"}))
        .await
        .unwrap();
    assert_eq!(ok.body["path"], "/echo/A%2F1");
}

#[tokio::test]
async fn timeouts_come_back_as_errors() {
    let server = start_api("127.0.0.1:0").await;
    let client = loopback_client();
    let action = api(
        &server.base(),
        "method = \"GET\"\npath = \"/slow\"\ntimeout_ms = 200",
    );
    let result = client.call(&action, &args(json!({}))).await;
    let err = result.as_ref().unwrap_err();
    assert!(
        matches!(err, CallError::Timeout(d) if *d == Duration::from_millis(200)),
        "{err}"
    );
    assert_eq!(
        bot_value(&result),
        json!({"error": "The API did not answer within 200 ms", "timeout": true})
    );
}

/// A server that sends its headers and part of the body, then stalls: the timeout covers the
/// body too.
#[tokio::test]
async fn timeouts_cover_a_stalled_body() {
    use tokio::io::{AsyncReadExt, AsyncWriteExt};
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    tokio::spawn(async move {
        let (mut stream, _) = listener.accept().await.unwrap();
        let mut buf = [0u8; 4096];
        let _ = stream.read(&mut buf).await;
        stream
            .write_all(b"HTTP/1.1 200 OK\r\ncontent-type: application/json\r\ncontent-length: 100\r\n\r\n{\"partial\":")
            .await
            .unwrap();
        tokio::time::sleep(Duration::from_secs(3600)).await;
    });
    let client = loopback_client();
    let action = api(
        &format!("http://{addr}"),
        "method = \"GET\"\npath = \"/\"\ntimeout_ms = 300",
    );
    let err = client.call(&action, &args(json!({}))).await.unwrap_err();
    assert!(matches!(err, CallError::Timeout(_)), "{err}");
}

#[tokio::test]
async fn secrets_from_the_environment_are_sent_but_not_shown_to_the_bot() {
    let server = start_api("127.0.0.1:0").await;
    let client = loopback_client();
    // Cargo sets CARGO_PKG_NAME for test processes; setting variables here would race other
    // test threads.
    let action = api(&server.base(), "method = \"GET\"\npath = \"/echo\"\nheaders = { x-api-key = { env = \"CARGO_PKG_NAME\" } }");
    let ok = client.call(&action, &args(json!({}))).await.unwrap();
    assert_eq!(ok.body["headers"]["x-api-key"], "natter-actions");
    let action = api(&server.base(), "method = \"GET\"\npath = \"/echo\"\nheaders = { x-api-key = { env = \"NATTER_SURELY_UNSET_9F2C\" } }");
    let result = client.call(&action, &args(json!({}))).await;
    let err = result.as_ref().unwrap_err();
    assert!(
        err.to_string().contains("NATTER_SURELY_UNSET_9F2C"),
        "the log names the variable: {err}"
    );
    assert_eq!(
        bot_value(&result),
        json!({"error": "The action is not configured correctly"})
    );
}

#[tokio::test]
async fn non_2xx_answers_come_back_as_errors_with_status_and_body() {
    let server = start_api("127.0.0.1:0").await;
    let client = loopback_client();
    let action = api(&server.base(), "method = \"GET\"\npath = \"/status/$code\"");
    let result = client.call(&action, &args(json!({"code": 404}))).await;
    assert_eq!(result.as_ref().unwrap_err().status(), Some(404));
    assert_eq!(
        bot_value(&result),
        json!({"error": "The API answered HTTP 404 Not Found", "status": 404, "body": {"error": "Order not found"}})
    );
    let result = client.call(&action, &args(json!({"code": 500}))).await;
    assert_eq!(
        bot_value(&result),
        json!({"error": "The API answered HTTP 500 Internal Server Error", "status": 500, "body": "<h1>Internal Server Error</h1>"})
    );
    let result = client.call(&action, &args(json!({"code": 418}))).await;
    assert_eq!(result.unwrap_err().status(), Some(418));
}

#[tokio::test]
async fn bodies_text_empty_and_size_capped() {
    let server = start_api("127.0.0.1:0").await;
    let client = ActionClient::new(ClientConfig {
        max_response_bytes: 1000,
        ..ClientConfig::with_policy(NetPolicy {
            allow_private_network: true,
            allow_cidrs: vec![],
        })
    })
    .unwrap();
    let text = api(&server.base(), "method = \"GET\"\npath = \"/text\"");
    assert_eq!(
        client.call(&text, &args(json!({}))).await.unwrap().body,
        json!("plain words")
    );
    let empty = api(&server.base(), "method = \"GET\"\npath = \"/empty\"");
    let r = client.call(&empty, &args(json!({}))).await.unwrap();
    assert_eq!((r.status, r.body), (204, Value::Null));
    let big = api(&server.base(), "method = \"GET\"\npath = \"/big/$n\"");
    assert_eq!(
        client
            .call(&big, &args(json!({"n": 1000})))
            .await
            .unwrap()
            .body
            .as_str()
            .unwrap()
            .len(),
        1000
    );
    let err = client
        .call(&big, &args(json!({"n": 1001})))
        .await
        .unwrap_err();
    assert!(matches!(err, CallError::TooLarge { limit: 1000 }), "{err}");
    let err = client
        .call(&big, &args(json!({"n": 5_000_000})))
        .await
        .unwrap_err();
    assert!(matches!(err, CallError::TooLarge { .. }), "{err}");
}

#[tokio::test]
async fn oversized_requests_are_refused_before_sending() {
    let server = start_api("127.0.0.1:0").await;
    let client = ActionClient::new(ClientConfig {
        max_request_bytes: 4096,
        ..ClientConfig::with_policy(NetPolicy {
            allow_private_network: true,
            allow_cidrs: vec![],
        })
    })
    .unwrap();
    let action = api(
        &server.base(),
        "method = \"POST\"\npath = \"/echo\"\nbody = { v = \"$v\" }",
    );
    client
        .call(&action, &args(json!({"v": "x".repeat(3000)})))
        .await
        .unwrap();
    let err = client
        .call(&action, &args(json!({"v": "x".repeat(5000)})))
        .await
        .unwrap_err();
    assert!(
        matches!(err, CallError::RequestTooLarge { limit: 4096 }),
        "{err}"
    );
    assert_eq!(server.hits(), 1);
}

/// The seed's example, loaded from a bot folder the way the server loads it.
#[tokio::test]
async fn check_product_stock_from_a_bot_folder() {
    let server = start_api("127.0.0.1:0").await;
    let bot = std::env::temp_dir().join(format!("natter-actions-test-{}", std::process::id()));
    std::fs::create_dir_all(bot.join("actions")).unwrap();
    std::fs::write(
        bot.join("actions/checkProductStock.toml"),
        format!(
            r#"description = "Checks whether a product is in stock, given its product ID."
kind = "api"
workflows = ["shopping"]

[api]
base_url = "{}"
path = "/stock/$productId"
method = "GET"
headers = {{ "x-api-key" = "your-api-key" }}
"#,
            server.base()
        ),
    )
    .unwrap();
    let set = ActionSet::load(&bot).unwrap();
    std::fs::remove_dir_all(&bot).unwrap();

    let action = set.callable("shopping", "checkProductStock").unwrap();
    assert_eq!(action.required_args().collect::<Vec<_>>(), ["productId"]);
    assert!(set.callable("support", "checkProductStock").is_err());
    assert_eq!(set.enabled_in("shopping").count(), 1);

    let client = loopback_client();
    let ok = client
        .call_action(action, &json!({"productId": "SKU-1"}))
        .await
        .unwrap();
    assert_eq!(
        ok.body,
        json!({"productId": "SKU-1", "inStock": true, "quantity": 12})
    );
    let missing = client
        .call_action(action, &json!({"productId": "SKU-404"}))
        .await;
    assert_eq!(
        bot_value(&missing)["body"],
        json!({"error": "Product not found"})
    );
    assert_eq!(bot_value(&missing)["status"], 404);
}

#[tokio::test]
async fn calls_reuse_one_pooled_connection() {
    let server = start_api("127.0.0.1:0").await;
    let client = loopback_client();
    let action = api(&server.base(), "method = \"GET\"\npath = \"/echo\"");
    for _ in 0..10 {
        client.call(&action, &args(json!({}))).await.unwrap();
    }
    assert_eq!(server.hits(), 10);
    assert_eq!(
        server.connections(),
        1,
        "calls did not share one pooled connection"
    );
}
