//! Event handlers in the admin API (mounted under `/admin/v1` with the actions' admin-token
//! check, `crate::actions::admin::authenticate`):
//!
//! - `GET  /admin/v1/bots/{bot}/handlers` — the bot's handlers by event;
//! - `POST /admin/v1/bots/{bot}/handlers/{handler}/test` `{conversationId, eventType?}` — Run
//!   Test: runs it without the event firing, answers the logged run;
//! - `GET  /admin/v1/handler-runs?bot=&limit=` — logged runs, newest first;
//! - `GET  /admin/v1/threads/{id}/outbox` — a conversation's outbox jobs (status, attempts).

use std::sync::Arc;

use axum::extract::{Path, Query, State};
use axum::routing::{get, post};
use axum::{Json, Router};
use serde::Deserialize;
use serde_json::{json, Value};

use super::handlers::{HandlerError, EVENTS};
use crate::actions::admin::AdminError;
use crate::http::AppState;

type S = State<Arc<AppState>>;

pub fn router() -> Router<Arc<AppState>> {
    Router::new()
        .route("/bots/{bot}/handlers", get(list))
        .route("/bots/{bot}/handlers/{handler}/test", post(test))
        .route("/handler-runs", get(runs))
        .route("/threads/{id}/outbox", get(outbox))
}

/// The bot's event handlers.
#[utoipa::path(get, path = "/admin/v1/bots/{bot}/handlers", tag = "handlers",
    params(("bot" = String, Path)),
    responses((status = 200, description = "`{bot, handlers: [{name, eventType, file}]}`"), (status = 404, description = "No such bot")))]
pub async fn list(State(st): S, Path(bot): Path<String>) -> Result<Json<Value>, AdminError> {
    st.bots
        .get(&bot)
        .ok_or_else(|| AdminError::NotFound(format!("no bot `{bot}`")))?;
    let hs: Vec<Value> = st
        .lifecycle
        .plan
        .handlers
        .list(&bot)
        .iter()
        .map(|h| json!({"name": h.name, "eventType": h.event, "file": h.script}))
        .collect();
    Ok(Json(json!({ "bot": bot, "handlers": hs })))
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields, rename_all = "camelCase")]
pub struct TestRequest {
    conversation_id: String,
    event_type: Option<String>,
}

/// Run Test: runs the handler against a conversation without the event firing.
#[utoipa::path(post, path = "/admin/v1/bots/{bot}/handlers/{handler}/test", tag = "handlers",
    params(("bot" = String, Path), ("handler" = String, Path)),
    request_body(content_type = "application/json", description = "`{conversationId, eventType?}`: the event type is passed as `context[\"args\"][\"event_type\"]` (default: the handler's own)"),
    responses((status = 200, description = "The logged run: `{id, status, result, stdout, stderr, traceback, durationMs, …}`"),
              (status = 400, description = "Bad body or event type"), (status = 404, description = "No such bot, handler or conversation")))]
pub async fn test(
    State(st): S,
    Path((bot, handler)): Path<(String, String)>,
    body: Result<Json<TestRequest>, axum::extract::rejection::JsonRejection>,
) -> Result<Json<Value>, AdminError> {
    let Json(req) = body.map_err(|e| AdminError::BadRequest(e.body_text()))?;
    if let Some(e) = req.event_type.as_deref().filter(|e| !EVENTS.contains(e)) {
        return Err(AdminError::BadRequest(format!(
            "eventType `{e}`: expected one of {}",
            EVENTS.join(", ")
        )));
    }
    st.bots
        .get(&bot)
        .ok_or_else(|| AdminError::NotFound(format!("no bot `{bot}`")))?;
    let lc = &st.lifecycle;
    let def = lc
        .plan
        .handlers
        .find(&bot, &handler, req.event_type.as_deref())
        .ok_or_else(|| AdminError::NotFound(format!("bot `{bot}` has no handler `{handler}`")))?;
    let event = req.event_type.as_deref().unwrap_or(def.event);
    let run = lc
        .handlers
        .run(&bot, def, &req.conversation_id, event, None, true)
        .await
        .map_err(|e| match e {
            HandlerError::NoBot(_) | HandlerError::NoConversation(_) => {
                AdminError::NotFound(e.to_string())
            }
            other => AdminError::Internal(other.to_string()),
        })?;
    st.store.record_handler_run(run.clone()).await?;
    Ok(Json(json!(run)))
}

#[derive(Deserialize)]
pub struct RunsQuery {
    bot: String,
    limit: Option<u32>,
}

/// A bot's handler runs, newest first.
#[utoipa::path(get, path = "/admin/v1/handler-runs", tag = "handlers",
    params(("bot" = String, Query), ("limit" = Option<u32>, Query, description = "Default 50, at most 500")),
    responses((status = 200, description = "`{runs: [run]}`")))]
pub async fn runs(
    State(st): S,
    q: Result<Query<RunsQuery>, axum::extract::rejection::QueryRejection>,
) -> Result<Json<Value>, AdminError> {
    let Query(q) = q.map_err(|e| AdminError::BadRequest(e.body_text()))?;
    let runs = st.store.handler_runs(&q.bot, q.limit.unwrap_or(50)).await?;
    Ok(Json(json!({ "runs": runs })))
}

/// A conversation's outbox jobs (handlers to run, webhooks to deliver) in queue order.
#[utoipa::path(get, path = "/admin/v1/threads/{id}/outbox", tag = "conversations",
    params(("id" = String, Path)),
    responses((status = 200, description = "`{jobs: [{id, kind, target, eventType, status, attempts, lastError, body}]}`")))]
pub async fn outbox(State(st): S, Path(id): Path<String>) -> Result<Json<Value>, AdminError> {
    let jobs = st.store.outbox_jobs(&id).await?;
    Ok(Json(json!({ "jobs": jobs })))
}
