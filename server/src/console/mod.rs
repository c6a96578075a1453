//! The console: the bot team's web dashboard at `/console/`, and who may use the admin API.
//!
//! - [`router`]: the console's pages and scripts (embedded in the binary from `console/web/`,
//!   see [`assets`]), the sign-in exchange (`POST /console/session`), `GET /console/session`
//!   (the CSRF token for the page's script) and `POST /console/sign-out`.
//! - [`admin_access`]: the check in front of every `/admin/v1` request: rate limit per client
//!   IP, then the bearer token or a session cookie (+ CSRF token on state-changing requests).
//! - [`api`]: the admin endpoints the console added (conversation list and detail, live
//!   events, bots, overview, definitions); every screen of the console is a client of them.
//!
//! The console is off (404 with a message saying how to turn it on) when no admin token is
//! configured. Every console response carries a strict CSP: scripts and styles from the
//! console's own files only (no inline script or style), `frame-ancestors 'none'`.

pub mod api;
pub mod assets;
pub mod openapi;
pub mod session;

use std::net::{IpAddr, SocketAddr};
use std::sync::Arc;

use axum::extract::{ConnectInfo, Request, State};
use axum::http::{header, HeaderMap, HeaderValue, Method, StatusCode};
use axum::middleware::Next;
use axum::response::{IntoResponse, Redirect, Response};
use axum::routing::{get, post};
use axum::{Json, Router};
use serde::Deserialize;
use serde_json::json;

use crate::actions::admin::AdminError;
use crate::http::limits::{Rate, RateLimiter};
use crate::http::AppState;

/// The shortest admin token accepted at start.
pub const MIN_TOKEN_BYTES: usize = 32;

/// Admin API requests per second per client IP (burst [`ADMIN_BURST`]).
pub const ADMIN_RATE: Rate = Rate {
    per_sec: 50.0,
    burst: 200.0,
};
/// Sign-in attempts: one per 3 s per client IP after a burst of 10 (guessing is hopeless).
pub const SIGN_IN_RATE: Rate = Rate {
    per_sec: 1.0 / 3.0,
    burst: 10.0,
};

/// The console's share of the server state.
pub struct ConsoleState {
    pub admin_limiter: RateLimiter<IpAddr>,
    pub sign_in_limiter: RateLimiter<IpAddr>,
}

impl Default for ConsoleState {
    fn default() -> Self {
        ConsoleState {
            admin_limiter: RateLimiter::new(ADMIN_RATE),
            sign_in_limiter: RateLimiter::new(SIGN_IN_RATE),
        }
    }
}

/// Why a configured admin token is refused at start.
pub fn check_token(token: &str) -> Result<(), String> {
    if token.len() < MIN_TOKEN_BYTES {
        return Err(format!(
            "NATTER_ADMIN_TOKEN is {} bytes; it must be at least {MIN_TOKEN_BYTES} (make one with `openssl rand -hex 32`)",
            token.len()
        ));
    }
    Ok(())
}

pub const CSP: &str =
    "default-src 'none'; script-src 'self'; style-src 'self'; img-src 'self' https: data:; \
     connect-src 'self'; form-action 'self'; base-uri 'none'; frame-ancestors 'none'";

/// Security headers of every console response.
async fn headers(req: Request, next: Next) -> Response {
    let mut resp = next.run(req).await;
    let h = resp.headers_mut();
    h.insert(
        header::CONTENT_SECURITY_POLICY,
        HeaderValue::from_static(CSP),
    );
    h.insert(header::X_FRAME_OPTIONS, HeaderValue::from_static("DENY"));
    h.insert(
        header::X_CONTENT_TYPE_OPTIONS,
        HeaderValue::from_static("nosniff"),
    );
    h.insert(
        header::REFERRER_POLICY,
        HeaderValue::from_static("no-referrer"),
    );
    resp
}

fn token(st: &AppState) -> Option<&str> {
    st.config
        .admin_token
        .as_ref()
        .map(|t| t.0.as_str())
        .filter(|t| !t.is_empty())
}

fn peer(req_ext: &axum::http::Extensions) -> Option<IpAddr> {
    req_ext.get::<ConnectInfo<SocketAddr>>().map(|c| c.0.ip())
}

/// A browser request from another site, judged by `Origin` (and `Sec-Fetch-Site`): refused
/// for anything that changes state. Requests without them (scripts, curl) pass.
fn cross_site(headers: &HeaderMap) -> bool {
    if let Some(site) = headers.get("sec-fetch-site").and_then(|v| v.to_str().ok()) {
        if site != "same-origin" && site != "none" {
            return true;
        }
    }
    let Some(origin) = headers.get(header::ORIGIN).and_then(|v| v.to_str().ok()) else {
        return false;
    };
    let host = headers
        .get(header::HOST)
        .and_then(|v| v.to_str().ok())
        .unwrap_or("");
    let bare = origin
        .strip_prefix("http://")
        .or_else(|| origin.strip_prefix("https://"));
    bare != Some(host)
}

fn is_safe(method: &Method) -> bool {
    matches!(*method, Method::GET | Method::HEAD | Method::OPTIONS)
}

/// Middleware of `/admin/v1`: rate limit, then bearer token or session (+ CSRF).
pub async fn admin_access(State(st): State<Arc<AppState>>, req: Request, next: Next) -> Response {
    let Some(token) = token(&st) else {
        return AdminError::Disabled.into_response();
    };
    if let Some(ip) = peer(req.extensions()) {
        if let Err(wait) = st.console.admin_limiter.check(&ip) {
            return AdminError::RateLimited(wait.as_secs_f64().ceil().max(1.0) as u64)
                .into_response();
        }
    }
    let headers = req.headers();
    let bearer = headers
        .get(header::AUTHORIZATION)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.strip_prefix("Bearer "));
    if let Some(given) = bearer {
        return if session::same(given.trim().as_bytes(), token.as_bytes()) {
            next.run(req).await
        } else {
            AdminError::Unauthorized.into_response()
        };
    }
    let Some(csrf) = signed_in(&st, headers).await else {
        return AdminError::Unauthorized.into_response();
    };
    if !is_safe(req.method()) {
        let given = headers
            .get(session::CSRF_HEADER)
            .and_then(|v| v.to_str().ok())
            .unwrap_or("");
        if cross_site(headers) || !session::same(given.as_bytes(), csrf.as_bytes()) {
            return AdminError::Csrf.into_response();
        }
    }
    next.run(req).await
}

pub fn router(state: Arc<AppState>) -> Router<Arc<AppState>> {
    Router::new()
        .route(
            "/console",
            get(|| async { Redirect::permanent("/console/") }),
        )
        .route("/console/", get(app_page))
        .route("/console/sign-in", get(sign_in_page))
        .route("/console/session", get(session_info).post(sign_in))
        .route("/console/sign-out", post(sign_out))
        .route("/console/{*file}", get(assets::file))
        .layer(axum::middleware::from_fn_with_state(
            state,
            off_without_token,
        ))
        .layer(axum::middleware::from_fn(headers))
        .layer(
            tower_http::compression::CompressionLayer::new()
                .br(true)
                .gzip(true),
        )
}

async fn off_without_token(State(st): State<Arc<AppState>>, req: Request, next: Next) -> Response {
    if token(&st).is_none() {
        return (
            StatusCode::NOT_FOUND,
            [(header::CONTENT_TYPE, "text/plain; charset=utf-8")],
            "The Natter console is off: start natter with NATTER_ADMIN_TOKEN (at least 32 bytes) to turn it on.\n",
        )
            .into_response();
    }
    next.run(req).await
}

/// The CSRF token of the request's session, if it carries a live one.
pub(crate) async fn signed_in(st: &AppState, headers: &HeaderMap) -> Option<String> {
    let id = session::cookie(headers)?;
    session::csrf(st.store.as_ref(), &id).await
}

async fn app_page(State(st): State<Arc<AppState>>, headers: HeaderMap) -> Response {
    if signed_in(&st, &headers).await.is_none() {
        return Redirect::to("/console/sign-in").into_response();
    }
    assets::page("index.html", &headers)
}

async fn sign_in_page(State(st): State<Arc<AppState>>, headers: HeaderMap) -> Response {
    if signed_in(&st, &headers).await.is_some() {
        return Redirect::to("/console/").into_response();
    }
    assets::page("sign-in.html", &headers)
}

async fn session_info(State(st): State<Arc<AppState>>, headers: HeaderMap) -> Response {
    let body = match signed_in(&st, &headers).await {
        Some(csrf) => json!({"signedIn": true, "csrfToken": csrf}),
        None => json!({"signedIn": false}),
    };
    (
        [(header::CACHE_CONTROL, HeaderValue::from_static("no-store"))],
        Json(body),
    )
        .into_response()
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct SignIn {
    token: String,
}

async fn sign_in(State(st): State<Arc<AppState>>, req: Request) -> Result<Response, AdminError> {
    if let Some(ip) = peer(req.extensions()) {
        if let Err(wait) = st.console.sign_in_limiter.check(&ip) {
            return Err(AdminError::RateLimited(
                wait.as_secs_f64().ceil().max(1.0) as u64
            ));
        }
    }
    let headers = req.headers().clone();
    if cross_site(&headers) {
        return Err(AdminError::Csrf);
    }
    let body = crate::http::body::read_limited(&headers, req.into_body(), 4096)
        .await
        .map_err(|_| AdminError::BadRequest("the body must be at most 4096 bytes".into()))?;
    let SignIn { token: given } = serde_json::from_slice(&body)
        .map_err(|e| AdminError::BadRequest(format!("expected {{\"token\": \"…\"}}: {e}")))?;
    let Some(token) = token(&st) else {
        return Err(AdminError::Disabled);
    };
    if !session::same(given.trim().as_bytes(), token.as_bytes()) {
        tracing::warn!("console: sign-in with a wrong admin token");
        return Err(AdminError::WrongToken);
    }
    let (id, csrf) = session::create(st.store.as_ref()).await?;
    Ok((
        [
            (
                header::SET_COOKIE,
                session::set_cookie(Some(&id), session::is_https(&headers)),
            ),
            (header::CACHE_CONTROL, HeaderValue::from_static("no-store")),
        ],
        Json(json!({"signedIn": true, "csrfToken": csrf})),
    )
        .into_response())
}

async fn sign_out(State(st): State<Arc<AppState>>, headers: HeaderMap) -> Response {
    let Some(id) = session::cookie(&headers) else {
        return AdminError::Unauthorized.into_response();
    };
    let Some(csrf) = session::csrf(st.store.as_ref(), &id).await else {
        return AdminError::Unauthorized.into_response();
    };
    let given = headers
        .get(session::CSRF_HEADER)
        .and_then(|v| v.to_str().ok())
        .unwrap_or("");
    if cross_site(&headers) || !session::same(given.as_bytes(), csrf.as_bytes()) {
        return AdminError::Csrf.into_response();
    }
    if let Err(e) = session::remove(st.store.as_ref(), &id).await {
        return AdminError::from(e).into_response();
    }
    (
        [(
            header::SET_COOKIE,
            session::set_cookie(None, session::is_https(&headers)),
        )],
        Json(json!({"signedIn": false})),
    )
        .into_response()
}
