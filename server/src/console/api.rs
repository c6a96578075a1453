//! The admin endpoints the console reads (under `/admin/v1`, behind [`super::admin_access`]):
//!
//! - `GET /conversations?bot=&status=&tag=&from=&to=&q=&cursor=&limit=` — the list, newest
//!   first, keyset-paged, with counts per status;
//! - `GET /conversations/{id}` (id or public id) — everything the detail view shows;
//! - `GET /conversations/{id}/events?after=` — its live events (SSE, as `/v1/threads/{id}/events`);
//! - `GET /bots` — the bots with their action and handler counts;
//! - `GET /bots/{bot}/stats` — the overview;
//! - `GET /bots/{bot}/actions/{action}` and `GET /bots/{bot}/handlers/{handler}` — read-only
//!   definitions (the TOML and the code as they are in the bot's folder).
//!
//! Bad input is a 400 `{error: {code, message}}` naming the parameter and what is allowed.

use std::sync::Arc;

use axum::extract::{Path, Query, State};
use axum::response::Response;
use axum::routing::get;
use axum::{Json, Router};
use natter_protocol::ThreadStatus;
use serde::Deserialize;
use serde_json::{json, Value};
use time::format_description::well_known::Rfc3339;
use time::{Date, OffsetDateTime};

use crate::actions::admin::AdminError;
use crate::http::AppState;
use crate::store::actions::ActionRunQuery;
use crate::store::console::{BotStats, ConversationPage, ConversationQuery, Cursor};
use crate::store::Thread;

type S = State<Arc<AppState>>;

pub fn router() -> Router<Arc<AppState>> {
    Router::new()
        .route("/conversations", get(list))
        .route("/conversations/{id}", get(detail))
        .route("/conversations/{id}/events", get(events))
        .route("/bots", get(bots))
        .route("/bots/{bot}/stats", get(stats))
        .route("/bots/{bot}/actions/{action}", get(action_definition))
        .route("/bots/{bot}/handlers/{handler}", get(handler_definition))
        .route("/openapi.json", get(super::openapi::document))
}

/// Query of `GET /admin/v1/conversations`.
#[derive(Debug, Deserialize, utoipa::IntoParams)]
#[serde(deny_unknown_fields)]
#[into_params(parameter_in = Query)]
pub struct ListQuery {
    /// Only this bot's conversations.
    bot: Option<String>,
    /// `open`, `handed_off` or `closed`.
    status: Option<String>,
    /// Only conversations with this tag.
    tag: Option<String>,
    /// Created on or after: `YYYY-MM-DD` (UTC) or an RFC 3339 time.
    from: Option<String>,
    /// Created on or before this day (`YYYY-MM-DD`, inclusive), or before an RFC 3339 time.
    to: Option<String>,
    /// A public id or id (exact), or words of the messages (all of them; the last as a prefix).
    q: Option<String>,
    /// The previous page's `nextCursor`.
    cursor: Option<String>,
    /// Rows per page, 1 to 200 (default 50).
    limit: Option<u32>,
}

fn stamp(t: OffsetDateTime) -> String {
    let fmt = time::macros::format_description!(
        "[year]-[month]-[day]T[hour]:[minute]:[second].[subsecond digits:3]Z"
    );
    t.to_offset(time::UtcOffset::UTC)
        .format(&fmt)
        .unwrap_or_default()
}

/// A bound of the date range as a stored timestamp; `end` makes a day inclusive.
fn bound(name: &str, text: &str, end: bool) -> Result<String, AdminError> {
    let day_fmt = time::macros::format_description!("[year]-[month]-[day]");
    if let Ok(d) = Date::parse(text, &day_fmt) {
        let d = if end { d.next_day().unwrap_or(d) } else { d };
        return Ok(stamp(d.midnight().assume_utc()));
    }
    OffsetDateTime::parse(text, &Rfc3339)
        .map(stamp)
        .map_err(|_| {
            AdminError::BadRequest(format!(
                "{name} `{text}`: expected a day (2026-01-31) or an RFC 3339 time (2026-01-31T12:00:00Z)"
            ))
        })
}

impl ListQuery {
    fn parse(self, st: &AppState) -> Result<ConversationQuery, AdminError> {
        if let Some(b) = &self.bot {
            st.bot(b)
                .map_err(|_| AdminError::NotFound(format!("no bot `{b}`")))?;
        }
        let status = match self.status.as_deref().filter(|s| !s.is_empty()) {
            None => None,
            Some(s) => Some(ThreadStatus::parse(s).ok_or_else(|| {
                AdminError::BadRequest(format!("status `{s}`: expected open, handed_off or closed"))
            })?),
        };
        let nonempty = |o: Option<String>| o.filter(|s| !s.trim().is_empty());
        let after = match nonempty(self.cursor) {
            None => None,
            Some(c) => Some(Cursor::decode(&c).ok_or_else(|| {
                AdminError::BadRequest("cursor: not a cursor this API gave (nextCursor)".into())
            })?),
        };
        let limit = self.limit.unwrap_or(50);
        if !(1..=200).contains(&limit) {
            return Err(AdminError::BadRequest(format!(
                "limit {limit}: expected 1 to 200"
            )));
        }
        let q = nonempty(self.q);
        if q.as_ref().is_some_and(|q| q.chars().count() > 200) {
            return Err(AdminError::BadRequest("q: at most 200 characters".into()));
        }
        Ok(ConversationQuery {
            bot: self.bot.filter(|b| !b.is_empty()),
            status,
            tag: nonempty(self.tag),
            from: nonempty(self.from)
                .map(|f| bound("from", &f, false))
                .transpose()?,
            to: nonempty(self.to)
                .map(|t| bound("to", &t, true))
                .transpose()?,
            search: q,
            after,
            limit,
        })
    }
}

/// The conversation list, newest first.
#[utoipa::path(get, path = "/admin/v1/conversations", tag = "conversations",
    params(ListQuery),
    responses((status = 200, description = "One page, and counts per status under every filter but `status`", body = ConversationPage),
              (status = 400, description = "A bad parameter, named in the message")))]
pub async fn list(
    State(st): S,
    q: Result<Query<ListQuery>, axum::extract::rejection::QueryRejection>,
) -> Result<Json<ConversationPage>, AdminError> {
    let Query(q) = q.map_err(|e| AdminError::BadRequest(e.body_text()))?;
    let query = q.parse(&st)?;
    Ok(Json(st.store.list_conversations(&query).await?))
}

/// A conversation by id or public id.
pub async fn find_thread(st: &AppState, id: &str) -> Result<Thread, AdminError> {
    match st.store.thread(id).await? {
        Some(t) => Ok(t),
        None => st.store.thread_by_public_id(id).await?.ok_or_else(|| {
            AdminError::NotFound(format!("no conversation with id or public id `{id}`"))
        }),
    }
}

/// Everything the detail view shows.
#[utoipa::path(get, path = "/admin/v1/conversations/{id}", tag = "conversations",
    params(("id" = String, Path, description = "Id or public id")),
    responses((status = 200, description = "`{conversation: {id, publicId, bot, subject, status, tags: [{id, tag}], metadata, createdAt}, messages, lastSeq, feedback, timeline, actionRuns, handlerRuns, outbox, browserSession}`"),
              (status = 404, description = "No such conversation")))]
pub async fn detail(State(st): S, Path(id): Path<String>) -> Result<Json<Value>, AdminError> {
    let t = find_thread(&st, &id).await?;
    let tags: Vec<Value> = st
        .store
        .tag_ids(&t.id)
        .await?
        .into_iter()
        .map(|(id, tag)| json!({"id": id, "tag": tag}))
        .collect();
    let (messages, last_seq) = st.store.history(&t.id).await?;
    let extras = st.store.conversation_extras(&t.id).await?;
    let action_runs = st
        .store
        .action_runs(ActionRunQuery {
            thread_id: Some(t.id.clone()),
            limit: 200,
            ..Default::default()
        })
        .await?;
    let outbox = st.store.outbox_jobs(&t.id).await?;
    Ok(Json(json!({
        "conversation": {
            "id": t.id,
            "publicId": t.public_id,
            "bot": t.bot,
            "subject": t.subject,
            "status": t.status.as_str(),
            "tags": tags,
            "metadata": t.metadata,
            "createdAt": t.created_at,
            "channel": t.channel,
        },
        "messages": messages,
        "lastSeq": last_seq,
        "feedback": extras.feedback,
        "timeline": extras.timeline,
        "actionRuns": action_runs,
        "handlerRuns": extras.handler_runs,
        "outbox": outbox,
        "browserSession": t.browser_session,
    })))
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
pub struct After {
    after: Option<u64>,
}

/// A conversation's events as Server-Sent Events, after `after` (the detail's `lastSeq`).
#[utoipa::path(get, path = "/admin/v1/conversations/{id}/events", tag = "conversations",
    params(("id" = String, Path, description = "Id or public id"),
           ("after" = Option<u64>, Query, description = "Resume after this seq")),
    responses((status = 200, description = "text/event-stream, as /v1/threads/{id}/events")))]
pub async fn events(
    State(st): S,
    Path(id): Path<String>,
    q: Result<Query<After>, axum::extract::rejection::QueryRejection>,
) -> Result<Response, AdminError> {
    let Query(q) = q.map_err(|e| AdminError::BadRequest(e.body_text()))?;
    let t = find_thread(&st, &id).await?;
    Ok(crate::http::events::sse(&st, t.id, q.after.unwrap_or(0)))
}

/// The bots, with how many actions and handlers each has.
#[utoipa::path(get, path = "/admin/v1/bots", tag = "bots",
    responses((status = 200, description = "`{bots: [{slug, name, agent, actions, handlers}]}`, by slug")))]
pub async fn bots(State(st): S) -> Json<Value> {
    let mut slugs: Vec<&str> = st.bots.slugs().collect();
    slugs.sort_unstable();
    let bots: Vec<Value> = slugs
        .into_iter()
        .filter_map(|s| st.bots.get(s))
        .map(|b| {
            json!({
                "slug": b.slug,
                "name": b.name,
                "agent": format!("{:?}", b.agent).to_lowercase(),
                "actions": b.actions.iter().count(),
                "handlers": st.lifecycle.plan.handlers.list(&b.slug).len(),
            })
        })
        .collect();
    Json(json!({ "bots": bots }))
}

/// The overview of a bot.
#[utoipa::path(get, path = "/admin/v1/bots/{bot}/stats", tag = "bots",
    params(("bot" = String, Path, description = "The bot's slug")),
    responses((status = 200, body = BotStats), (status = 404, description = "No such bot")))]
pub async fn stats(State(st): S, Path(bot): Path<String>) -> Result<Json<BotStats>, AdminError> {
    st.bot(&bot)
        .map_err(|_| AdminError::NotFound(format!("no bot `{bot}`")))?;
    Ok(Json(
        st.store.bot_stats(&bot, OffsetDateTime::now_utc()).await?,
    ))
}

/// A file of the bot's folder as text, for showing (`None` if it can't be read).
async fn read_text(dir: &std::path::Path, file: &std::path::Path) -> Option<String> {
    let path = if file.is_absolute() {
        file.to_path_buf()
    } else {
        dir.join(file)
    };
    tokio::fs::read_to_string(path).await.ok()
}

/// An action and its definition files, read-only.
#[utoipa::path(get, path = "/admin/v1/bots/{bot}/actions/{action}", tag = "actions",
    params(("bot" = String, Path), ("action" = String, Path)),
    responses((status = 200, description = "The action's summary (as in the list) with `definition: {file, text}` and, for Python, `code: {file, text}`"),
              (status = 404, description = "No such bot or action")))]
pub async fn action_definition(
    State(st): S,
    Path((bot, action)): Path<(String, String)>,
) -> Result<Json<Value>, AdminError> {
    let b = st
        .bot(&bot)
        .map_err(|_| AdminError::NotFound(format!("no bot `{bot}`")))?
        .clone();
    let a = b
        .actions
        .get(&action)
        .ok_or_else(|| AdminError::NotFound(format!("bot `{bot}` has no action `{action}`")))?;
    let mut v = a.summary();
    v["requiredArgs"] = json!(a.required_args().collect::<Vec<_>>());
    v["definition"] = json!({
        "file": a.source.display().to_string(),
        "text": read_text(&b.dir, &a.source).await,
    });
    if let natter_actions::def::ActionKind::Python(p) = &a.kind {
        v["code"] = json!({
            "file": p.file.display().to_string(),
            "text": read_text(&b.dir, &p.file).await,
        });
    }
    Ok(Json(v))
}

/// A handler and its code, read-only.
#[utoipa::path(get, path = "/admin/v1/bots/{bot}/handlers/{handler}", tag = "handlers",
    params(("bot" = String, Path), ("handler" = String, Path),
           ("eventType" = Option<String>, Query, description = "Which one, when two events have a handler of this name")),
    responses((status = 200, description = "`{name, eventType, file, code}`"), (status = 404, description = "No such bot or handler")))]
pub async fn handler_definition(
    State(st): S,
    Path((bot, handler)): Path<(String, String)>,
    Query(q): Query<std::collections::HashMap<String, String>>,
) -> Result<Json<Value>, AdminError> {
    let b = st
        .bot(&bot)
        .map_err(|_| AdminError::NotFound(format!("no bot `{bot}`")))?
        .clone();
    let h = st
        .lifecycle
        .plan
        .handlers
        .find(&bot, &handler, q.get("eventType").map(String::as_str))
        .ok_or_else(|| AdminError::NotFound(format!("bot `{bot}` has no handler `{handler}`")))?;
    Ok(Json(json!({
        "name": h.name,
        "eventType": h.event,
        "file": h.script.display().to_string(),
        "code": read_text(&b.dir, &h.script).await,
    })))
}
