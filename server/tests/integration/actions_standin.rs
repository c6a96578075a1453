//! Stand-in APIs on 127.0.0.1 for the action tests (axum): the seeds' ERP, courier, refund
//! and order APIs, a stock API for an API action, and Google (token endpoint + Sheets). Every
//! request is recorded so tests can check what the actions sent.

use std::sync::{Arc, Mutex};

use axum::extract::{Path, Query, State};
use axum::http::{HeaderMap, StatusCode};
use axum::routing::{get, post};
use axum::{Json, Router};
use serde_json::{json, Value};
use std::collections::HashMap;

/// One request the stand-in received.
#[derive(Debug, Clone)]
pub struct Seen {
    pub what: String,
    pub data: Value,
}

#[derive(Clone, Default)]
pub struct Apis {
    pub base: String,
    pub seen: Arc<Mutex<Vec<Seen>>>,
}

impl Apis {
    pub fn seen(&self, what: &str) -> Vec<Value> {
        self.seen
            .lock()
            .unwrap()
            .iter()
            .filter(|s| s.what == what)
            .map(|s| s.data.clone())
            .collect()
    }
}

type St = State<Arc<Mutex<Vec<Seen>>>>;
type Q = Query<HashMap<String, String>>;

fn record(st: &St, what: &str, data: Value) {
    st.0.lock().unwrap().push(Seen {
        what: what.into(),
        data,
    });
}

pub const PUBLIC_KEY: &str =
    include_str!("../../../python-runtime/tests/fixtures/test-service-account.pub.pem");
pub const PRIVATE_KEY: &str =
    include_str!("../../../python-runtime/tests/fixtures/test-service-account.key.pem");
pub const SA_EMAIL: &str = "natter-test@example.iam.gserviceaccount.com";

/// ERP: `GET /erp/orders?id=&email=` (needs `Authorization: Bearer ERP_KEY`); also the refund
/// API's order lookup when called without email.
async fn erp_order(st: St, h: HeaderMap, Query(q): Q) -> (StatusCode, Json<Value>) {
    record(&st, "erp", json!(q));
    let auth = h.get("authorization").and_then(|v| v.to_str().ok()) == Some("Bearer ERP_KEY");
    match (
        q.get("id").map(String::as_str),
        q.get("email").map(String::as_str),
    ) {
        (Some("42"), Some("a@b.example")) if auth => (
            StatusCode::OK,
            Json(
                json!({"status": "shipped", "trackingNumber": "TN1", "estimatedDelivery": "2026-01-05"}),
            ),
        ),
        _ => (
            StatusCode::NOT_FOUND,
            Json(json!({"message": "no such order"})),
        ),
    }
}

async fn shipments(st: St, Query(q): Q) -> Json<Value> {
    record(&st, "courier", json!(q));
    if q.get("tracking_number").map(String::as_str) == Some("TN1") {
        Json(
            json!({"events": [{"at": "2026-01-02", "what": "picked up"}, {"at": "2026-01-03", "what": "in transit"}]}),
        )
    } else {
        Json(json!({"events": []}))
    }
}

/// Refund API: order 1 refundable, 2 already refunded, 3 not cancellable.
async fn shop_order(st: St, Query(q): Q) -> Json<Value> {
    record(&st, "shop.order", json!(q));
    match q.get("id").map(String::as_str) {
        Some("1") => Json(json!({"id": "1", "isRefunded": false, "isCancellable": true})),
        Some("2") => Json(json!({"id": "2", "isRefunded": true, "isCancellable": true})),
        _ => Json(json!({"id": q.get("id"), "isRefunded": false, "isCancellable": false})),
    }
}

async fn refund(st: St, Json(body): Json<Value>) -> Json<Value> {
    record(&st, "refund", body.clone());
    Json(json!({"amount": 19.9, "orderId": body["orderId"]}))
}

async fn create_order(st: St, h: HeaderMap, Json(body): Json<Value>) -> (StatusCode, Json<Value>) {
    record(&st, "create", body.clone());
    if h.get("authorization").and_then(|v| v.to_str().ok()) != Some("Bearer API_KEY") {
        return (StatusCode::UNAUTHORIZED, Json(json!({"error": "no key"})));
    }
    let items = body["items"].as_array().cloned().unwrap_or_default();
    let total: f64 = items
        .iter()
        .map(|i| i["price"].as_f64().unwrap_or(0.0) * i["qty"].as_f64().unwrap_or(1.0))
        .sum();
    (
        StatusCode::OK,
        Json(
            json!({"orderId": "ORD-7", "total": total, "confirmationUrl": "https://shop.example/confirm/ORD-7"}),
        ),
    )
}

async fn stock(st: St, h: HeaderMap, Path(id): Path<String>) -> (StatusCode, Json<Value>) {
    record(
        &st,
        "stock",
        json!({"id": id, "key": h.get("x-api-key").and_then(|v| v.to_str().ok())}),
    );
    if h.get("x-api-key").and_then(|v| v.to_str().ok()) != Some("your-api-key") {
        return (StatusCode::UNAUTHORIZED, Json(json!({"error": "bad key"})));
    }
    match id.as_str() {
        "SKU-1" => (
            StatusCode::OK,
            Json(json!({"inStock": true, "productId": id})),
        ),
        _ => (
            StatusCode::NOT_FOUND,
            Json(json!({"error": "Product not found"})),
        ),
    }
}

/// Google's token endpoint: checks the RS256 assertion like Google does.
async fn token(st: St, body: String) -> (StatusCode, Json<Value>) {
    record(&st, "google.token", json!(body.len()));
    let Some(jwt) = body.split('&').find_map(|kv| kv.strip_prefix("assertion=")) else {
        return (
            StatusCode::BAD_REQUEST,
            Json(json!({"error": "invalid_request"})),
        );
    };
    let mut v = jsonwebtoken::Validation::new(jsonwebtoken::Algorithm::RS256);
    v.validate_aud = false;
    v.set_issuer(&[SA_EMAIL]);
    let key = jsonwebtoken::DecodingKey::from_rsa_pem(PUBLIC_KEY.as_bytes()).unwrap();
    match jsonwebtoken::decode::<Value>(jwt, &key, &v) {
        Ok(t) if t.claims["scope"] == "https://www.googleapis.com/auth/spreadsheets" => (
            StatusCode::OK,
            Json(json!({"access_token": "ya29.test", "expires_in": 3599, "token_type": "Bearer"})),
        ),
        other => (
            StatusCode::BAD_REQUEST,
            Json(json!({"error": "invalid_grant", "error_description": format!("{other:?}")})),
        ),
    }
}

async fn sheets_append(
    st: St,
    h: HeaderMap,
    Path(rest): Path<String>,
    Json(body): Json<Value>,
) -> (StatusCode, Json<Value>) {
    record(&st, "sheets.append", json!({"path": rest, "body": body}));
    if h.get("authorization").and_then(|v| v.to_str().ok()) != Some("Bearer ya29.test") {
        return (
            StatusCode::UNAUTHORIZED,
            Json(json!({"error": {"message": "bad token"}})),
        );
    }
    let rows = body["values"].as_array().map_or(0, Vec::len);
    (
        StatusCode::OK,
        Json(json!({"updates": {"updatedRange": "Sheet1!A2:C2", "updatedRows": rows}})),
    )
}

pub async fn start() -> Apis {
    let seen: Arc<Mutex<Vec<Seen>>> = Arc::default();
    let app = Router::new()
        .route("/erp/orders", get(erp_order))
        .route("/courier/shipments", get(shipments))
        .route("/shop/orders", get(shop_order).post(create_order))
        .route("/shop/refund", post(refund))
        .route("/stock/{id}", get(stock))
        .route("/google/token", post(token))
        .route("/google/v4/spreadsheets/{*rest}", post(sheets_append))
        .with_state(seen.clone());
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let base = format!("http://{}", listener.local_addr().unwrap());
    tokio::spawn(async move { axum::serve(listener, app).await.unwrap() });
    Apis { base, seen }
}
