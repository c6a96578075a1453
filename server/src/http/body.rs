//! JSON request bodies with protocol errors: 415 without a JSON content type, 413 over the
//! size limit, 400 `invalid_json` for malformed JSON, 400 `invalid_request` for the wrong
//! shape (missing or unknown fields, wrong types). An empty body (nothing or JSON whitespace) is
//! `T::default()` for the endpoints whose body is optional ([`OptionalJson`]). [`Limited`] is the raw bytes under the
//! same limit, for routes that parse the body themselves (the CRM's inbound API).
//!
//! Over the limit, the rest of the body is read and dropped (up to [`DRAIN_MAX`]) before the
//! 413 goes out: closing a socket with unread data makes the kernel send a reset, and a client
//! still uploading would lose the answer. Bodies declared larger than that are refused at once.

use axum::body::Body;
use axum::extract::{FromRequest, Request};
use axum::http::header::{CONTENT_LENGTH, CONTENT_TYPE};
use bytes::{Bytes, BytesMut};
use futures_util::StreamExt;
use natter_protocol::error_code as code;
use serde::de::DeserializeOwned;

use super::error::ApiError;
use super::AppState;

pub struct Json<T>(pub T);
pub struct OptionalJson<T>(pub T);
/// The body's bytes, at most the configured limit (any content type).
pub struct Limited(pub Bytes);

/// The most read and dropped from an oversized body so its 413 reaches the client.
pub const DRAIN_MAX: usize = 16 * 1024 * 1024;

/// Why a body could not be read.
#[derive(Debug, PartialEq, Eq)]
pub enum ReadError {
    TooLarge,
    /// The client went away or sent a broken body.
    Broken,
}

/// Reads at most `limit` bytes; over it, drains up to [`DRAIN_MAX`] and says `TooLarge`.
pub async fn read_limited(
    headers: &axum::http::HeaderMap,
    body: Body,
    limit: usize,
) -> Result<Bytes, ReadError> {
    let declared = headers
        .get(CONTENT_LENGTH)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.parse::<u64>().ok());
    if declared.is_some_and(|n| n > DRAIN_MAX as u64) {
        return Err(ReadError::TooLarge);
    }
    let mut stream = body.into_data_stream();
    let mut buf = BytesMut::new();
    let mut seen = 0usize;
    while let Some(chunk) = stream.next().await {
        let chunk = chunk.map_err(|_| ReadError::Broken)?;
        seen += chunk.len();
        if seen > DRAIN_MAX {
            return Err(ReadError::TooLarge);
        }
        if seen <= limit {
            buf.extend_from_slice(&chunk);
        }
    }
    if seen > limit {
        return Err(ReadError::TooLarge);
    }
    Ok(buf.freeze())
}

/// The body under the configured limit, with the API's errors.
async fn bytes(
    req: Request<Body>,
    state: &AppState,
) -> Result<(axum::http::request::Parts, Bytes), ApiError> {
    let limit = state.config.limits.max_body_bytes;
    let (parts, body) = req.into_parts();
    match read_limited(&parts.headers, body, limit).await {
        Ok(b) => Ok((parts, b)),
        Err(ReadError::TooLarge) => Err(ApiError::PayloadTooLarge(limit)),
        Err(ReadError::Broken) => Err(ApiError::bad(
            code::INVALID_REQUEST,
            "the request body could not be read",
        )),
    }
}

async fn read(req: Request<Body>, state: &AppState) -> Result<Bytes, ApiError> {
    let (parts, bytes) = bytes(req, state).await?;
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

/// Whether a JSON document holds a NUL character in a string or a key. JSON can only carry one
/// escaped (`\u0000`), so the full walk runs only when that escape is in the bytes.
fn has_nul(bytes: &[u8]) -> bool {
    fn walk(v: &serde_json::Value) -> bool {
        match v {
            serde_json::Value::String(s) => s.contains('\0'),
            serde_json::Value::Array(a) => a.iter().any(walk),
            serde_json::Value::Object(o) => o.iter().any(|(k, v)| k.contains('\0') || walk(v)),
            _ => false,
        }
    }
    bytes
        .windows(6)
        .any(|w| w[..2] == *b"\\u" && w[2..].iter().all(|b| *b == b'0'))
        && serde_json::from_slice::<serde_json::Value>(bytes).is_ok_and(|v| walk(&v))
}

/// Parses a request body. Text with a NUL character is refused here, once for every route:
/// no message, name or value needs one, and PostgreSQL cannot store it.
fn parse<T: DeserializeOwned>(bytes: &[u8]) -> Result<T, ApiError> {
    if has_nul(bytes) {
        return Err(ApiError::bad(
            code::INVALID_REQUEST,
            "text must not contain the NUL character (\\u0000)",
        ));
    }
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
        // JSON's own whitespace only (not form feed, which `is_ascii_whitespace` includes).
        if bytes
            .iter()
            .all(|b| matches!(b, b' ' | b'\t' | b'\n' | b'\r'))
        {
            return Ok(OptionalJson(T::default()));
        }
        parse(&bytes).map(OptionalJson)
    }
}

impl FromRequest<std::sync::Arc<AppState>> for Limited {
    type Rejection = ApiError;
    async fn from_request(
        req: Request<Body>,
        state: &std::sync::Arc<AppState>,
    ) -> Result<Self, ApiError> {
        bytes(req, state).await.map(|(_, b)| Limited(b))
    }
}

#[cfg(test)]
mod tests {
    use super::has_nul;

    #[test]
    fn nul_is_found_in_strings_and_keys_only() {
        assert!(has_nul(br#"{"content": "a\u0000b"}"#));
        assert!(has_nul(br#"{"a\u0000": 1}"#));
        assert!(has_nul(br#"[["\u0000"]]"#));
        assert!(
            !has_nul(br#"{"content": "a\\u0000b"}"#),
            "an escaped backslash, then text"
        );
        assert!(!has_nul(br#"{"content": "plain"}"#));
    }
}
