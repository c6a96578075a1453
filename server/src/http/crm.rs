//! The CRM's inbound Chat API (wire-compatible with ultimateai/custom-crm-automation-template's
//! client; parsing is natter-crm's) and the built-in local CRM's endpoints.
//!
//! - `POST /agent/converse/send-message-to-widget`: an agent answers a handed-off widget
//!   conversation (`platformConversationId` = the thread id): `message` → `agent.message`;
//!   `escalationSuccess` → hand-off if still open, then `agent.joined`; `escalationQueueUpdate`
//!   → `agent.queue`; `escalationFailed` → the bot tells the visitor; `agentDisconnect` →
//!   `agent.left` and the conversation is closed by the agent. Natter extension:
//!   `{eventType: "typing", typing: bool}` → `agent.typing`.
//! - `POST /converse/chat`: the CRM as the visitor's channel (`startSession`, `message`,
//!   `endSession`, `metadata`); the bot answers through `sendMessage` webhooks (outbox).
//! - `POST /local-crm/converse-webhook`, `GET /local-crm/api/conversations`: the local CRM.
//!
//! Auth: the bot's CRM API key in `Authorization` (bare or `Bearer`), compared in constant
//! time; the key also names the bot. Unknown conversation: 404. Bad payload: 400 with the
//! field and the cause; nothing changes. The Chat API routes and the agent's file upload
//! (`POST /agent/converse/attachments`, [`super::attachments`]) share one per-client-IP limit
//! (`Limits::crm_per_ip`), so keys cannot be guessed at speed; the local CRM's webhook is
//! this server calling itself, signed, and is not.

use std::sync::Arc;

use axum::extract::{Query, State};
use axum::http::{HeaderMap, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use axum::Router;
use natter_crm::{InboundError, InboundErrorKind};
use natter_protocol::{error_code as code, ContentItem, EventPayload, Message, Role, ThreadStatus};
use serde_json::{json, Value};

use super::body::Limited;
use super::error::ApiError;
use super::limits::Rate;
use super::AppState;
use crate::auth::AuthError;
use crate::bots::Bot;
use crate::crm::CrmBot;
use crate::lifecycle::ClosedBy;
use crate::store::Thread;
use crate::{ids, time::now_rfc3339};

#[path = "crm_channel.rs"]
mod channel;

type S = State<Arc<AppState>>;

/// Inbound CRM requests per second per client IP, after a burst (a CRM's server is one IP
/// speaking for all its agents, so this is generous; it bounds key guessing and floods).
pub const INBOUND_RATE: Rate = Rate {
    per_sec: 50.0,
    burst: 200.0,
};

/// Middleware: the per-IP limit of the CRM routes.
async fn per_ip(
    State(st): S,
    req: axum::extract::Request,
    next: axum::middleware::Next,
) -> Response {
    let ip = req
        .extensions()
        .get::<axum::extract::ConnectInfo<std::net::SocketAddr>>()
        .map(|c| c.0.ip());
    if let Some(ip) = ip {
        if let Err(wait) = st.crm_limiter.check(&ip) {
            return super::limits::refused(wait).into_response();
        }
    }
    next.run(req).await
}

pub fn router(state: Arc<AppState>) -> Router<Arc<AppState>> {
    Router::new()
        .route(
            "/agent/converse/send-message-to-widget",
            post(agent_message),
        )
        .route("/converse/chat", post(channel::converse_chat))
        .route("/local-crm/api/conversations", get(local_list))
        .merge(super::attachments::agent_router())
        .layer(axum::middleware::from_fn_with_state(state, per_ip))
        .route(crate::crm::local::WEBHOOK_PATH, post(local_webhook))
}

/// The bot whose CRM API key the request carries.
pub(super) fn authorized_bot(
    st: &AppState,
    headers: &HeaderMap,
) -> Result<(Arc<Bot>, Arc<CrmBot>), ApiError> {
    let auth = headers
        .get(axum::http::header::AUTHORIZATION)
        .and_then(|v| v.to_str().ok());
    let Some(auth) = auth else {
        return Err(ApiError::Auth(AuthError::Missing));
    };
    // Every key is checked (no early exit), so timing doesn't tell which bot matched.
    let mut found = None;
    for (slug, crm) in st.lifecycle.crms() {
        if crm
            .crm
            .api_key
            .as_ref()
            .is_some_and(|k| k.matches_authorization(Some(auth)))
            && found.is_none()
        {
            found = Some((slug.clone(), crm.clone()));
        }
    }
    let (slug, crm) = found
        .ok_or_else(|| ApiError::Auth(AuthError::Invalid("not a CRM API key of any bot".into())))?;
    Ok((st.bot(&slug)?.clone(), crm))
}

pub(super) fn bad(e: InboundError, limit: usize) -> ApiError {
    match e.kind {
        InboundErrorKind::TooLarge => ApiError::PayloadTooLarge(limit),
        InboundErrorKind::Json => ApiError::bad(code::INVALID_JSON, e.to_string()),
        InboundErrorKind::Field => ApiError::bad(code::INVALID_REQUEST, e.to_string()),
    }
}

/// A widget conversation of `bot` (the thread id is its `platformConversationId`).
async fn widget_thread(st: &AppState, bot: &Bot, pcid: &str) -> Result<Thread, ApiError> {
    let t = st
        .store
        .thread(pcid)
        .await?
        .filter(|t| t.bot == bot.slug)
        .ok_or_else(ApiError::thread_not_found)?;
    Ok(t)
}

fn text_message(role: Role, text: String) -> Message {
    Message {
        id: ids::message(),
        role,
        content: vec![ContentItem::text("c0", text)],
        message_options: Default::default(),
        created_at: now_rfc3339(),
        run_id: None,
        client_message_id: None,
    }
}

async fn agent_message(
    State(st): S,
    headers: HeaderMap,
    Limited(body): Limited,
) -> Result<Response, ApiError> {
    let (bot, crm) = authorized_bot(&st, &headers)?;
    if let Some(resp) = typing(&st, &bot, &body).await? {
        return Ok(resp);
    }
    let msg = natter_crm::parse_agent_message(&body)
        .map_err(|e| bad(e, st.config.limits.max_body_bytes))?;
    let thread = widget_thread(&st, &bot, &msg.platform_conversation_id).await?;
    if thread.status == ThreadStatus::Closed {
        return Err(ApiError::ThreadClosed);
    }
    let id = &thread.id;
    let local = crm.local.then_some(&st.lifecycle.local);
    use natter_crm::inbound::AgentEvent as E;
    match msg.event {
        E::Message { text, attachments } => {
            if thread.status != ThreadStatus::HandedOff {
                return Err(ApiError::bad(
                    "not_handed_off",
                    "the conversation is not handed off; send escalationSuccess first",
                ));
            }
            let files = super::threads::attached(&st, id, &attachments).await?;
            let mut message = text_message(Role::Agent, text.clone());
            if text.is_empty() {
                message.content.clear();
            }
            message
                .content
                .extend(crate::attachments::items::items(&files));
            if let Some(l) = local {
                let files = crate::attachments::items::signed_list(id, &message);
                l.note_agent(&bot.slug, id, "agent", text, &files, Some("active"))
                    .await?;
            }
            st.store.complete_message(id, None, message).await?;
        }
        E::EscalationSuccess {
            agent,
            agent_avatar,
        } => {
            // On the CRM's request: an open conversation is handed off now (once).
            st.lifecycle
                .hand_off(id, Some("accepted by the CRM".into()))
                .await?;
            if let Some(l) = local {
                let who = agent.clone().unwrap_or_else(|| "An agent".into());
                l.note_agent(
                    &bot.slug,
                    id,
                    "system",
                    format!("{who} joined."),
                    &[],
                    Some("active"),
                )
                .await?;
            }
            st.store
                .append(
                    id,
                    vec![EventPayload::AgentJoined {
                        agent,
                        agent_avatar,
                    }],
                )
                .await?;
        }
        E::EscalationQueueUpdate {
            queue_position,
            waiting_time,
        } => {
            st.store
                .append(
                    id,
                    vec![EventPayload::AgentQueue {
                        queue_position,
                        waiting_time,
                    }],
                )
                .await?;
        }
        E::EscalationFailed => {
            st.store
                .complete_message(
                    id,
                    None,
                    text_message(Role::Assistant, crm.escalation_refused.clone()),
                )
                .await?;
            // A handed-off conversation goes back to the bot (handed_off → open, recorded once
            // as `thread.reopened`); a repeat, or an open/closed thread, changes nothing.
            st.lifecycle
                .reopen(id, Some("the CRM could not take the conversation".into()))
                .await?;
        }
        E::AgentDisconnect => {
            if let Some(l) = local {
                l.note_agent(
                    &bot.slug,
                    id,
                    "system",
                    "The agent left.".into(),
                    &[],
                    Some("ended"),
                )
                .await?;
            }
            st.store
                .append(id, vec![EventPayload::AgentLeft { agent: None }])
                .await?;
            st.lifecycle
                .close(
                    id,
                    ClosedBy::Agent,
                    Some("the agent ended the conversation".into()),
                )
                .await?;
        }
    }
    Ok((StatusCode::OK, axum::Json(json!({ "status": "ok" }))).into_response())
}

/// Natter's `typing` extension of the agent API (the template has no typing event).
async fn typing(st: &AppState, bot: &Bot, body: &[u8]) -> Result<Option<Response>, ApiError> {
    let Ok(v) = serde_json::from_slice::<Value>(body) else {
        return Ok(None);
    };
    if v.get("eventType").and_then(Value::as_str) != Some("typing") {
        return Ok(None);
    }
    let pcid = v
        .get("platformConversationId")
        .and_then(Value::as_str)
        .ok_or_else(|| {
            ApiError::bad(
                code::INVALID_REQUEST,
                "platformConversationId: required, a non-empty string",
            )
        })?;
    let typing = v
        .get("typing")
        .and_then(Value::as_bool)
        .ok_or_else(|| ApiError::bad(code::INVALID_REQUEST, "typing: required, true or false"))?;
    let thread = widget_thread(st, bot, pcid).await?;
    if thread.status != ThreadStatus::HandedOff {
        return Err(ApiError::bad(
            "not_handed_off",
            "the conversation is not handed off",
        ));
    }
    st.store
        .append(&thread.id, vec![EventPayload::AgentTyping { typing }])
        .await?;
    Ok(Some(
        (StatusCode::OK, axum::Json(json!({ "status": "ok" }))).into_response(),
    ))
}

/// The local CRM's webhook receiver: signature checked with the bot's secrets.
async fn local_webhook(
    State(st): S,
    headers: HeaderMap,
    Limited(body): Limited,
) -> Result<Response, ApiError> {
    let v: Value = serde_json::from_slice(&body)
        .map_err(|e| ApiError::bad(code::INVALID_JSON, e.to_string()))?;
    let bot_id = v.get("botId").and_then(Value::as_str).unwrap_or_default();
    let (slug, crm) = st
        .lifecycle
        .crms()
        .iter()
        .find(|(_, c)| c.local && c.crm.bot_id == bot_id)
        .ok_or_else(|| ApiError::NotFound {
            code: code::BOT_NOT_FOUND,
            message: "no bot with a local CRM has this botId".into(),
        })?;
    let sig = natter_crm::SignatureHeaders::from_header_map(&headers)
        .map_err(|e| ApiError::Auth(AuthError::Invalid(e.to_string())))?;
    natter_crm::sign::verify(
        &crm.crm.secrets,
        &sig,
        &body,
        crate::outbox::now_ms() / 1000,
        std::time::Duration::from_secs(300),
    )
    .map_err(|e| ApiError::Auth(AuthError::Invalid(e.to_string())))?;
    let answer = st.lifecycle.local.receive(slug, sig.id, &v).await?;
    Ok((
        StatusCode::OK,
        axum::Json(answer.unwrap_or_else(|| json!({}))),
    )
        .into_response())
}

#[derive(serde::Deserialize)]
struct ListQuery {
    bot: Option<String>,
    /// Who is looking (the console's agent name); one presence per name.
    agent: Option<String>,
}

/// Longest agent name a console may give.
const MAX_AGENT: usize = 64;

/// The agent console's list: conversations the local CRM heard of, for the key's bot.
async fn local_list(
    State(st): S,
    headers: HeaderMap,
    Query(q): Query<ListQuery>,
) -> Result<Response, ApiError> {
    let (bot, crm) = authorized_bot(&st, &headers)?;
    if q.bot.as_deref().is_some_and(|b| b != bot.slug) || !crm.local {
        return Err(ApiError::NotFound {
            code: code::NOT_FOUND,
            message: "this bot has no local CRM".into(),
        });
    }
    let agent = q.agent.as_deref().unwrap_or("console");
    if agent.is_empty() || agent.chars().count() > MAX_AGENT || agent.chars().any(char::is_control)
    {
        return Err(ApiError::bad(
            code::INVALID_REQUEST,
            format!("agent: 1–{MAX_AGENT} printable characters"),
        ));
    }
    let list = st.lifecycle.local.list(&bot.slug, agent).await?;
    Ok(axum::Json(json!({ "bot": bot.slug, "conversations": list })).into_response())
}
