//! JSON endpoints of protocol v1: create a thread, send, history, feedback, close.

use std::sync::atomic::Ordering;
use std::sync::Arc;

use axum::extract::{Path, State};
use axum::http::{HeaderMap, StatusCode};
use axum::routing::{get, post, put};
use axum::Router;
use natter_protocol::{
    error_code as code, CloseRequest, CloseResponse, CreateThreadRequest, CreateThreadResponse,
    EventPayload, FeedbackRequest, FeedbackResponse, HistoryResponse, Message, Role,
    SendMessageRequest, SendMessageResponse, ThreadStatus,
};

use super::body::{Json, OptionalJson};
use super::error::ApiError;
use super::limits::refused;
use super::AppState;
use crate::runs::RunInput;
use crate::store::{NewThread, SendOutcome, CHANNELS};
use crate::{ids, metrics, time::now_rfc3339};

type S = State<Arc<AppState>>;
type JsonOut<T> = axum::Json<T>;

pub fn router() -> Router<Arc<AppState>> {
    Router::new()
        .route("/bots/{bot}/threads", post(create))
        .route("/threads/{id}/messages", get(history).post(send))
        .route("/threads/{id}/feedback", post(feedback))
        .route("/threads/{id}/close", post(close))
        .route("/threads/{id}/browser-session", put(browser_session))
}

const MAX_SUBJECT: usize = 200;
const MAX_METADATA_BYTES: usize = 8 * 1024;
const MAX_CLIENT_ID: usize = 128;
const MAX_FEEDBACK_TEXT: usize = 2000;
/// A browser session is a few hundred bytes; the host's `context` in it must stay small too.
const MAX_BROWSER_SESSION_BYTES: usize = 8 * 1024;

/// A browser session as sent: an object of at most [`MAX_BROWSER_SESSION_BYTES`].
fn check_browser_session(v: &serde_json::Value) -> Result<(), ApiError> {
    if !v.is_object() {
        return Err(ApiError::bad(
            code::INVALID_REQUEST,
            "browserSession must be a JSON object, e.g. {\"url\": \"https://shop.example/cart\"}",
        ));
    }
    if v.to_string().len() > MAX_BROWSER_SESSION_BYTES {
        return Err(ApiError::bad(
            code::INVALID_REQUEST,
            format!("browserSession larger than {MAX_BROWSER_SESSION_BYTES} bytes"),
        ));
    }
    Ok(())
}

async fn create(
    State(st): S,
    Path(slug): Path<String>,
    headers: HeaderMap,
    OptionalJson(req): OptionalJson<CreateThreadRequest>,
) -> Result<(StatusCode, JsonOut<CreateThreadResponse>), ApiError> {
    let bot = st.bot(&slug)?.clone();
    let principal = bot.auth.authenticate(
        headers
            .get(axum::http::header::AUTHORIZATION)
            .and_then(|v| v.to_str().ok()),
    )?;
    if req
        .subject
        .as_ref()
        .is_some_and(|s| s.chars().count() > MAX_SUBJECT)
    {
        return Err(ApiError::bad(
            code::INVALID_REQUEST,
            format!("subject longer than {MAX_SUBJECT} characters"),
        ));
    }
    let metadata = req.metadata.unwrap_or_default();
    if serde_json::to_string(&metadata).map_or(0, |s| s.len()) > MAX_METADATA_BYTES {
        return Err(ApiError::bad(
            code::INVALID_REQUEST,
            format!("metadata larger than {MAX_METADATA_BYTES} bytes"),
        ));
    }
    let channel = req.channel.unwrap_or_else(|| "api".into());
    if !CHANNELS.contains(&channel.as_str()) || channel == "crm" {
        return Err(ApiError::bad(
            code::INVALID_REQUEST,
            "channel must be one of web, ibm_web_chat, ibm_orchestrate, api",
        ));
    }
    if let Some(b) = &req.browser_session {
        check_browser_session(b)?;
    }
    let new = NewThread {
        id: ids::thread(),
        public_id: ids::public_id(),
        bot: slug.clone(),
        sub: principal.sub,
        subject: req.subject,
        metadata,
        channel,
        browser_session: req.browser_session,
    };
    let agent = st
        .agents
        .get(&slug)
        .ok_or_else(|| ApiError::Internal(format!("no agent for bot {slug}")))?;
    let probe = new.clone().created(now_rfc3339());
    // `greeting: false`: the client opens with a message of its own instead
    let greeting = match req.greeting {
        Some(false) => None,
        _ => agent.greeting(&probe),
    };
    let greeting = greeting.map(|(content, options)| Message {
        id: ids::message(),
        role: Role::Assistant,
        content,
        message_options: options,
        created_at: now_rfc3339(),
        run_id: None,
        client_message_id: None,
    });
    let thread = st.store.create_thread(new, greeting).await?;
    st.remember(&thread);
    tracing::info!(thread = %thread.id, bot = %slug, "thread created");
    Ok((
        StatusCode::CREATED,
        axum::Json(CreateThreadResponse {
            thread_id: thread.id,
            public_id: thread.public_id,
            attachments: bot.attachments.info(),
        }),
    ))
}

async fn history(
    State(st): S,
    Path(id): Path<String>,
    headers: HeaderMap,
) -> Result<JsonOut<HistoryResponse>, ApiError> {
    let bot = st.authorized_thread(&id, &headers).await?;
    let thread = st
        .store
        .thread(&id)
        .await?
        .ok_or_else(ApiError::thread_not_found)?;
    let (mut messages, last_seq) = st.store.history(&id).await?;
    // Signed file URLs: a page shows images with `<img src>`, which sends no token.
    for m in &mut messages {
        crate::attachments::items::sign_message(&id, m);
    }
    let feedback = st.store.feedback_choices(&id).await?;
    Ok(axum::Json(HistoryResponse {
        messages,
        status: thread.status,
        last_seq,
        feedback,
        attachments: bot.attachments.info(),
    }))
}

async fn send(
    State(st): S,
    Path(id): Path<String>,
    headers: HeaderMap,
    Json(req): Json<SendMessageRequest>,
) -> Result<(StatusCode, JsonOut<SendMessageResponse>), ApiError> {
    let bot = st.authorized_thread(&id, &headers).await?;
    let cmid_len = req.client_message_id.chars().count();
    if cmid_len == 0
        || cmid_len > MAX_CLIENT_ID
        || req.client_message_id.chars().any(char::is_control)
    {
        return Err(ApiError::bad(
            code::INVALID_REQUEST,
            format!("clientMessageId must be 1–{MAX_CLIENT_ID} printable characters"),
        ));
    }
    if req.content.trim().is_empty() && req.attachments.is_empty() {
        return Err(ApiError::bad(
            code::INVALID_REQUEST,
            "content must not be empty (unless the message sends attachments)",
        ));
    }
    let max = st.config.limits.max_message_chars;
    if req.content.chars().count() > max {
        return Err(ApiError::bad(
            code::MESSAGE_TOO_LONG,
            format!("content longer than {max} characters"),
        ));
    }
    if req.context.as_ref().is_some_and(|c| !c.is_object()) {
        return Err(ApiError::bad(
            code::INVALID_REQUEST,
            "context must be a JSON object",
        ));
    }
    if let Err(wait) = st.thread_limiter.check(&id) {
        // A retry of an already stored message still gets its first result.
        return match st
            .store
            .find_client_message(&id, &req.client_message_id)
            .await?
        {
            Some(SendOutcome::Duplicate { message_id, run_id }) => Ok((
                StatusCode::ACCEPTED,
                axum::Json(SendMessageResponse { message_id, run_id }),
            )),
            _ => Err(refused(wait)),
        };
    }
    let files = attached(&st, &id, &req.attachments).await?;
    let mut content = Vec::new();
    if !req.content.trim().is_empty() {
        content.push(natter_protocol::ContentItem::text(
            "c0",
            req.content.clone(),
        ));
    }
    content.extend(crate::attachments::items::items(&files));
    let message = Message {
        id: ids::message(),
        role: Role::User,
        content,
        message_options: Default::default(),
        created_at: now_rfc3339(),
        run_id: None,
        client_message_id: Some(req.client_message_id.clone()),
    };
    let outcome = st
        .store
        .send_user_message(&id, message, req.context.clone(), ids::run())
        .await?;
    let (message_id, run_id, fresh) = match outcome {
        SendOutcome::Created { message_id, run_id } => (message_id, run_id, true),
        SendOutcome::Duplicate { message_id, run_id } => (message_id, run_id, false),
    };
    if fresh {
        metrics::global()
            .messages_received
            .fetch_add(1, Ordering::Relaxed);
        if let Some(run_id) = &run_id {
            let agent = st
                .agents
                .get(&bot.slug)
                .ok_or_else(|| ApiError::Internal(format!("no agent for bot {}", bot.slug)))?;
            st.runs.spawn(
                agent.clone(),
                RunInput {
                    thread_id: id.clone(),
                    run_id: run_id.clone(),
                    text: req.content,
                    context: req.context,
                },
            );
        }
    }
    Ok((
        StatusCode::ACCEPTED,
        axum::Json(SendMessageResponse { message_id, run_id }),
    ))
}

/// The ready files of this thread a message names, in its order; an unknown id (or another
/// thread's file) is refused.
pub(super) async fn attached(
    st: &AppState,
    thread_id: &str,
    ids: &[String],
) -> Result<Vec<crate::store::attachments::Attachment>, ApiError> {
    use crate::attachments::{AttachError, MAX_PER_MESSAGE};
    if ids.is_empty() {
        return Ok(Vec::new());
    }
    if ids.len() > MAX_PER_MESSAGE {
        return Err(AttachError::TooMany.into());
    }
    let found = st.store.attachments(thread_id, ids).await?;
    if let Some(missing) = ids.iter().find(|id| !found.iter().any(|a| &a.id == *id)) {
        return Err(AttachError::Unknown(missing.clone()).into());
    }
    Ok(found)
}

async fn feedback(
    State(st): S,
    Path(id): Path<String>,
    headers: HeaderMap,
    Json(req): Json<FeedbackRequest>,
) -> Result<(StatusCode, JsonOut<FeedbackResponse>), ApiError> {
    let bot = st.authorized_thread(&id, &headers).await?;
    if req
        .text
        .as_ref()
        .is_some_and(|t| t.chars().count() > MAX_FEEDBACK_TEXT)
    {
        return Err(ApiError::bad(
            code::INVALID_REQUEST,
            format!("text longer than {MAX_FEEDBACK_TEXT} characters"),
        ));
    }
    if let Some(cats) = &req.categories {
        let allowed = if req.is_positive {
            &bot.feedback.positive
        } else {
            &bot.feedback.negative
        };
        if let Some(bad) = cats.iter().find(|c| !allowed.contains(c)) {
            return Err(ApiError::bad(
                code::INVALID_REQUEST,
                format!("category `{bad}` is not offered for this feedback"),
            ));
        }
    }
    let feedback_id = st.store.add_feedback(&id, req).await?;
    Ok((
        StatusCode::CREATED,
        axum::Json(FeedbackResponse { feedback_id }),
    ))
}

async fn close(
    State(st): S,
    Path(id): Path<String>,
    headers: HeaderMap,
    OptionalJson(req): OptionalJson<CloseRequest>,
) -> Result<JsonOut<CloseResponse>, ApiError> {
    st.authorized_thread(&id, &headers).await?;
    if req.reason.as_ref().is_some_and(|r| r.chars().count() > 500) {
        return Err(ApiError::bad(
            code::INVALID_REQUEST,
            "reason longer than 500 characters",
        ));
    }
    let ev = EventPayload::ThreadClosed {
        by: "visitor".into(),
        reason: req.reason,
    };
    let changed = st.store.transition(&id, ThreadStatus::Closed, ev).await?;
    Ok(axum::Json(CloseResponse {
        status: ThreadStatus::Closed,
        changed,
    }))
}

/// `PUT /v1/threads/{id}/browser-session`: the page the visitor is on now (the widget sends it
/// when the page changes); replaces the one kept on the conversation.
async fn browser_session(
    State(st): S,
    Path(id): Path<String>,
    headers: HeaderMap,
    Json(session): Json<serde_json::Value>,
) -> Result<StatusCode, ApiError> {
    st.authorized_thread(&id, &headers).await?;
    check_browser_session(&session)?;
    st.store.set_browser_session(&id, session).await?;
    Ok(StatusCode::NO_CONTENT)
}
