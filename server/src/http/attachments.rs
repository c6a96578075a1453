//! Files of a thread over HTTP: `POST /v1/threads/{id}/attachments` (upload) and
//! `GET /v1/threads/{id}/attachments/{attachmentId}` (download; `HEAD` answers the same
//! headers without the body, as axum does for every `GET` route), and the CRM's agent upload
//! `POST /agent/converse/attachments` (the bot's CRM API key; the thread is the query's
//! `platformConversationId`).
//!
//! An upload is the raw file as the request body (any `Content-Type`, ignored), with
//! `?name=<file name>&clientId=<id>` (the same authorization as sending a message). It is
//! streamed into the blob backend ([`crate::attachments::upload`]). A refused upload's body is
//! read and dropped (up to [`DRAIN_MAX`]) before the answer, so a browser still sending gets it.
//! The answer's `url` is signed for the visitor ([`items::visitor_url`]), like the URLs of
//! history and the event stream, so a page can show the image with `<img src>`.
//!
//! A download is allowed to the thread's visitor (its token, or the thread id for anonymous
//! bots), to the admin token and console sessions, to the bot's CRM API key, and to anyone
//! holding a signed URL ([`crate::attachments::sign`]); everyone else gets 404, as for a file
//! that does not exist. Responses never let the browser run or render what it gets:
//! `X-Content-Type-Options: nosniff`, a sandboxing CSP, and `Content-Disposition: attachment`
//! for everything but raster images. The body streams chunk by chunk.

use std::sync::Arc;

use axum::body::Body;
use axum::extract::{Path, RawQuery, State};
use axum::http::{header, HeaderMap, HeaderValue, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use axum::Router;
use futures_util::StreamExt;
use natter_protocol::{error_code as code, UploadResponse};

use super::body::DRAIN_MAX;
use super::error::ApiError;
use super::AppState;
use crate::attachments::upload::{Stored, Upload};
use crate::attachments::{items, sign, sniff, AttachError};

/// The CSP of every download: nothing may load or run, and a document opened directly is
/// sandboxed (no script, no same origin).
pub const DOWNLOAD_CSP: &str =
    "default-src 'none'; img-src 'self'; style-src 'unsafe-inline'; sandbox";

/// The `/v1` routes.
pub fn router() -> Router<Arc<AppState>> {
    Router::new()
        .route("/threads/{id}/attachments", post(upload))
        .route("/threads/{id}/attachments/{att}", get(download))
}

/// The CRM side: an agent's upload (beside `/agent/converse/send-message-to-widget`; mounted by
/// [`super::crm::router`], under the same per-IP limit as the rest of the CRM's routes).
pub fn agent_router() -> Router<Arc<AppState>> {
    Router::new().route("/agent/converse/attachments", post(agent_upload))
}

impl From<AttachError> for ApiError {
    fn from(e: AttachError) -> Self {
        match e {
            AttachError::Disabled => ApiError::Forbidden {
                code: code::ATTACHMENTS_DISABLED,
                message: e.to_string(),
            },
            AttachError::TooLarge { .. } => ApiError::TooLarge {
                code: code::PAYLOAD_TOO_LARGE,
                message: e.to_string(),
            },
            // its own code: the widget must not say "too large" of a small file
            AttachError::QuotaExceeded { .. } => ApiError::TooLarge {
                code: code::CONVERSATION_QUOTA_EXCEEDED,
                message: e.to_string(),
            },
            AttachError::BadName(_) => ApiError::bad(code::INVALID_ATTACHMENT_NAME, e.to_string()),
            AttachError::Type { .. } => ApiError::UnsupportedFile(e.to_string()),
            AttachError::Unknown(_) => ApiError::NotFound {
                code: code::ATTACHMENT_NOT_FOUND,
                message: e.to_string(),
            },
            AttachError::Store(s) => s.into(),
            AttachError::BadClientId
            | AttachError::Empty
            | AttachError::Cut
            | AttachError::TooMany => ApiError::bad(code::INVALID_REQUEST, e.to_string()),
        }
    }
}

fn query_pairs(q: Option<&str>) -> Vec<(String, String)> {
    url::form_urlencoded::parse(q.unwrap_or("").as_bytes())
        .map(|(k, v)| (k.into_owned(), v.into_owned()))
        .collect()
}

fn param<'a>(pairs: &'a [(String, String)], key: &str) -> Option<&'a str> {
    pairs
        .iter()
        .find(|(k, _)| k == key)
        .map(|(_, v)| v.as_str())
}

/// Reads and drops the rest of a refused body (bounded), so the answer reaches the client.
async fn drain<S, E>(body: &mut S)
where
    S: futures_util::Stream<Item = Result<bytes::Bytes, E>> + Unpin,
{
    let mut seen = 0usize;
    while let Some(Ok(piece)) = body.next().await {
        seen += piece.len();
        if seen > DRAIN_MAX {
            break;
        }
    }
}

async fn upload(
    State(st): State<Arc<AppState>>,
    Path(id): Path<String>,
    RawQuery(q): RawQuery,
    headers: HeaderMap,
    body: Body,
) -> Result<Response, ApiError> {
    let mut stream = body.into_data_stream();
    let result = async {
        let bot = st.authorized_thread(&id, &headers).await?;
        let pairs = query_pairs(q.as_deref());
        receive(
            &st,
            &bot,
            &id,
            &pairs,
            &["name", "clientId"],
            &headers,
            &mut stream,
        )
        .await
    }
    .await;
    answer(result, &id, &headers, &mut stream).await
}

/// `POST /agent/converse/attachments?platformConversationId=…&name=…&clientId=…`: an agent's
/// upload through the CRM's API key (then named in `send-message-to-widget`'s `attachments`).
async fn agent_upload(
    State(st): State<Arc<AppState>>,
    RawQuery(q): RawQuery,
    headers: HeaderMap,
    body: Body,
) -> Result<Response, ApiError> {
    let mut stream = body.into_data_stream();
    let pairs = query_pairs(q.as_deref());
    let id = param(&pairs, "platformConversationId")
        .unwrap_or_default()
        .to_string();
    let result = async {
        let (bot, _) = super::crm::authorized_bot(&st, &headers)?;
        let owner = st.owner(&id).await?;
        if owner.bot != bot.slug {
            return Err(ApiError::thread_not_found());
        }
        let keys = ["platformConversationId", "name", "clientId"];
        receive(&st, &bot, &id, &pairs, &keys, &headers, &mut stream).await
    }
    .await;
    answer(result, &id, &headers, &mut stream).await
}

/// Checks the query (only `allowed` keys; `name` and `clientId` required) and stores the body.
async fn receive<S, E>(
    st: &AppState,
    bot: &crate::bots::Bot,
    thread_id: &str,
    pairs: &[(String, String)],
    allowed: &[&str],
    headers: &HeaderMap,
    stream: &mut S,
) -> Result<Stored, ApiError>
where
    S: futures_util::Stream<Item = Result<bytes::Bytes, E>> + Unpin,
{
    if let Some((k, _)) = pairs.iter().find(|(k, _)| !allowed.contains(&k.as_str())) {
        return Err(ApiError::bad(
            code::INVALID_REQUEST,
            format!(
                "unknown query parameter `{k}` (expected {})",
                allowed.join(", ")
            ),
        ));
    }
    let (Some(name), Some(client_id)) = (param(pairs, "name"), param(pairs, "clientId")) else {
        return Err(ApiError::bad(
            code::INVALID_REQUEST,
            "the query must give the file's name and a clientId",
        ));
    };
    let stored = Upload {
        store: &st.store,
        blobs: &st.blobs,
        limits: &bot.attachments,
        thread_id,
        client_id,
        name,
    }
    .run(declared_length(headers), stream)
    .await?;
    Ok(stored)
}

fn declared_length(headers: &HeaderMap) -> Option<u64> {
    headers
        .get(header::CONTENT_LENGTH)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.parse::<u64>().ok())
}

/// 201 (stored now) or 200 (stored before) with the file, or the error; the rest of the body
/// is read first, unless it was declared too large to bother.
async fn answer<S, E>(
    result: Result<Stored, ApiError>,
    thread_id: &str,
    headers: &HeaderMap,
    stream: &mut S,
) -> Result<Response, ApiError>
where
    S: futures_util::Stream<Item = Result<bytes::Bytes, E>> + Unpin,
{
    if declared_length(headers).is_none_or(|n| n <= DRAIN_MAX as u64) {
        drain(stream).await;
    }
    let (status, a) = match result? {
        Stored::New(a) => {
            tracing::info!(thread = %thread_id, attachment = %a.id, mime = %a.mime, size = a.size, "attachment stored");
            (StatusCode::CREATED, a)
        }
        Stored::Existing(a) => (StatusCode::OK, a),
    };
    let body = UploadResponse {
        attachment: items::visitor_file_ref(&a),
    };
    Ok((status, axum::Json(body)).into_response())
}

/// Who may read a thread's files without being its visitor.
async fn privileged(
    st: &AppState,
    thread_bot: &str,
    id: &str,
    att: &str,
    q: &[(String, String)],
    headers: &HeaderMap,
) -> bool {
    if let (Some(exp), Some(sig)) = (param(q, "exp"), param(q, "sig")) {
        return exp
            .parse::<u64>()
            .is_ok_and(|exp| sign::verify(id, att, exp, sig));
    }
    let bearer = headers
        .get(header::AUTHORIZATION)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.strip_prefix("Bearer "))
        .map(str::trim);
    if let (Some(given), Some(token)) = (bearer, st.config.admin_token.as_ref()) {
        if !token.0.is_empty()
            && crate::console::session::same(given.as_bytes(), token.0.as_bytes())
        {
            return true;
        }
    }
    if crate::console::signed_in(st, headers).await.is_some() {
        return true;
    }
    super::crm::authorized_bot(st, headers).is_ok_and(|(bot, _)| bot.slug == thread_bot)
}

async fn download(
    State(st): State<Arc<AppState>>,
    Path((id, att)): Path<(String, String)>,
    RawQuery(q): RawQuery,
    headers: HeaderMap,
) -> Result<Response, ApiError> {
    let pairs = query_pairs(q.as_deref());
    let owner = st.owner(&id).await?;
    if !privileged(&st, &owner.bot, &id, &att, &pairs, &headers).await {
        st.authorized_thread(&id, &headers).await?;
    }
    let not_found = || ApiError::NotFound {
        code: code::ATTACHMENT_NOT_FOUND,
        message: "no such attachment".into(),
    };
    let a = st
        .store
        .attachments(&id, std::slice::from_ref(&att))
        .await?
        .pop()
        .ok_or_else(not_found)?;
    let blobs = st.blobs.clone();
    let key = a.id.clone();
    let chunks = futures_util::stream::unfold(Some(0u32), move |n| {
        let (blobs, key) = (blobs.clone(), key.clone());
        async move {
            let n = n?;
            match blobs.get(&key, n).await {
                Ok(Some(b)) => Some((Ok::<_, std::io::Error>(b), Some(n + 1))),
                Ok(None) => None,
                Err(e) => Some((Err(std::io::Error::other(e.to_string())), None)),
            }
        }
    });
    let mut resp = Response::new(Body::from_stream(chunks));
    let h = resp.headers_mut();
    let mime =
        HeaderValue::from_str(&a.mime).unwrap_or_else(|_| HeaderValue::from_static(sniff::UNKNOWN));
    h.insert(header::CONTENT_TYPE, mime);
    h.insert(header::CONTENT_LENGTH, HeaderValue::from(a.size));
    h.insert(
        header::X_CONTENT_TYPE_OPTIONS,
        HeaderValue::from_static("nosniff"),
    );
    h.insert(
        header::CONTENT_SECURITY_POLICY,
        HeaderValue::from_static(DOWNLOAD_CSP),
    );
    h.insert(
        header::CACHE_CONTROL,
        HeaderValue::from_static("private, max-age=300"),
    );
    h.insert(
        header::CONTENT_DISPOSITION,
        disposition(&a.name, sniff::is_raster_image(&a.mime)),
    );
    Ok(resp)
}

/// `inline` only for raster images; the name as ASCII (others replaced by `_`) and as UTF-8.
fn disposition(name: &str, inline: bool) -> HeaderValue {
    let ascii: String = name
        .chars()
        .map(|c| {
            if c.is_ascii_graphic() && c != '"' && c != '\\' || c == ' ' {
                c
            } else {
                '_'
            }
        })
        .collect();
    let encoded: String = url::form_urlencoded::byte_serialize(name.as_bytes())
        .collect::<String>()
        .replace('+', "%20");
    let kind = if inline { "inline" } else { "attachment" };
    HeaderValue::from_str(&format!(
        "{kind}; filename=\"{ascii}\"; filename*=UTF-8''{encoded}"
    ))
    .unwrap_or_else(|_| HeaderValue::from_static("attachment"))
}
