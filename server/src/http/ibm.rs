//! The server side of IBM web chat compatibility (docs/ibm.md): the two IBM loaders at the
//! paths IBM's embed code builds, the IBM id → bot lookup they start with, and the per-message
//! `user_defined` data a page keeps with `updateHistoryUserDefined`.
//!
//! [`router`] is mounted at the top level (loaders and lookup are public: an IBM id is printed
//! in every page that uses it, and the answer is a bot slug any plain embed shows too);
//! [`api`] sits in `/v1` beside the thread endpoints, behind the same CORS, rate limit and
//! per-thread authorization.

use std::sync::Arc;

use axum::extract::{Path, Query, State};
use axum::http::{header, HeaderMap, HeaderValue, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, get_service, MethodRouter};
use axum::Router;
use natter_protocol::error_code as code;
use serde::{Deserialize, Serialize};
use serde_json::{Map, Value};
use tower::ServiceBuilder;
use tower_http::compression::CompressionLayer;
use tower_http::services::ServeFile;
use tower_http::set_header::SetResponseHeaderLayer;

use super::assets::embedded_file;
use super::body::Json;
use super::error::ApiError;
use super::{AppState, HttpConfig};
use crate::bots::ibm::IbmIdKind;
use crate::embedded;

/// The classic watsonx Assistant loader, built by scripts/build-widget into the widget folder.
pub const CLASSIC_LOADER: &str = "ibm-wa.js";
/// The watsonx Orchestrate loader, likewise.
pub const ORCHESTRATE_LOADER: &str = "ibm-wxo.js";
/// Largest `data` kept per message (its JSON text).
const MAX_DATA_BYTES: usize = 8 * 1024;
const MAX_MESSAGE_ID: usize = 128;
const LOADER_CACHE: &str = "public, max-age=300";

/// Loaders and the id lookup, at the top level.
pub fn router(cfg: &HttpConfig) -> Router<Arc<AppState>> {
    // From the widget folder when one is configured, else from the widget built into natter.
    let loader = |name: &'static str| -> MethodRouter<Arc<AppState>> {
        let compress = CompressionLayer::new().br(true).gzip(true);
        match &cfg.widget_dir {
            Some(dir) => get_service(
                ServiceBuilder::new()
                    .layer(SetResponseHeaderLayer::overriding(
                        header::CACHE_CONTROL,
                        HeaderValue::from_static(LOADER_CACHE),
                    ))
                    .layer(compress)
                    .service(ServeFile::new(dir.join(name))),
            ),
            None => get(move |request: HeaderMap| async move {
                embedded_file(&embedded::WIDGET, name, LOADER_CACHE, &request)
                    .unwrap_or_else(|| StatusCode::NOT_FOUND.into_response())
            })
            .layer(compress),
        }
    };
    Router::new()
        .route("/WatsonAssistantChatEntry.js", loader(CLASSIC_LOADER))
        .route(
            "/versions/{version}/WatsonAssistantChatEntry.js",
            loader(CLASSIC_LOADER),
        )
        .route("/wxochat/wxoLoader.js", loader(ORCHESTRATE_LOADER))
        .route("/wxoLoader.js", loader(ORCHESTRATE_LOADER))
        .route("/ibm/bot", get(bot_for_id))
}

/// The `user_defined` endpoints, inside `/v1`.
pub fn api() -> Router<Arc<AppState>> {
    Router::new().route(
        "/threads/{id}/user_defined",
        get(read_user_defined).post(keep_user_defined),
    )
}

#[derive(Deserialize)]
struct IdQuery {
    #[serde(rename = "integrationID")]
    integration_id: Option<String>,
    #[serde(rename = "agentId")]
    agent_id: Option<String>,
}

#[derive(Serialize)]
struct BotAnswer {
    bot: String,
}

/// `GET /ibm/bot?integrationID=…` or `?agentId=…` → `{bot}`: the bot whose bot.toml lists that
/// id. Readable from any origin (the loaders run on the host page's).
async fn bot_for_id(State(st): State<Arc<AppState>>, Query(q): Query<IdQuery>) -> Response {
    let found = match (q.integration_id, q.agent_id) {
        (Some(id), None) => find(&st, IbmIdKind::Integration, "integrationID", "integration_ids", &id),
        (None, Some(id)) => find(&st, IbmIdKind::Agent, "agentId", "agent_ids", &id),
        _ => Err(ApiError::bad(
            code::INVALID_REQUEST,
            "pass exactly one of ?integrationID=… (watsonx Assistant) or ?agentId=… (watsonx Orchestrate)",
        )),
    };
    let mut resp = match found {
        Ok(bot) => axum::Json(BotAnswer { bot }).into_response(),
        Err(e) => e.into_response(),
    };
    resp.headers_mut().insert(
        header::ACCESS_CONTROL_ALLOW_ORIGIN,
        HeaderValue::from_static("*"),
    );
    resp
}

fn find(
    st: &AppState,
    kind: IbmIdKind,
    param: &str,
    key: &str,
    id: &str,
) -> Result<String, ApiError> {
    st.bots
        .by_ibm_id(kind, id)
        .map(|b| b.slug.clone())
        .ok_or_else(|| ApiError::NotFound {
            code: code::BOT_NOT_FOUND,
            message: format!(
                "no bot lists the IBM {param} `{id}`: add it to a bot's bot.toml under [ibm] {key}"
            ),
        })
}

#[derive(Serialize)]
struct UserDefinedList {
    /// Message id → the data kept for it.
    messages: Map<String, Value>,
}

async fn read_user_defined(
    State(st): State<Arc<AppState>>,
    Path(id): Path<String>,
    headers: HeaderMap,
) -> Result<axum::Json<UserDefinedList>, ApiError> {
    st.authorized_thread(&id, &headers).await?;
    let messages = st.store.messages_user_defined(&id).await?;
    Ok(axum::Json(UserDefinedList { messages }))
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
struct KeepRequest {
    message_id: String,
    data: Value,
}

#[derive(Serialize)]
#[serde(rename_all = "camelCase")]
struct KeepResponse {
    message_id: String,
}

/// `POST /v1/threads/{id}/user_defined` `{messageId, data}`: keeps `data` (an object) with that
/// message of the thread, replacing what was kept.
async fn keep_user_defined(
    State(st): State<Arc<AppState>>,
    Path(id): Path<String>,
    headers: HeaderMap,
    Json(req): Json<KeepRequest>,
) -> Result<axum::Json<KeepResponse>, ApiError> {
    st.authorized_thread(&id, &headers).await?;
    if req.message_id.is_empty() || req.message_id.chars().count() > MAX_MESSAGE_ID {
        return Err(ApiError::bad(
            code::INVALID_REQUEST,
            format!(
                "messageId must be a message id of this thread (1–{MAX_MESSAGE_ID} characters)"
            ),
        ));
    }
    if !req.data.is_object() {
        return Err(ApiError::bad(
            code::INVALID_REQUEST,
            "data must be a JSON object, e.g. {\"selectedIndex\": 1}",
        ));
    }
    if req.data.to_string().len() > MAX_DATA_BYTES {
        return Err(ApiError::bad(
            code::INVALID_REQUEST,
            format!("data larger than {MAX_DATA_BYTES} bytes"),
        ));
    }
    st.store
        .set_message_user_defined(&id, &req.message_id, req.data)
        .await?;
    Ok(axum::Json(KeepResponse {
        message_id: req.message_id,
    }))
}
