//! The API's error type: every failure becomes `status + {"error": {"code", "message"}}`.
//! Internal errors are logged with their cause and answered with a generic message.

use axum::http::{header, HeaderValue, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::Json;
use natter_protocol::{error_code as code, ErrorBody, ErrorDetail};

use crate::auth::AuthError;
use crate::store::StoreError;

#[derive(Debug, thiserror::Error)]
pub enum ApiError {
    #[error("{message}")]
    BadRequest { code: &'static str, message: String },
    #[error("{message}")]
    NotFound { code: &'static str, message: String },
    #[error(transparent)]
    Auth(#[from] AuthError),
    #[error("origin not allowed")]
    OriginNotAllowed,
    #[error("request body larger than {0} bytes")]
    PayloadTooLarge(usize),
    /// 413 with a code and message of its own (a file over a limit).
    #[error("{message}")]
    TooLarge { code: &'static str, message: String },
    /// 415 for an uploaded file whose sniffed type is not accepted.
    #[error("{0}")]
    UnsupportedFile(String),
    #[error("{message}")]
    Forbidden { code: &'static str, message: String },
    #[error("expected Content-Type: application/json")]
    UnsupportedMediaType,
    #[error("too many requests")]
    RateLimited { retry_after_secs: u64 },
    #[error("the thread is closed")]
    ThreadClosed,
    #[error("method not allowed")]
    MethodNotAllowed,
    #[error("the server is shutting down")]
    ShuttingDown,
    #[error("internal: {0}")]
    Internal(String),
}

impl ApiError {
    pub fn bad(code: &'static str, message: impl Into<String>) -> Self {
        ApiError::BadRequest {
            code,
            message: message.into(),
        }
    }
    pub fn thread_not_found() -> Self {
        ApiError::NotFound {
            code: code::THREAD_NOT_FOUND,
            message: "no such thread".into(),
        }
    }
}

impl From<StoreError> for ApiError {
    fn from(e: StoreError) -> Self {
        match e {
            StoreError::ThreadNotFound => ApiError::thread_not_found(),
            StoreError::ThreadClosed => ApiError::ThreadClosed,
            StoreError::MessageNotFound => ApiError::NotFound {
                code: code::MESSAGE_NOT_FOUND,
                message: "no such bot message in this thread".into(),
            },
            StoreError::ShuttingDown => ApiError::ShuttingDown,
            other => ApiError::Internal(other.to_string()),
        }
    }
}

impl IntoResponse for ApiError {
    fn into_response(self) -> Response {
        let (status, c, message) = match &self {
            ApiError::BadRequest { code, message } => {
                (StatusCode::BAD_REQUEST, *code, message.clone())
            }
            ApiError::NotFound { code, message } => (StatusCode::NOT_FOUND, *code, message.clone()),
            ApiError::Auth(AuthError::Missing) => (
                StatusCode::UNAUTHORIZED,
                code::AUTH_REQUIRED,
                self.to_string(),
            ),
            ApiError::Auth(AuthError::Expired) => (
                StatusCode::UNAUTHORIZED,
                code::TOKEN_EXPIRED,
                self.to_string(),
            ),
            ApiError::Auth(AuthError::Invalid(_)) => (
                StatusCode::UNAUTHORIZED,
                code::INVALID_TOKEN,
                self.to_string(),
            ),
            ApiError::OriginNotAllowed => (
                StatusCode::FORBIDDEN,
                code::ORIGIN_NOT_ALLOWED,
                self.to_string(),
            ),
            ApiError::PayloadTooLarge(_) => (
                StatusCode::PAYLOAD_TOO_LARGE,
                code::PAYLOAD_TOO_LARGE,
                self.to_string(),
            ),
            ApiError::TooLarge { code, message } => {
                (StatusCode::PAYLOAD_TOO_LARGE, *code, message.clone())
            }
            ApiError::UnsupportedFile(m) => (
                StatusCode::UNSUPPORTED_MEDIA_TYPE,
                code::UNSUPPORTED_MEDIA_TYPE,
                m.clone(),
            ),
            ApiError::Forbidden { code, message } => {
                (StatusCode::FORBIDDEN, *code, message.clone())
            }
            ApiError::UnsupportedMediaType => (
                StatusCode::UNSUPPORTED_MEDIA_TYPE,
                code::UNSUPPORTED_MEDIA_TYPE,
                self.to_string(),
            ),
            ApiError::RateLimited { .. } => (
                StatusCode::TOO_MANY_REQUESTS,
                code::RATE_LIMITED,
                self.to_string(),
            ),
            ApiError::ThreadClosed => (StatusCode::CONFLICT, code::THREAD_CLOSED, self.to_string()),
            ApiError::MethodNotAllowed => (
                StatusCode::METHOD_NOT_ALLOWED,
                code::METHOD_NOT_ALLOWED,
                self.to_string(),
            ),
            ApiError::ShuttingDown => (
                StatusCode::SERVICE_UNAVAILABLE,
                code::SHUTTING_DOWN,
                self.to_string(),
            ),
            ApiError::Internal(cause) => {
                tracing::error!(%cause, "internal error");
                (
                    StatusCode::INTERNAL_SERVER_ERROR,
                    code::INTERNAL,
                    "internal error".to_string(),
                )
            }
        };
        let body = ErrorBody {
            error: ErrorDetail {
                code: c.to_string(),
                message,
            },
        };
        let mut resp = (status, Json(body)).into_response();
        match &self {
            ApiError::RateLimited { retry_after_secs } => {
                resp.headers_mut()
                    .insert(header::RETRY_AFTER, HeaderValue::from(*retry_after_secs));
            }
            ApiError::Auth(_) => {
                resp.headers_mut()
                    .insert(header::WWW_AUTHENTICATE, HeaderValue::from_static("Bearer"));
            }
            _ => {}
        }
        resp
    }
}
