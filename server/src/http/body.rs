//! JSON request bodies with protocol errors: 415 without a JSON content type, 413 over the
//! size limit, 400 `invalid_json` for malformed JSON, 400 `invalid_request` for the wrong
//! shape (missing or unknown fields, wrong types). An empty body is `T::default()` for the
//! endpoints whose body is optional ([`OptionalJson`]).

use axum::body::Body;
use axum::extract::{FromRequest, Request};
use axum::http::header::CONTENT_TYPE;
use natter_protocol::error_code as code;
use serde::de::DeserializeOwned;

use super::error::ApiError;
use super::AppState;

pub struct Json<T>(pub T);
pub struct OptionalJson<T>(pub T);

async fn read(req: Request<Body>, state: &AppState) -> Result<bytes::Bytes, ApiError> {
    let limit = state.config.limits.max_body_bytes;
    let (parts, body) = req.into_parts();
    let bytes = axum::body::to_bytes(body, limit)
        .await
        .map_err(|_| ApiError::PayloadTooLarge(limit))?;
    if !bytes.is_empty() {
        let ct = parts
            .headers
            .get(CONTENT_TYPE)
            .and_then(|v| v.to_str().ok())
            .unwrap_or("");
        let mime = ct
            .split(';')
            .next()
            .unwrap_or("")
            .trim()
            .to_ascii_lowercase();
        if mime != "application/json" {
            return Err(ApiError::UnsupportedMediaType);
        }
    }
    Ok(bytes)
}

fn parse<T: DeserializeOwned>(bytes: &[u8]) -> Result<T, ApiError> {
    serde_json::from_slice(bytes).map_err(|e| {
        use serde_json::error::Category;
        match e.classify() {
            Category::Data => ApiError::bad(code::INVALID_REQUEST, e.to_string()),
            _ => ApiError::bad(code::INVALID_JSON, format!("malformed JSON: {e}")),
        }
    })
}

impl<T: DeserializeOwned> FromRequest<std::sync::Arc<AppState>> for Json<T> {
    type Rejection = ApiError;
    async fn from_request(
        req: Request<Body>,
        state: &std::sync::Arc<AppState>,
    ) -> Result<Self, ApiError> {
        let bytes = read(req, state).await?;
        if bytes.is_empty() {
            return Err(ApiError::bad(code::INVALID_JSON, "a JSON body is required"));
        }
        parse(&bytes).map(Json)
    }
}

impl<T: DeserializeOwned + Default> FromRequest<std::sync::Arc<AppState>> for OptionalJson<T> {
    type Rejection = ApiError;
    async fn from_request(
        req: Request<Body>,
        state: &std::sync::Arc<AppState>,
    ) -> Result<Self, ApiError> {
        let bytes = read(req, state).await?;
        if bytes.iter().all(|b| b.is_ascii_whitespace()) {
            return Ok(OptionalJson(T::default()));
        }
        parse(&bytes).map(OptionalJson)
    }
}
