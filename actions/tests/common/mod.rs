//! Real HTTP servers on loopback addresses for the tests: an echo API that reports exactly
//! what it received, and a spy that only counts accepted TCP connections.

#![allow(dead_code)]

use std::net::SocketAddr;
use std::path::PathBuf;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;
use std::time::Duration;

use axum::body::Bytes;
use axum::extract::{Path, Query, State};
use axum::http::{HeaderMap, Method, StatusCode, Uri};
use axum::response::{IntoResponse, Response};
use axum::routing::{any, get};
use axum::serve::ListenerExt;
use axum::{Json, Router};
use natter_actions::{parse_action, Action, ApiAction};
use serde_json::{json, Value};
use tokio::net::TcpListener;

/// A running test API.
pub struct Api {
    pub addr: SocketAddr,
    /// Requests received (any route).
    pub hits: Arc<AtomicUsize>,
    /// TCP connections accepted.
    pub connections: Arc<AtomicUsize>,
}

impl Api {
    pub fn base(&self) -> String {
        format!("http://{}", self.addr)
    }
    pub fn hits(&self) -> usize {
        self.hits.load(Ordering::SeqCst)
    }
    pub fn connections(&self) -> usize {
        self.connections.load(Ordering::SeqCst)
    }
}

/// Starts the test API on `ip:port` (port 0: any).
pub async fn start_api(bind: &str) -> Api {
    let listener = TcpListener::bind(bind).await.expect("bind test API");
    serve_api(listener).await
}

pub async fn serve_api(listener: TcpListener) -> Api {
    let addr = listener.local_addr().unwrap();
    let hits = Arc::new(AtomicUsize::new(0));
    let app = Router::new()
        .route("/stock/{product_id}", get(stock))
        .route("/status/{code}", any(status))
        .route("/slow", any(slow))
        .route(
            "/text",
            get(|| async { ([("content-type", "text/plain")], "plain words") }),
        )
        .route("/empty", get(|| async { StatusCode::NO_CONTENT }))
        .route("/big/{n}", get(big))
        .route("/redirect", any(redirect))
        .route(
            "/loop",
            any(|| async { (StatusCode::FOUND, [("location", "/loop")]) }),
        )
        .fallback(echo)
        .with_state(hits.clone())
        .layer(axum::middleware::from_fn_with_state(hits.clone(), count));
    let connections = Arc::new(AtomicUsize::new(0));
    let counted = connections.clone();
    let listener = listener.tap_io(move |_| {
        counted.fetch_add(1, Ordering::SeqCst);
    });
    tokio::spawn(async move { axum::serve(listener, app).await.unwrap() });
    Api {
        addr,
        hits,
        connections,
    }
}

async fn count(
    State(hits): State<Arc<AtomicUsize>>,
    req: axum::extract::Request,
    next: axum::middleware::Next,
) -> Response {
    hits.fetch_add(1, Ordering::SeqCst);
    next.run(req).await
}

/// Echoes the request: method, raw path, raw query, headers (UTF-8), body (JSON or text).
async fn echo(method: Method, uri: Uri, headers: HeaderMap, body: Bytes) -> Json<Value> {
    let mut h = serde_json::Map::new();
    for (name, value) in &headers {
        h.insert(
            name.as_str().to_string(),
            String::from_utf8_lossy(value.as_bytes())
                .into_owned()
                .into(),
        );
    }
    let body = if body.is_empty() {
        Value::Null
    } else {
        serde_json::from_slice(&body)
            .unwrap_or_else(|_| String::from_utf8_lossy(&body).into_owned().into())
    };
    Json(json!({
        "method": method.as_str(),
        "path": uri.path(),
        "query": uri.query(),
        "headers": h,
        "body": body,
    }))
}

/// The seed's "Check product stock": GET /stock/$productId with x-api-key.
async fn stock(Path(product_id): Path<String>, headers: HeaderMap) -> Response {
    if headers.get("x-api-key").map(|v| v.as_bytes()) != Some(b"your-api-key") {
        return (
            StatusCode::UNAUTHORIZED,
            Json(json!({"error": "bad api key"})),
        )
            .into_response();
    }
    match product_id.as_str() {
        "SKU-1" => {
            Json(json!({"productId": "SKU-1", "inStock": true, "quantity": 12})).into_response()
        }
        _ => (
            StatusCode::NOT_FOUND,
            Json(json!({"error": "Product not found"})),
        )
            .into_response(),
    }
}

async fn status(Path(code): Path<u16>) -> Response {
    let code = StatusCode::from_u16(code).unwrap();
    if code.as_u16() == 500 {
        return (
            code,
            [("content-type", "text/html")],
            "<h1>Internal Server Error</h1>",
        )
            .into_response();
    }
    (code, Json(json!({"error": "Order not found"}))).into_response()
}

async fn slow() -> &'static str {
    // Far longer than any test's timeout: the client must give up first.
    tokio::time::sleep(Duration::from_secs(3600)).await;
    "late"
}

async fn big(Path(n): Path<usize>) -> String {
    "x".repeat(n)
}

#[derive(serde::Deserialize)]
struct RedirectQuery {
    to: String,
    status: Option<u16>,
}

async fn redirect(Query(q): Query<RedirectQuery>) -> Response {
    let code = StatusCode::from_u16(q.status.unwrap_or(302)).unwrap();
    (code, [("location", q.to)]).into_response()
}

/// A TCP listener that accepts and counts connections, and answers nothing.
pub struct Spy {
    pub addr: SocketAddr,
    accepted: Arc<AtomicUsize>,
}

impl Spy {
    pub async fn bind(bind: &str) -> std::io::Result<Spy> {
        let listener = TcpListener::bind(bind).await?;
        let addr = listener.local_addr()?;
        let accepted = Arc::new(AtomicUsize::new(0));
        let count = accepted.clone();
        tokio::spawn(async move {
            while let Ok((stream, _)) = listener.accept().await {
                count.fetch_add(1, Ordering::SeqCst);
                drop(stream);
            }
        });
        Ok(Spy { addr, accepted })
    }

    pub fn accepted(&self) -> usize {
        self.accepted.load(Ordering::SeqCst)
    }
}

/// Parses an action definition given as TOML text (named `<name>.toml`).
pub fn action(name: &str, toml: &str) -> Action {
    match parse_action(&PathBuf::from(format!("{name}.toml")), toml) {
        Ok(a) => a,
        Err(e) => panic!("definition errors: {e:#?}"),
    }
}

/// An API action against `base` with the given `[api]` lines (method, path, …).
pub fn api(base: &str, api_lines: &str) -> ApiAction {
    action(
        "testAction",
        &format!("description = \"test\"\nkind = \"api\"\nworkflows = [\"main\"]\n[api]\nbase_url = \"{base}\"\n{api_lines}\n"),
    )
    .api()
    .unwrap()
    .clone()
}

pub fn args(v: Value) -> serde_json::Map<String, Value> {
    v.as_object().expect("args object").clone()
}
