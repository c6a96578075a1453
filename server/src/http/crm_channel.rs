//! `POST /converse/chat`: the CRM as the visitor's channel. The CRM's `platformConversationId`
//! maps to a thread of its own (id `crm_…`, owner `crm:<id>`, so no widget can open it); the
//! visitor's messages run the bot like widget messages, and every bot message goes back to the
//! CRM as a `sendMessage` webhook through the outbox (in order, retried, signed).
//!
//! `metaData` values are stored in the conversation's metadata, except those marked
//! `sanitize`, which are never stored, logged or shown.

use std::sync::Arc;

use axum::extract::State;
use axum::http::{HeaderMap, StatusCode};
use axum::response::{IntoResponse, Response};
use natter_crm::inbound::{ChatApiEvent, MetaDatum, UserInput};
use natter_protocol::{ContentItem, Message, Role, ThreadStatus};
use serde_json::{json, Map, Value};

use super::{authorized_bot, bad};
use crate::http::body::Limited;
use crate::http::error::ApiError;
use crate::http::AppState;
use crate::lifecycle::{ClosedBy, CRM_SUB_PREFIX};
use crate::outbox::CRM_THREAD_PREFIX;
use crate::runs::RunInput;
use crate::store::{NewThread, SendOutcome, Thread};
use crate::{ids, time::now_rfc3339};

pub(super) async fn converse_chat(
    State(st): State<Arc<AppState>>,
    headers: HeaderMap,
    Limited(body): Limited,
) -> Result<Response, ApiError> {
    let (bot, _crm) = authorized_bot(&st, &headers)?;
    let limit = st.config.limits.max_body_bytes;
    let chat = natter_crm::parse_converse_chat(&body).map_err(|e| bad(e, limit))?;
    let pcid = chat.platform_conversation_id;
    let existing = match st.store.crm_thread(&bot.slug, &pcid).await? {
        Some(id) => st.store.thread(&id).await?,
        None => None,
    };
    let thread = match (chat.event, existing) {
        (ChatApiEvent::StartSession { metadata }, None) => {
            start(&st, &bot.slug, &pcid, metadata).await?
        }
        (ChatApiEvent::StartSession { metadata }, Some(t)) => {
            save_metadata(&st, &t, metadata).await?;
            t
        }
        (_, None) => return Err(ApiError::thread_not_found()),
        (ChatApiEvent::Message { input, metadata }, Some(t)) => {
            if t.status == ThreadStatus::Closed {
                return Err(ApiError::ThreadClosed);
            }
            save_metadata(&st, &t, metadata).await?;
            let text = match input {
                UserInput::Text(s) => s,
                UserInput::CardIndex(i) => card_text(&st, &t.id, i).await?,
            };
            visitor_message(&st, &t, text).await?;
            t
        }
        (ChatApiEvent::EndSession, Some(t)) => {
            st.lifecycle
                .close(
                    &t.id,
                    ClosedBy::Visitor,
                    Some("the CRM ended the session".into()),
                )
                .await?;
            t
        }
        (ChatApiEvent::Metadata { metadata }, Some(t)) => {
            save_metadata(&st, &t, metadata).await?;
            t
        }
    };
    Ok((
        StatusCode::OK,
        axum::Json(json!({ "platformConversationId": pcid, "conversationId": thread.id })),
    )
        .into_response())
}

async fn start(
    st: &AppState,
    bot: &str,
    pcid: &str,
    metadata: Vec<MetaDatum>,
) -> Result<Thread, ApiError> {
    let new = NewThread {
        id: format!("{CRM_THREAD_PREFIX}{}", uuid::Uuid::new_v4().simple()),
        public_id: ids::public_id(),
        bot: bot.into(),
        sub: Some(format!("{CRM_SUB_PREFIX}{pcid}")),
        subject: None,
        metadata: plain(metadata),
        channel: "crm".into(),
        browser_session: None,
    };
    let agent = st
        .agents
        .get(bot)
        .ok_or_else(|| ApiError::Internal(format!("no agent for bot {bot}")))?;
    let probe = new.clone().created(now_rfc3339());
    let greeting = agent.greeting(&probe).map(|(content, options)| Message {
        id: ids::message(),
        role: Role::Assistant,
        content,
        message_options: options,
        created_at: now_rfc3339(),
        run_id: None,
        client_message_id: None,
    });
    let t = st.store.create_crm_thread(new, pcid, greeting).await?;
    tracing::info!(thread = %t.id, bot, "CRM session started");
    Ok(t)
}

/// Values the CRM did not mark `sanitize`.
fn plain(metadata: Vec<MetaDatum>) -> Map<String, Value> {
    metadata
        .into_iter()
        .filter(|m| !m.value.is_sanitized())
        .map(|m| (m.key, Value::String(m.value.expose().clone())))
        .collect()
}

async fn save_metadata(
    st: &AppState,
    t: &Thread,
    metadata: Vec<MetaDatum>,
) -> Result<(), ApiError> {
    for (k, v) in plain(metadata) {
        st.store.set_metadata(&t.id, &k, Some(v)).await?;
    }
    Ok(())
}

/// The visitor picked card `i` of the last carousel: its first button's value, else its title.
async fn card_text(st: &AppState, thread_id: &str, i: u32) -> Result<String, ApiError> {
    let (messages, _) = st.store.history(thread_id).await?;
    let cards = messages
        .iter()
        .rev()
        .find_map(|m| m.content.iter().find_map(|c| c.cards.clone()));
    let card = cards.and_then(|cs| cs.into_iter().nth(i as usize));
    match card {
        Some(c) => Ok(c
            .buttons
            .first()
            .map(|b| b.value.clone())
            .unwrap_or(c.title)),
        None => Err(ApiError::bad(
            "invalid_request",
            format!("cardIndex: {i} is not a card of the last carousel"),
        )),
    }
}

async fn visitor_message(st: &AppState, t: &Thread, text: String) -> Result<(), ApiError> {
    let message = Message {
        id: ids::message(),
        role: Role::User,
        content: vec![ContentItem::text("c0", text.clone())],
        message_options: Default::default(),
        created_at: now_rfc3339(),
        run_id: None,
        // The Chat API has no message id: each request is one message.
        client_message_id: Some(uuid::Uuid::new_v4().to_string()),
    };
    if let SendOutcome::Created {
        run_id: Some(run_id),
        ..
    } = st
        .store
        .send_user_message(&t.id, message, None, ids::run())
        .await?
    {
        let agent = st
            .agents
            .get(&t.bot)
            .ok_or_else(|| ApiError::Internal(format!("no agent for bot {}", t.bot)))?;
        st.runs.spawn(
            agent.clone(),
            RunInput {
                thread_id: t.id.clone(),
                run_id,
                text,
                context: None,
            },
        );
    }
    Ok(())
}
