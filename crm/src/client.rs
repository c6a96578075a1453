//! The HTTP client every CRM call goes through: one signed POST with a timeout.
//!
//! One `CrmClient` serves every bot (connection pools are per host anyway). Redirects are not
//! followed (a signed body must reach the configured URL, not wherever a 30x points), answers
//! are read up to [`MAX_ANSWER`] bytes, and each attempt gets a fresh `webhook-timestamp` under
//! the caller's stable `webhook-id`. A bot whose [`Crm`] carries an outbound-address policy
//! ([`Crm::guarded`]) is called through its own client bound to that policy, and a URL the
//! policy refuses is never requested.

use std::time::{Duration, SystemTime, UNIX_EPOCH};

use reqwest::header::{HeaderValue, CONTENT_TYPE, RETRY_AFTER, USER_AGENT};
use url::Url;

use crate::config::Crm;
use crate::retry::RetryPolicy;
use crate::sign::{signature_header, SigningSecret, HEADER_ID, HEADER_SIGNATURE, HEADER_TIMESTAMP};

/// The most of a CRM answer read; the rest is dropped (an answer is a few fields).
pub const MAX_ANSWER: usize = 1024 * 1024;
const CONNECT_TIMEOUT: Duration = Duration::from_secs(5);

#[derive(Debug, thiserror::Error)]
pub enum ClientError {
    #[error("building the HTTP client failed: {0}")]
    Build(#[from] reqwest::Error),
}

/// Why a POST did not get an answer.
#[derive(Debug, thiserror::Error)]
pub(crate) enum PostError {
    /// The bot's outbound-address policy refuses the URL (or every address its host has).
    #[error("refused by the outbound-address policy: {0}")]
    Refused(String),
    #[error(transparent)]
    Http(#[from] reqwest::Error),
}

impl PostError {
    pub(crate) fn is_timeout(&self) -> bool {
        matches!(self, PostError::Http(e) if e.is_timeout())
    }

    /// The cause, with a policy refusal found in the connect error's chain named as such.
    pub(crate) fn cause(&self) -> String {
        match self {
            PostError::Refused(c) => format!("refused by the outbound-address policy: {c}"),
            PostError::Http(e) => match policy_refusal(e) {
                Some(p) => format!("refused by the outbound-address policy: {p}"),
                None => crate::classify::error_chain(e),
            },
        }
    }

    /// A refusal is permanent: retrying cannot change the policy.
    pub(crate) fn is_refusal(&self) -> bool {
        match self {
            PostError::Refused(_) => true,
            PostError::Http(e) => policy_refusal(e).is_some(),
        }
    }
}

fn policy_refusal(e: &reqwest::Error) -> Option<String> {
    natter_actions::guard::policy_refusal(e).map(|p| p.to_string())
}

/// The settings every CRM client has, guarded or not.
pub(crate) fn configure(b: reqwest::ClientBuilder) -> reqwest::ClientBuilder {
    b.redirect(reqwest::redirect::Policy::none())
        .connect_timeout(CONNECT_TIMEOUT)
        // Pinned: every CRM speaks HTTP/1.1; ALPN surprises are not worth a webhook.
        .http1_only()
        .pool_idle_timeout(Duration::from_secs(60))
}

#[derive(Debug, Clone)]
pub struct CrmClient {
    pub(crate) http: reqwest::Client,
    pub(crate) retry: RetryPolicy,
}

/// What came back from one POST.
pub(crate) struct Answer {
    pub status: u16,
    pub retry_after: Option<String>,
    pub body: Vec<u8>,
    /// The answer was longer than [`MAX_ANSWER`].
    pub truncated: bool,
}

impl CrmClient {
    pub fn new() -> Result<Self, ClientError> {
        Self::with_policy(RetryPolicy::default())
    }

    pub fn with_policy(retry: RetryPolicy) -> Result<Self, ClientError> {
        let http = configure(reqwest::Client::builder()).build()?;
        Ok(CrmClient { http, retry })
    }

    pub fn retry_policy(&self) -> &RetryPolicy {
        &self.retry
    }

    /// POSTs `body` (JSON) signed with the bot's secrets under `id`, within `timeout` for the
    /// whole exchange, answer included.
    pub(crate) async fn post_signed(
        &self,
        crm: &Crm,
        url: &Url,
        id: &str,
        body: &[u8],
        timeout: Duration,
    ) -> Result<Answer, PostError> {
        let http = match &crm.outbound {
            Some(o) => {
                o.guard
                    .check(url)
                    .map_err(|e| PostError::Refused(e.to_string()))?;
                &o.http
            }
            None => &self.http,
        };
        let secrets: &[SigningSecret] = &crm.secrets;
        let ts = unix_now();
        let sig = signature_header(secrets, id, ts, body);
        let exchange = async {
            let mut resp = http
                .post(url.clone())
                .header(CONTENT_TYPE, HeaderValue::from_static("application/json"))
                .header(
                    USER_AGENT,
                    HeaderValue::from_static(concat!("natter-crm/", env!("CARGO_PKG_VERSION"))),
                )
                .header(HEADER_ID, id)
                .header(HEADER_TIMESTAMP, ts.to_string())
                .header(HEADER_SIGNATURE, sig)
                .body(body.to_vec())
                .timeout(timeout)
                .send()
                .await?;
            let status = resp.status().as_u16();
            let retry_after = resp
                .headers()
                .get(RETRY_AFTER)
                .and_then(|v| v.to_str().ok())
                .map(str::to_string);
            let mut out = Vec::new();
            let mut truncated = false;
            while let Some(chunk) = resp.chunk().await? {
                let room = MAX_ANSWER - out.len();
                if chunk.len() > room {
                    out.extend_from_slice(&chunk[..room]);
                    truncated = true;
                    break;
                }
                out.extend_from_slice(&chunk);
            }
            Ok(Answer {
                status,
                retry_after,
                body: out,
                truncated,
            })
        };
        exchange.await
    }
}

pub(crate) fn unix_now() -> i64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map(|d| d.as_secs() as i64)
        .unwrap_or(0)
}

/// At most `n` chars of an answer for a log line or a refusal reason.
pub(crate) fn snippet(body: &[u8], n: usize) -> String {
    let s = String::from_utf8_lossy(body);
    let s = s.trim();
    if s.chars().count() <= n {
        s.to_string()
    } else {
        let cut: String = s.chars().take(n).collect();
        format!("{cut}…")
    }
}

/// `": text"`, or nothing for an empty answer (so a cause never ends in a dangling colon).
pub(crate) fn colon(text: &str) -> String {
    if text.is_empty() {
        String::new()
    } else {
        format!(": {text}")
    }
}
