//! Bad JSON on every JSON route: the JSONTestSuite parsing corpus (tests/fixtures/jsontestsuite),
//! raw invalid UTF-8, oversized, deeply nested and wrong-typed bodies, sent to every route that
//! takes a JSON body — the visitor API, the admin API, the console's sign-in, the CRM inbound
//! routes (the list is checked against the routes the server's source registers) — and
//! answered by the LLM stand-in as model replies. Every request must get an answer (a panic drops the connection):
//! never a 5xx, and every 4xx is `{error: {code, message}}`. Vectors the corpus calls invalid
//! (`n_`) must be refused with a 4xx; valid ones (`y_`) and the implementation-defined (`i_`)
//! may be accepted when their shape fits the route.

use std::net::{IpAddr, Ipv4Addr};
use std::path::PathBuf;

use natter_server::actions::admin::AdminToken;
use serde_json::{json, Value};

use crate::common::*;
use crate::llm::standin::{chunks, Reply};

const ADMIN: &str = "sec-json-admin-token-0123456789abcdef";
const CRM_KEY: &str = "sec-json-crm-key";

pub struct Vector {
    pub name: String,
    pub body: Vec<u8>,
}

/// The JSONTestSuite parsing corpus as vendored, plus a few byte-level cases the JSON-encoded
/// fixture cannot carry (invalid UTF-8, a lone BOM, a NUL).
pub fn corpus() -> Vec<Vector> {
    let path = PathBuf::from(env!("CARGO_MANIFEST_DIR"))
        .join("../tests/fixtures/jsontestsuite/parsing.json");
    let raw = std::fs::read_to_string(&path).unwrap();
    let list: Vec<Value> = serde_json::from_str(&raw).unwrap();
    let mut out: Vec<Vector> = list
        .iter()
        .map(|v| Vector {
            name: v["name"].as_str().unwrap().to_string(),
            body: v["input"].as_str().unwrap().as_bytes().to_vec(),
        })
        .collect();
    for (name, body) in [
        ("n_raw_invalid_utf8_in_string", b"[\"\xff\xfe\"]".to_vec()),
        ("n_raw_overlong_utf8", b"{\"a\":\"\xc0\xaf\"}".to_vec()),
        ("n_raw_lone_continuation", b"{\"\x80\":1}".to_vec()),
        ("n_raw_bom_only", b"\xef\xbb\xbf".to_vec()),
        ("n_raw_nul", b"\0".to_vec()),
        ("n_raw_nested_objects_10000", {
            let mut b = b"{\"a\":".repeat(10_000);
            b.extend(b"1");
            b.extend(b"}".repeat(10_000));
            b
        }),
    ] {
        out.push(Vector {
            name: name.into(),
            body,
        });
    }
    out
}

/// Wrong-typed bodies: each field of the visitor and CRM payloads with every other JSON type.
fn wrong_types() -> Vec<Vector> {
    let others = [
        json!(null),
        json!(true),
        json!(-1),
        json!(1.5e300),
        json!("x"),
        json!([]),
        json!({}),
        json!([{"a": [1]}]),
    ];
    let shapes = [
        json!({"clientMessageId": "m", "content": "hi"}),
        json!({"messageId": "m", "positive": true, "categories": ["a"], "text": "t"}),
        json!({"subject": "s", "metadata": {"a": 1}}),
        json!({"platformConversationId": "p", "eventType": "message", "message": "m"}),
        json!({"eventType": "message", "userId": "u", "message": "m"}),
        json!({"args": {}, "argText": {}, "conversationId": "c"}),
        json!({"conversationId": "c", "eventType": "conversation.closed"}),
        json!({"token": "t"}),
        json!({"url": "https://shop.example/cart", "title": "Cart"}),
        json!({"messageId": "m", "data": {"selectedIndex": 1}}),
    ];
    let mut out = Vec::new();
    for shape in &shapes {
        for key in shape.as_object().unwrap().keys() {
            for o in &others {
                let mut v = shape.clone();
                v[key] = o.clone();
                out.push(Vector {
                    name: format!("wrong_type_{key}_{o}"),
                    body: v.to_string().into_bytes(),
                });
            }
        }
    }
    out
}

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
[[workflows]]
name = "human"
triggers = {{ keywords = ["human"] }}
steps = [ {{ handoff = "Connecting you.", reason = "asked" }} ]
"#
    )
}

/// Who a route's requests authenticate as.
#[derive(Clone, Copy, PartialEq)]
pub enum Auth {
    Visitor,
    Admin,
    Crm,
}

/// One JSON route: method, path template (see [`Route::url`]), credentials, whether the body
/// may be left out.
pub struct Route {
    pub method: reqwest::Method,
    pub path: &'static str,
    pub auth: Auth,
    pub optional: bool,
}

impl Route {
    /// The path for bot `t`, this thread, and an action and handler that do not exist.
    pub fn url(&self, thread: &str) -> String {
        self.path
            .replace("{bot}", "t")
            .replace("{thread}", thread)
            .replace("{action}", "nope")
            .replace("{handler}", "nope")
    }
}

/// Every route of the server that takes a JSON body. `every_body_route_of_the_server_is_listed`
/// keeps it complete.
pub fn json_routes() -> Vec<Route> {
    use reqwest::Method;
    let r = |method: Method, path, auth, optional| Route {
        method,
        path,
        auth,
        optional,
    };
    vec![
        // Visitor API.
        r(Method::POST, "/v1/bots/{bot}/threads", Auth::Visitor, true),
        r(
            Method::POST,
            "/v1/threads/{thread}/messages",
            Auth::Visitor,
            false,
        ),
        r(
            Method::POST,
            "/v1/threads/{thread}/feedback",
            Auth::Visitor,
            false,
        ),
        r(
            Method::POST,
            "/v1/threads/{thread}/close",
            Auth::Visitor,
            true,
        ),
        r(
            Method::PUT,
            "/v1/threads/{thread}/browser-session",
            Auth::Visitor,
            false,
        ),
        r(
            Method::POST,
            "/v1/threads/{thread}/user_defined",
            Auth::Visitor,
            false,
        ),
        // Admin API and the console's sign-in.
        r(
            Method::POST,
            "/admin/v1/bots/{bot}/actions/{action}/test",
            Auth::Admin,
            false,
        ),
        r(
            Method::POST,
            "/admin/v1/bots/{bot}/handlers/{handler}/test",
            Auth::Admin,
            false,
        ),
        r(Method::POST, "/console/session", Auth::Visitor, false),
        // CRM inbound.
        r(
            Method::POST,
            "/agent/converse/send-message-to-widget",
            Auth::Crm,
            false,
        ),
        r(Method::POST, "/converse/chat", Auth::Crm, false),
        r(
            Method::POST,
            "/local-crm/converse-webhook",
            Auth::Visitor,
            false,
        ),
    ]
}

/// Routes that take a body which is not JSON, or none.
const NOT_JSON: [&str; 3] = [
    // The raw bytes of a file.
    "/threads/{}/attachments",
    "/agent/converse/attachments",
    // No body: the session cookie and the CSRF header are the request.
    "/console/sign-out",
];

/// `{name}` → `{}`, so templates compare whatever their parameters are called.
fn shape(path: &str) -> String {
    let mut out = String::new();
    let mut in_param = false;
    for c in path.chars() {
        match c {
            '{' => {
                in_param = true;
                out.push_str("{}");
            }
            '}' => in_param = false,
            _ if in_param => {}
            _ => out.push(c),
        }
    }
    out
}

/// The routes registered in server/src with a method that carries a body (POST, PUT, PATCH,
/// DELETE), read from the `.route(path, …)` calls (a path given as a `const` is looked up).
fn body_routes_in_source() -> Vec<String> {
    fn files(dir: &std::path::Path, out: &mut Vec<PathBuf>) {
        for e in std::fs::read_dir(dir).unwrap() {
            let p = e.unwrap().path();
            if p.is_dir() {
                files(&p, out);
            } else if p.extension().is_some_and(|x| x == "rs") {
                out.push(p);
            }
        }
    }
    let mut paths = Vec::new();
    files(
        &PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("src"),
        &mut paths,
    );
    let sources: Vec<String> = paths
        .iter()
        .map(|p| std::fs::read_to_string(p).unwrap())
        .collect();
    let consts: std::collections::HashMap<String, String> = sources
        .iter()
        .flat_map(|s| s.lines())
        .filter_map(|l| {
            let l = l.trim().strip_prefix("pub ").unwrap_or(l.trim());
            let rest = l.strip_prefix("const ")?;
            let (name, value) = rest.split_once(": &str = \"")?;
            Some((name.to_string(), value.split('"').next()?.to_string()))
        })
        .collect();
    let mut found = Vec::new();
    for src in &sources {
        let mut rest = src.as_str();
        while let Some(at) = rest.find(".route(") {
            rest = &rest[at + ".route(".len()..];
            // The call's arguments, up to its closing parenthesis.
            let (mut depth, mut end) = (1, 0);
            for (i, c) in rest.char_indices() {
                match c {
                    '(' => depth += 1,
                    ')' => depth -= 1,
                    _ => {}
                }
                if depth == 0 {
                    end = i;
                    break;
                }
            }
            let args = &rest[..end];
            let (first, handlers) = args.split_once(',').unwrap_or((args, ""));
            let first = first.trim();
            let path = match first.strip_prefix('"') {
                Some(p) => p.trim_end_matches('"').to_string(),
                None => consts
                    .get(first.rsplit("::").next().unwrap())
                    .unwrap_or_else(|| panic!("route path `{first}`: no such const"))
                    .clone(),
            };
            if ["post(", "put(", "patch(", "delete("]
                .iter()
                .any(|m| handlers.contains(m))
            {
                found.push(path);
            }
        }
    }
    found
}

#[test]
fn every_body_route_of_the_server_is_listed() {
    let listed: Vec<String> = json_routes().iter().map(|r| shape(r.path)).collect();
    let routes = body_routes_in_source();
    assert!(routes.len() >= 12, "the scan found {routes:?}");
    for path in &routes {
        let path = shape(path);
        // Listed paths are full (with `/v1` or `/admin/v1`); the source has them per router.
        let covered = listed.iter().any(|l| l.ends_with(&path))
            || NOT_JSON.iter().any(|n| n.ends_with(&path));
        assert!(
            covered,
            "{path} takes a body but is not in json_routes() (nor NOT_JSON)"
        );
    }
    eprintln!(
        "bad JSON: {} body-taking routes in the source, all listed ({} JSON, {} not JSON)",
        routes.len(),
        listed.len(),
        NOT_JSON.len()
    );
}

/// A client from its own loopback address, so per-IP limits (admin, sign-in, CRM) never turn
/// a parse check into a 429.
pub fn client_from(i: usize) -> reqwest::Client {
    let ip = IpAddr::V4(Ipv4Addr::new(127, 1, (i / 250) as u8, (i % 250 + 1) as u8));
    reqwest::Client::builder()
        .local_address(ip)
        .build()
        .unwrap()
}

fn with_auth(req: reqwest::RequestBuilder, auth: Auth) -> reqwest::RequestBuilder {
    match auth {
        Auth::Admin => req.bearer_auth(ADMIN),
        Auth::Crm => req.header("authorization", CRM_KEY),
        Auth::Visitor => req,
    }
}

/// A refusal must be a JSON `{error: {code, message}}`; any answer must not be a 5xx.
pub async fn check_answer(
    what: &str,
    r: Result<reqwest::Response, reqwest::Error>,
    must_refuse: bool,
) -> u16 {
    let r = r.unwrap_or_else(|e| panic!("{what}: no answer (did the server panic?): {e}"));
    let status = r.status().as_u16();
    let body = r.bytes().await.unwrap();
    assert!(
        status < 500,
        "{what}: {status} {:?}",
        String::from_utf8_lossy(&body)
    );
    if must_refuse {
        assert!(
            (400..500).contains(&status),
            "{what}: accepted with {status}"
        );
    }
    if status >= 400 {
        let v: Value = serde_json::from_slice(&body).unwrap_or_else(|_| {
            panic!(
                "{what}: {status} without a JSON body: {:?}",
                String::from_utf8_lossy(&body)
            )
        });
        assert!(
            v["error"]["code"].as_str().is_some_and(|c| !c.is_empty())
                && v["error"]["message"]
                    .as_str()
                    .is_some_and(|m| !m.is_empty()),
            "{what}: {status} {v}"
        );
    }
    status
}

#[tokio::test]
async fn every_json_route_refuses_the_jsontestsuite_corpus_with_a_json_4xx() {
    let s = TestServer::start_with(&[("t", TEST_BOT), ("c", &crm_bot())], |c| {
        c.http.admin_token = Some(AdminToken(ADMIN.into()));
    })
    .await;
    let thread = s.create_thread("t").await;
    let crm_thread = s.create_thread("c").await;
    let routes: Vec<(reqwest::Method, String, Auth, bool)> = json_routes()
        .into_iter()
        .map(|r| (r.method.clone(), r.url(&thread), r.auth, r.optional))
        .collect();
    let mut vectors = corpus();
    let corpus_len = vectors.len();
    vectors.extend(wrong_types());
    let (mut requests, mut refused) = (0usize, 0usize);
    for (i, v) in vectors.iter().enumerate() {
        let client = client_from(i);
        // `n_`: malformed; wrong types are malformed for every route too, except where the
        // changed field is optional and the new value happens to fit.
        let must_refuse = v.name.starts_with("n_");
        let blank = v
            .body
            .iter()
            .all(|b| matches!(b, b' ' | b'\t' | b'\n' | b'\r'));
        for (method, path, auth, optional) in &routes {
            // A blank body is no body, which the optional-body routes take as `{}`.
            let must_refuse = must_refuse && !(blank && *optional);
            let req = with_auth(
                client
                    .request(method.clone(), s.url(path))
                    .header("content-type", "application/json")
                    .body(v.body.clone()),
                *auth,
            );
            let status = check_answer(
                &format!("{} → {method} {path}", v.name),
                req.send().await,
                must_refuse,
            )
            .await;
            requests += 1;
            refused += usize::from(status >= 400);
        }
    }
    // The server is still up, and the threads the corpus hit still work.
    assert_eq!(
        s.client
            .get(s.url("/healthz"))
            .send()
            .await
            .unwrap()
            .status(),
        200
    );
    let h = s.history(&crm_thread).await;
    assert!(h["messages"].is_array());
    eprintln!(
        "bad JSON: {corpus_len} corpus vectors + {} wrong-typed bodies x {} routes = {requests} requests, {refused} refused with a JSON 4xx, 0 5xx",
        vectors.len() - corpus_len,
        routes.len()
    );
    s.stop().await;
}

#[tokio::test]
async fn oversized_and_deeply_nested_bodies_get_a_json_4xx_on_every_route() {
    let s = TestServer::start_with(&[("t", TEST_BOT), ("c", &crm_bot())], |c| {
        c.http.admin_token = Some(AdminToken(ADMIN.into()));
    })
    .await;
    let thread = s.create_thread("t").await;
    let routes: Vec<(reqwest::Method, String, Auth)> = json_routes()
        .into_iter()
        .map(|r| (r.method.clone(), r.url(&thread), r.auth))
        .collect();
    let content = "x".repeat(3 * 1024 * 1024);
    let bodies: Vec<(&str, Vec<u8>)> = vec![
        (
            "3 MB string",
            json!({"clientMessageId": "m", "content": content})
                .to_string()
                .into_bytes(),
        ),
        ("60000 nested arrays", {
            let mut b = b"[".repeat(60_000);
            b.extend(b"]".repeat(60_000));
            b
        }),
        ("unclosed 60000 nested objects", b"{\"a\":".repeat(60_000)),
        ("10000 keys", {
            let m: serde_json::Map<String, Value> =
                (0..10_000).map(|i| (format!("k{i}"), json!(i))).collect();
            Value::Object(m).to_string().into_bytes()
        }),
    ];
    for (i, (name, body)) in bodies.iter().enumerate() {
        for (j, (method, path, auth)) in routes.iter().enumerate() {
            let client = client_from(i * routes.len() + j);
            let req = with_auth(
                client
                    .request(method.clone(), s.url(path))
                    .header("content-type", "application/json")
                    .body(body.clone()),
                *auth,
            );
            check_answer(&format!("{name} → {method} {path}"), req.send().await, true).await;
        }
    }
    s.stop().await;
}

#[tokio::test]
async fn malformed_model_replies_end_the_turn_cleanly() {
    let t = crate::llm::start().await;
    let thread = t.thread().await;
    let bad: Vec<Vector> = corpus()
        .into_iter()
        .filter(|v| v.name.starts_with("n_") && v.body.len() < 4096)
        .collect();
    let mut failed = 0;
    for (i, v) in bad.iter().enumerate() {
        let text = String::from_utf8_lossy(&v.body).into_owned();
        // Half as a plain JSON body, half as the data of a stream chunk.
        let reply = if i % 2 == 0 {
            Reply::Json(text)
        } else {
            Reply::fast(vec![chunks::text(&["ok"])[0].clone(), text])
        };
        t.model.set_default(reply);
        let events = t.server.turn(&thread, &format!("question {i}")).await;
        let last = types(&events).last().unwrap().clone();
        assert!(
            last == "run.failed" || last == "run.completed",
            "{}: {events:#?}",
            v.name
        );
        failed += usize::from(last == "run.failed");
    }
    assert_eq!(
        t.server
            .client
            .get(t.server.url("/healthz"))
            .send()
            .await
            .unwrap()
            .status(),
        200
    );
    eprintln!(
        "malformed model replies: {} n_ vectors, {failed} turns failed cleanly, the rest completed",
        bad.len()
    );
    t.server.stop().await;
}
