//! CORS per bot, exact origin match.
//!
//! The bot is found from the path (`/v1/bots/{bot}/…`, or the thread's bot for
//! `/v1/threads/{id}/…`). Requests without `Origin`, and same-origin requests (Origin's host
//! equals `Host`, e.g. the demo page served by this server), pass untouched. A cross-origin
//! request from an origin the bot does not list is refused with 403 `origin_not_allowed`
//! before any handler runs, preflight included; an allowed one gets
//! `Access-Control-Allow-Origin: <that origin>` and `Vary: Origin`.

use std::sync::Arc;

use axum::extract::{Request, State};
use axum::http::{header, HeaderValue, Method, StatusCode};
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};

use super::error::ApiError;
use super::AppState;

const ALLOW_METHODS: &str = "GET, POST, OPTIONS";
const ALLOW_HEADERS: &str = "authorization, content-type, last-event-id";
const EXPOSE_HEADERS: &str = "retry-after";

pub async fn cors(State(st): State<Arc<AppState>>, req: Request, next: Next) -> Response {
    let Some(origin) = req
        .headers()
        .get(header::ORIGIN)
        .and_then(|o| o.to_str().ok())
        .map(str::to_string)
    else {
        return next.run(req).await;
    };
    let host = req
        .headers()
        .get(header::HOST)
        .and_then(|h| h.to_str().ok())
        .unwrap_or("");
    let origin_host = origin.split_once("://").map(|(_, h)| h).unwrap_or("");
    if !host.is_empty() && origin_host == host {
        return next.run(req).await;
    }
    let Some(bot) = bot_of(&st, req.uri().path()).await else {
        // Unknown bot or thread: let the handler answer 404 (without CORS headers).
        return next.run(req).await;
    };
    let allowed = st
        .bots
        .get(&bot)
        .is_some_and(|b| b.cors_origins.contains(&origin));
    if !allowed {
        return ApiError::OriginNotAllowed.into_response();
    }
    let preflight = req.method() == Method::OPTIONS
        && req
            .headers()
            .contains_key(header::ACCESS_CONTROL_REQUEST_METHOD);
    let mut resp = if preflight {
        let mut r = StatusCode::NO_CONTENT.into_response();
        let h = r.headers_mut();
        h.insert(
            header::ACCESS_CONTROL_ALLOW_METHODS,
            HeaderValue::from_static(ALLOW_METHODS),
        );
        h.insert(
            header::ACCESS_CONTROL_ALLOW_HEADERS,
            HeaderValue::from_static(ALLOW_HEADERS),
        );
        h.insert(
            header::ACCESS_CONTROL_MAX_AGE,
            HeaderValue::from_static("600"),
        );
        r
    } else {
        next.run(req).await
    };
    let h = resp.headers_mut();
    if let Ok(v) = HeaderValue::from_str(&origin) {
        h.insert(header::ACCESS_CONTROL_ALLOW_ORIGIN, v);
    }
    h.insert(
        header::ACCESS_CONTROL_EXPOSE_HEADERS,
        HeaderValue::from_static(EXPOSE_HEADERS),
    );
    h.append(header::VARY, HeaderValue::from_static("Origin"));
    resp
}

/// The bot a `/v1` path belongs to (the path is relative to the `/v1` nest or absolute).
async fn bot_of(st: &AppState, path: &str) -> Option<String> {
    let path = path.strip_prefix("/v1").unwrap_or(path);
    let mut parts = path.trim_start_matches('/').split('/');
    match (parts.next(), parts.next()) {
        (Some("bots"), Some(slug)) => Some(slug.to_string()),
        (Some("threads"), Some(id)) => st.owner(id).await.ok().map(|o| o.bot.clone()),
        _ => None,
    }
}
