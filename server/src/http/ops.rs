//! Operations: `/healthz`, `/metrics`, and the request-metrics/trace middleware.

use std::sync::Arc;
use std::time::Instant;

use axum::extract::{MatchedPath, Request, State};
use axum::http::{header, StatusCode};
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use axum::Router;

use super::AppState;
use crate::metrics;

pub fn router() -> Router<Arc<AppState>> {
    Router::new()
        .route("/healthz", get(healthz))
        .route("/metrics", get(metrics_text))
}

/// 200 `{"status":"ok"}` when the store answers; 503 otherwise or while shutting down.
async fn healthz(State(st): State<Arc<AppState>>) -> Response {
    if st.shutdown.is_cancelled() {
        return (
            StatusCode::SERVICE_UNAVAILABLE,
            axum::Json(serde_json::json!({"status": "shutting_down"})),
        )
            .into_response();
    }
    match st.store.last_seq("").await {
        Ok(_) => axum::Json(serde_json::json!({"status": "ok"})).into_response(),
        Err(e) => {
            tracing::error!(error = %e, "health check: store unavailable");
            (
                StatusCode::SERVICE_UNAVAILABLE,
                axum::Json(serde_json::json!({"status": "store_unavailable"})),
            )
                .into_response()
        }
    }
}

async fn metrics_text(State(st): State<Arc<AppState>>) -> Response {
    let mut body = metrics::global().render();
    body.push_str(&format!(
        "# HELP natter_hub_channels Threads with live subscribers.\n# TYPE natter_hub_channels gauge\nnatter_hub_channels {}\n",
        st.hub.open_channels()
    ));
    ([(header::CONTENT_TYPE, "text/plain; version=0.0.4")], body).into_response()
}

/// Counts each request by (method, route template, status) and logs it at debug level.
pub async fn track(req: Request, next: Next) -> Response {
    let started = Instant::now();
    let method = req.method().to_string();
    let route = req
        .extensions()
        .get::<MatchedPath>()
        .map(|p| p.as_str().to_string())
        .unwrap_or_else(|| {
            if req.uri().path().starts_with("/widget/") {
                "/widget/*".into()
            } else if req.uri().path().starts_with("/v1/") {
                "/v1/unmatched".into()
            } else {
                "/*".into()
            }
        });
    let resp = next.run(req).await;
    let secs = started.elapsed().as_secs_f64();
    let status = resp.status().as_u16();
    metrics::global().request(&method, &route, status, secs);
    tracing::debug!(%method, %route, status, ms = secs * 1000.0, "request");
    resp
}
