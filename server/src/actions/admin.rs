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

use axum::extract::{Path, Query, Request, State};
use axum::http::{header, StatusCode};
use axum::middleware::Next;
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
    #[error("internal: {0}")]
    Internal(String),
}

impl From<StoreError> for AdminError {
    fn from(e: StoreError) -> Self {
        match e {
            StoreError::ThreadNotFound => AdminError::NotFound("no such thread".into()),
            other => AdminError::Internal(other.to_string()),
        }
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
            AdminError::Internal(cause) => {
                tracing::error!(%cause, "admin: internal error");
                (StatusCode::INTERNAL_SERVER_ERROR, "internal")
            }
        };
        let message = match &self {
            AdminError::Internal(_) => "internal error".to_string(),
            other => other.to_string(),
        };
        (
            status,
            Json(ErrorBody {
                error: ErrorDetail {
                    code: code.into(),
                    message,
                },
            }),
        )
            .into_response()
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
        // Event handlers (issue 6), behind the same admin-token check.
        .merge(crate::lifecycle::admin::router())
        .fallback(|| async { AdminError::NotFound("no such endpoint".into()) })
        .layer(axum::middleware::from_fn_with_state(state, authenticate))
}

/// Constant-time comparison: the token's bytes don't leak through timing.
fn same(a: &[u8], b: &[u8]) -> bool {
    a.len() == b.len() && a.iter().zip(b).fold(0u8, |acc, (x, y)| acc | (x ^ y)) == 0
}

async fn authenticate(State(st): S, req: Request, next: Next) -> Response {
    let Some(token) = st
        .config
        .admin_token
        .as_ref()
        .map(|t| t.0.as_str())
        .filter(|t| !t.is_empty())
    else {
        return AdminError::Disabled.into_response();
    };
    let given = req
        .headers()
        .get(header::AUTHORIZATION)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.strip_prefix("Bearer "));
    match given {
        Some(g) if same(g.trim().as_bytes(), token.as_bytes()) => next.run(req).await,
        _ => AdminError::Unauthorized.into_response(),
    }
}

async fn list(State(st): S, Path(bot): Path<String>) -> Result<Json<Value>, AdminError> {
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
struct TestRequest {
    #[serde(default = "empty_object")]
    args: Value,
    conversation_id: Option<String>,
}

fn empty_object() -> Value {
    json!({})
}

async fn run_test(
    State(st): S,
    Path((bot, action)): Path<(String, String)>,
    body: Result<Json<TestRequest>, axum::extract::rejection::JsonRejection>,
) -> Result<Json<Value>, AdminError> {
    let Json(req) = body.map_err(|e| AdminError::BadRequest(e.body_text()))?;
    let run = st
        .actions
        .test(&bot, &action, req.args, req.conversation_id.as_deref())
        .await?;
    Ok(Json(json!({ "run": run })))
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields, rename_all = "camelCase")]
struct RunsQuery {
    bot: Option<String>,
    action: Option<String>,
    conversation_id: Option<String>,
    limit: Option<u32>,
}

async fn runs(
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

async fn thread(State(st): S, Path(id): Path<String>) -> Result<Json<Value>, AdminError> {
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
