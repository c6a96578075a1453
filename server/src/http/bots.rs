//! Public facts about a bot that a client needs before any conversation exists:
//! `GET /v1/bots/{bot}` → `{"attachments": {"maxFileBytes", "types"}}`, or
//! `{"attachments": null}` when the bot takes no files. The widget asks it while its wasm
//! loads, so it fetches its attach module only for bots that accept uploads.
//!
//! Nothing here is secret (the same as thread creation tells any visitor), so the route asks
//! for no token, even of a bot that requires one; CORS is that of the bot's other routes.

use std::sync::Arc;

use axum::extract::{Path, State};
use axum::routing::get;
use axum::Router;
use natter_protocol::AttachmentsInfo;
use serde::Serialize;

use super::error::ApiError;
use super::AppState;

pub fn router() -> Router<Arc<AppState>> {
    Router::new().route("/bots/{bot}", get(info))
}

/// `GET /v1/bots/{bot}`.
#[derive(Debug, Serialize)]
pub struct BotInfo {
    /// What visitors may upload; `null` when the bot takes no files.
    pub attachments: Option<AttachmentsInfo>,
}

async fn info(
    State(st): State<Arc<AppState>>,
    Path(slug): Path<String>,
) -> Result<axum::Json<BotInfo>, ApiError> {
    let bot = st.bot(&slug)?;
    Ok(axum::Json(BotInfo {
        attachments: bot.attachments.info(),
    }))
}
