//! The admin API for actions, under `/admin/v1` (authenticated by the admin token, config
//! `NATTER_ADMIN_TOKEN`; with no token configured every request is refused):
//!
//! - `GET  /admin/v1/bots/{bot}/actions` — the bot's actions with their arguments;
//! - `POST /admin/v1/bots/{bot}/actions/{action}/test` `{args, conversationId?}` — "Run Test":
//!   runs it, answers the logged run (result, stdout, stderr, log, status, duration);
//! - `GET  /admin/v1/action-runs?bot=&action=&conversationId=&limit=` — logged runs, newest first;
//! - `GET  /admin/v1/threads/{id}` — a conversation's status, tags (with ids) and metadata.
//!
//! Bad input is a 400 `{error: {code, message}}` and runs nothing.

use std::sync::Arc;

use axum::extract::{Path, Query, State};
use axum::http::{header, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use axum::{Json, Router};
use natter_protocol::{ErrorBody, ErrorDetail};
use serde::Deserialize;
use serde_json::{json, Value};

use super::runner::RunTestError;
use crate::http::AppState;
use crate::store::actions::ActionRunQuery;
use crate::store::StoreError;

#[derive(Debug, thiserror::Error)]
pub enum AdminError {
    #[error("the admin API is disabled: set NATTER_ADMIN_TOKEN to enable it")]
    Disabled,
    #[error("a valid admin token is required (Authorization: Bearer <token>)")]
    Unauthorized,
    #[error("{0}")]
    NotFound(String),
    #[error("{0}")]
    BadRequest(String),
    #[error("that is not the admin token (NATTER_ADMIN_TOKEN)")]
    WrongToken,
    #[error("missing or wrong CSRF token: reload the console page and try again")]
    Csrf,
    #[error("too many requests: try again in {0} s")]
    RateLimited(u64),
    #[error("the database is not answering ({0}); see the server log")]
    Unavailable(String),
    #[error("the server is shutting down")]
    ShuttingDown,
    #[error("internal: {0}")]
    Internal(String),
}

impl From<StoreError> for AdminError {
    fn from(e: StoreError) -> Self {
        match e {
            StoreError::ThreadNotFound => AdminError::NotFound("no such thread".into()),
            StoreError::ShuttingDown => AdminError::ShuttingDown,
            StoreError::Db(e) => AdminError::Unavailable(db_cause(&e)),
            other => AdminError::Internal(other.to_string()),
        }
    }
}

/// What kind of database failure it was, without paths or SQL.
fn db_cause(e: &sqlx::Error) -> String {
    match e {
        sqlx::Error::Database(d) => d.message().to_string(),
        sqlx::Error::PoolTimedOut => "no connection within the timeout".into(),
        sqlx::Error::PoolClosed => "the store is closed".into(),
        sqlx::Error::Io(io) => io.kind().to_string(),
        other => other.to_string(),
    }
}

impl From<RunTestError> for AdminError {
    fn from(e: RunTestError) -> Self {
        match e {
            RunTestError::NoBot(_)
            | RunTestError::NoAction { .. }
            | RunTestError::NoConversation(_) => AdminError::NotFound(e.to_string()),
            RunTestError::Args(a) => AdminError::BadRequest(a.to_string()),
            RunTestError::Store(s) => s.into(),
        }
    }
}

impl IntoResponse for AdminError {
    fn into_response(self) -> Response {
        let (status, code) = match &self {
            AdminError::Disabled => (StatusCode::FORBIDDEN, "admin_disabled"),
            AdminError::Unauthorized => (StatusCode::UNAUTHORIZED, "invalid_token"),
            AdminError::NotFound(_) => (StatusCode::NOT_FOUND, "not_found"),
            AdminError::BadRequest(_) => (StatusCode::BAD_REQUEST, "invalid_request"),
            AdminError::WrongToken => (StatusCode::UNAUTHORIZED, "invalid_token"),
            AdminError::Csrf => (StatusCode::FORBIDDEN, "csrf_failed"),
            AdminError::RateLimited(_) => (StatusCode::TOO_MANY_REQUESTS, "rate_limited"),
            AdminError::Unavailable(cause) => {
                tracing::error!(%cause, "admin: store unavailable");
                (StatusCode::SERVICE_UNAVAILABLE, "store_unavailable")
            }
            AdminError::ShuttingDown => (StatusCode::SERVICE_UNAVAILABLE, "shutting_down"),
            AdminError::Internal(cause) => {
                tracing::error!(%cause, "admin: internal error");
                (StatusCode::INTERNAL_SERVER_ERROR, "internal")
            }
        };
        let message = match &self {
            AdminError::Internal(_) => "internal error".to_string(),
            other => other.to_string(),
        };
        let mut resp = (
            status,
            Json(ErrorBody {
                error: ErrorDetail {
                    code: code.into(),
                    message,
                },
            }),
        )
            .into_response();
        if let AdminError::RateLimited(secs) = self {
            resp.headers_mut()
                .insert(header::RETRY_AFTER, axum::http::HeaderValue::from(secs));
        }
        resp
    }
}

type S = State<Arc<AppState>>;

/// The admin API's bearer token. `Debug` never prints it.
#[derive(Clone, PartialEq, Eq)]
pub struct AdminToken(pub String);

impl std::fmt::Debug for AdminToken {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("AdminToken([redacted])")
    }
}

pub fn router(state: Arc<AppState>) -> Router<Arc<AppState>> {
    Router::new()
        .route("/bots/{bot}/actions", get(list))
        .route("/bots/{bot}/actions/{action}/test", post(run_test))
        .route("/action-runs", get(runs))
        .route("/threads/{id}", get(thread))
        // Event handlers, behind the same admin-token check.
        .merge(crate::lifecycle::admin::router())
        // What the console reads: conversations, bots, overview, definitions, OpenAPI.
        .merge(crate::console::api::router())
        .fallback(|| async { AdminError::NotFound("no such endpoint".into()) })
        .layer(axum::middleware::from_fn_with_state(
            state,
            crate::console::admin_access,
        ))
}

/// The bot's actions with their arguments.
#[utoipa::path(get, path = "/admin/v1/bots/{bot}/actions", tag = "actions",
    params(("bot" = String, Path)),
    responses((status = 200, description = "`{bot, actions: [{name, description, kind, workflows, args: [{name, type, description, required}], requiredArgs, source, method?, base_url?, path?}]}`"),
              (status = 404, description = "No such bot")))]
pub async fn list(State(st): S, Path(bot): Path<String>) -> Result<Json<Value>, AdminError> {
    let b = st
        .actions
        .bots()
        .get(&bot)
        .ok_or_else(|| AdminError::NotFound(format!("no bot `{bot}`")))?;
    let actions: Vec<Value> = b
        .actions
        .iter()
        .map(|a| {
            let mut v = a.summary();
            v["requiredArgs"] = json!(a.required_args().collect::<Vec<_>>());
            v
        })
        .collect();
    Ok(Json(json!({ "bot": bot, "actions": actions })))
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields, rename_all = "camelCase")]
pub struct TestRequest {
    /// The arguments as JSON values.
    args: Option<Value>,
    /// Or as text, each converted to its argument's declared type exactly as the CLI's
    /// `--arg name=value` (a form's fields are text).
    arg_text: Option<std::collections::BTreeMap<String, String>>,
    conversation_id: Option<String>,
}

/// Run Test: runs the action for real (no workflow gate, hand-offs skipped) and logs it.
#[utoipa::path(post, path = "/admin/v1/bots/{bot}/actions/{action}/test", tag = "actions",
    params(("bot" = String, Path), ("action" = String, Path)),
    request_body(content_type = "application/json", description = "`{args?: {name: value}, argText?: {name: \"text\"}, conversationId?}`: `argText` values take each argument's declared type, as the CLI's `--arg`; `conversationId` is an id or public id"),
    responses((status = 200, description = "`{run}`: the logged run (status, result, stdout, stderr, log, error, durationMs, …)"),
              (status = 400, description = "Missing, unknown or wrongly typed arguments; nothing ran"),
              (status = 404, description = "No such bot, action or conversation")))]
pub async fn run_test(
    State(st): S,
    Path((bot, action)): Path<(String, String)>,
    body: Result<Json<TestRequest>, axum::extract::rejection::JsonRejection>,
) -> Result<Json<Value>, AdminError> {
    let Json(req) = body.map_err(|e| AdminError::BadRequest(e.body_text()))?;
    let args = match (req.args, req.arg_text) {
        (Some(_), Some(_)) => {
            return Err(AdminError::BadRequest(
                "give `args` or `argText`, not both".into(),
            ))
        }
        (Some(a), None) => a,
        (None, None) => json!({}),
        (None, Some(text)) => {
            let a = st
                .actions
                .bots()
                .get(&bot)
                .ok_or_else(|| AdminError::NotFound(format!("no bot `{bot}`")))?
                .actions
                .get(&action)
                .ok_or_else(|| {
                    AdminError::NotFound(format!("bot `{bot}` has no action `{action}`"))
                })?;
            a.args_from_strings(text.iter().map(|(k, v)| (k.as_str(), v.as_str())))
                .map_err(|e| AdminError::BadRequest(e.to_string()))?
        }
    };
    let conversation = req
        .conversation_id
        .as_deref()
        .map(str::trim)
        .filter(|c| !c.is_empty());
    let run = st.actions.test(&bot, &action, args, conversation).await?;
    Ok(Json(json!({ "run": run })))
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields, rename_all = "camelCase")]
pub struct RunsQuery {
    bot: Option<String>,
    action: Option<String>,
    conversation_id: Option<String>,
    limit: Option<u32>,
}

/// Logged action runs, newest first.
#[utoipa::path(get, path = "/admin/v1/action-runs", tag = "actions",
    params(("bot" = Option<String>, Query), ("action" = Option<String>, Query),
           ("conversationId" = Option<String>, Query), ("limit" = Option<u32>, Query, description = "Default 50, at most 500")),
    responses((status = 200, description = "`{runs: [run]}`")))]
pub async fn runs(
    State(st): S,
    q: Result<Query<RunsQuery>, axum::extract::rejection::QueryRejection>,
) -> Result<Json<Value>, AdminError> {
    let Query(q) = q.map_err(|e| AdminError::BadRequest(e.body_text()))?;
    let query = ActionRunQuery {
        bot: q.bot,
        action: q.action,
        thread_id: q.conversation_id,
        limit: q.limit.unwrap_or(50),
    };
    let runs = st.store.action_runs(query).await?;
    Ok(Json(json!({ "runs": runs })))
}

/// A conversation's status, tags (with ids) and metadata.
#[utoipa::path(get, path = "/admin/v1/threads/{id}", tag = "conversations",
    params(("id" = String, Path, description = "Id or public id")),
    responses((status = 200, description = "`{id, publicId, bot, subject, status, tags: [{id, tag}], metadata, createdAt}`"),
              (status = 404, description = "No such conversation")))]
pub async fn thread(State(st): S, Path(id): Path<String>) -> Result<Json<Value>, AdminError> {
    let t = match st.store.thread(&id).await? {
        Some(t) => t,
        None => st
            .store
            .thread_by_public_id(&id)
            .await?
            .ok_or_else(|| AdminError::NotFound("no such thread".into()))?,
    };
    let tags: Vec<Value> = st
        .store
        .tag_ids(&t.id)
        .await?
        .into_iter()
        .map(|(id, tag)| json!({"id": id, "tag": tag}))
        .collect();
    Ok(Json(json!({
        "id": t.id,
        "publicId": t.public_id,
        "bot": t.bot,
        "subject": t.subject,
        "status": t.status.as_str(),
        "tags": tags,
        "metadata": t.metadata,
        "createdAt": t.created_at,
    })))
}
