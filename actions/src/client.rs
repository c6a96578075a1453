//! Calling API actions: one [`ActionClient`] per bot (a pooled reqwest client bound to the
//! bot's [`NetPolicy`]), so calls reuse connections.
//!
//! Invariants:
//! - every connection goes to an address the policy allows: names through the filtering
//!   resolver (`resolve.rs`), literal-IP hosts checked here before each request, proxies off;
//! - redirects are followed by hand, at most `max_redirects` hops, each hop's URL checked
//!   like the first (scheme, metadata names, literal IPs; names again by the resolver). A 303,
//!   and a 301/302 answering a POST, continue as GET without a body (as browsers do); 307/308
//!   keep method and body. The definition's headers are dropped when a hop leaves the origin,
//!   so an API key is never sent to another host;
//! - the whole call (connect, redirects, body) ends within the action's timeout;
//! - response bodies are read up to a cap and never held beyond it.

use std::sync::Arc;
use std::time::Duration;

use reqwest::header::{HeaderName, HeaderValue, ACCEPT, CONTENT_TYPE, LOCATION};
use serde_json::{json, Map, Value};

use crate::def::{Action, ActionKind, ApiAction};
use crate::policy::{NetPolicy, PolicyError};
use crate::request::{PrepareError, Prepared};
use crate::resolve::{Lookup, SystemLookup};
use crate::schema::ArgsError;

/// Settings of a bot's client.
#[derive(Debug, Clone)]
pub struct ClientConfig {
    pub policy: NetPolicy,
    /// Largest 2xx body accepted; a larger one is an error.
    pub max_response_bytes: usize,
    /// Largest request (URL + header values + body) an action may send; arguments come from
    /// a model or a visitor, so their size is bounded here too.
    pub max_request_bytes: usize,
    /// How much of a non-2xx body is kept for the error (the rest is cut off).
    pub max_error_body_bytes: usize,
    pub max_redirects: usize,
    pub connect_timeout: Duration,
    pub user_agent: String,
}

impl Default for ClientConfig {
    fn default() -> Self {
        ClientConfig {
            policy: NetPolicy::public_only(),
            max_response_bytes: 1024 * 1024,
            max_request_bytes: 256 * 1024,
            max_error_body_bytes: 16 * 1024,
            max_redirects: 3,
            connect_timeout: Duration::from_secs(5),
            user_agent: concat!("natter-actions/", env!("CARGO_PKG_VERSION")).to_string(),
        }
    }
}

impl ClientConfig {
    pub fn with_policy(policy: NetPolicy) -> ClientConfig {
        ClientConfig {
            policy,
            ..ClientConfig::default()
        }
    }
}

/// A failed call. `Display` is for logs; [`CallError::bot_value`] is what the bot sees.
#[derive(Debug, thiserror::Error)]
pub enum CallError {
    #[error("invalid arguments: {0}")]
    Args(#[from] ArgsError),
    #[error("{0}")]
    Prepare(#[from] PrepareError),
    #[error("action is a {0} action; only API actions are called here")]
    NotApi(&'static str),
    #[error("refused by the bot's network policy: {0}")]
    Policy(PolicyError),
    #[error("no answer within {} ms", .0.as_millis())]
    Timeout(Duration),
    #[error("the API answered HTTP {status}")]
    Status { status: u16, body: Value },
    #[error("the request would be larger than {limit} bytes")]
    RequestTooLarge { limit: usize },
    #[error("the API's answer is larger than {limit} bytes")]
    TooLarge { limit: usize },
    #[error("more than {0} redirects")]
    TooManyRedirects(usize),
    #[error("bad redirect: {0}")]
    BadRedirect(String),
    #[error("could not reach the API: {0}")]
    Transport(String),
    #[error("could not build the HTTP client: {0}")]
    Client(String),
}

impl CallError {
    /// The HTTP status, for non-2xx answers.
    pub fn status(&self) -> Option<u16> {
        match self {
            CallError::Status { status, .. } => Some(*status),
            _ => None,
        }
    }

    /// What the bot gets: `{"error": message}`, plus `status` and the (capped) `body` for a
    /// non-2xx answer and `timeout: true` for a timeout. Policy refusals say only that the
    /// address is not allowed — the bot (and so the visitor) learns nothing about the network.
    pub fn bot_value(&self) -> Value {
        match self {
            CallError::Status { status, body } => {
                let reason = reqwest::StatusCode::from_u16(*status)
                    .ok()
                    .and_then(|s| s.canonical_reason())
                    .map(|r| format!(" {r}"))
                    .unwrap_or_default();
                json!({"error": format!("The API answered HTTP {status}{reason}"), "status": status, "body": body})
            }
            CallError::Timeout(d) => {
                json!({"error": format!("The API did not answer within {} ms", d.as_millis()), "timeout": true})
            }
            CallError::Policy(_) => {
                json!({"error": "The action's address is not allowed by this bot's network policy"})
            }
            CallError::Transport(_) | CallError::Client(_) => {
                json!({"error": "Could not reach the API"})
            }
            // Names of the server's secrets are for the log, not the visitor.
            CallError::Prepare(PrepareError::MissingEnv(..) | PrepareError::BadEnv(_)) => {
                json!({"error": "The action is not configured correctly"})
            }
            other => json!({"error": other.to_string()}),
        }
    }
}

/// A 2xx answer.
#[derive(Debug, Clone)]
pub struct ApiSuccess {
    pub status: u16,
    /// JSON when the body is JSON, else the text; `null` when empty.
    pub body: Value,
    /// The URL that answered (after redirects). May hold query values: log with care.
    pub final_url: url::Url,
    pub redirects: usize,
}

/// What the bot sees for a call's outcome: the body on success, `{"error": …}` otherwise.
pub fn bot_value(result: &Result<ApiSuccess, CallError>) -> Value {
    match result {
        Ok(s) => s.body.clone(),
        Err(e) => e.bot_value(),
    }
}

/// A bot's HTTP client for API actions. Cheap to clone (shares the pool).
#[derive(Clone)]
pub struct ActionClient {
    http: reqwest::Client,
    config: Arc<ClientConfig>,
}

impl std::fmt::Debug for ActionClient {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("ActionClient")
            .field("config", &self.config)
            .finish_non_exhaustive()
    }
}

impl ActionClient {
    /// A client using the system resolver.
    pub fn new(config: ClientConfig) -> Result<ActionClient, CallError> {
        ActionClient::with_lookup(config, Arc::new(SystemLookup))
    }

    /// A client whose names are looked up by `lookup` (answers still filtered by the policy).
    pub fn with_lookup(
        config: ClientConfig,
        lookup: Arc<dyn Lookup>,
    ) -> Result<ActionClient, CallError> {
        let policy = Arc::new(config.policy.clone());
        let http = crate::guard::guarded_builder(policy, lookup)
            .redirect(reqwest::redirect::Policy::none())
            // Pinned so behaviour doesn't depend on which reqwest features the workspace enables.
            .http1_only()
            .connect_timeout(config.connect_timeout)
            .pool_idle_timeout(Duration::from_secs(60))
            .tcp_nodelay(true)
            .user_agent(config.user_agent.clone())
            .build()
            .map_err(|e| CallError::Client(e.to_string()))?;
        Ok(ActionClient {
            http,
            config: Arc::new(config),
        })
    }

    pub fn config(&self) -> &ClientConfig {
        &self.config
    }

    /// The underlying pooled client, **without** the literal-IP check or redirect handling of
    /// [`ActionClient::call`]. For benchmarks comparing against a direct call; never for
    /// actions.
    #[doc(hidden)]
    pub fn http_client_unchecked(&self) -> &reqwest::Client {
        &self.http
    }

    /// Validates `args` against the action's schema and calls it (API actions only).
    pub async fn call_action(
        &self,
        action: &Action,
        args: &Value,
    ) -> Result<ApiSuccess, CallError> {
        let args = action.validate_args(args)?;
        match &action.kind {
            ActionKind::Api(api) => self.call(api, args).await,
            other => Err(CallError::NotApi(other.as_str())),
        }
    }

    /// Calls an API action with `args` (every variable must be present; extra keys are ignored
    /// here — use [`ActionClient::call_action`] to refuse them).
    pub async fn call(
        &self,
        action: &ApiAction,
        args: &Map<String, Value>,
    ) -> Result<ApiSuccess, CallError> {
        let prepared = action.prepare(args)?;
        let size = prepared.url.as_str().len()
            + prepared
                .headers
                .iter()
                .map(|(n, v)| n.len() + v.len())
                .sum::<usize>()
            + prepared.body.as_ref().map_or(0, Vec::len);
        if size > self.config.max_request_bytes {
            return Err(CallError::RequestTooLarge {
                limit: self.config.max_request_bytes,
            });
        }
        match tokio::time::timeout(action.timeout, self.execute(prepared)).await {
            Ok(r) => r,
            Err(_) => Err(CallError::Timeout(action.timeout)),
        }
    }

    async fn execute(&self, prepared: Prepared) -> Result<ApiSuccess, CallError> {
        let Prepared {
            method,
            mut url,
            mut headers,
            mut body,
        } = prepared;
        let mut method = method.to_reqwest();
        let origin = url.origin();
        let mut redirects = 0;
        loop {
            self.config
                .policy
                .check_url(&url)
                .map_err(CallError::Policy)?;
            let mut req = self.http.request(method.clone(), url.clone());
            let mut has_accept = false;
            let mut has_content_type = false;
            for (name, value) in &headers {
                let name = HeaderName::from_bytes(name.as_bytes())
                    .map_err(|e| CallError::Client(e.to_string()))?;
                // Rendering refused control characters; what remains (UTF-8 included) is a
                // valid field value.
                let value = HeaderValue::from_bytes(value.as_bytes()).map_err(|_| {
                    CallError::Client(format!("header `{name}` has an invalid value"))
                })?;
                has_accept |= name == ACCEPT;
                has_content_type |= name == CONTENT_TYPE;
                req = req.header(name, value);
            }
            if !has_accept {
                req = req.header(ACCEPT, "application/json");
            }
            if let Some(b) = &body {
                if !has_content_type {
                    req = req.header(CONTENT_TYPE, "application/json");
                }
                req = req.body(b.clone());
            }
            let resp = req.send().await.map_err(classify)?;
            let status = resp.status();
            if matches!(status.as_u16(), 301 | 302 | 303 | 307 | 308) {
                if redirects == self.config.max_redirects {
                    return Err(CallError::TooManyRedirects(self.config.max_redirects));
                }
                let location = resp
                    .headers()
                    .get(LOCATION)
                    .and_then(|l| l.to_str().ok())
                    .ok_or_else(|| {
                        CallError::BadRedirect(format!("HTTP {status} without a usable Location"))
                    })?;
                let next = url
                    .join(location)
                    .map_err(|e| CallError::BadRedirect(format!("{location}: {e}")))?;
                let to_get = status.as_u16() == 303
                    || (matches!(status.as_u16(), 301 | 302) && method == reqwest::Method::POST);
                if to_get {
                    method = reqwest::Method::GET;
                    body = None;
                }
                if next.origin() != origin {
                    headers.clear();
                }
                url = next;
                redirects += 1;
                continue;
            }
            let content_type = resp
                .headers()
                .get(CONTENT_TYPE)
                .and_then(|v| v.to_str().ok())
                .map(str::to_ascii_lowercase);
            if status.is_success() {
                let limit = self.config.max_response_bytes;
                let (bytes, cut) = read_capped(resp, limit).await?;
                if cut {
                    return Err(CallError::TooLarge { limit });
                }
                return Ok(ApiSuccess {
                    status: status.as_u16(),
                    body: decode(&bytes, content_type.as_deref()),
                    final_url: url,
                    redirects,
                });
            }
            let (bytes, _) = read_capped(resp, self.config.max_error_body_bytes).await?;
            return Err(CallError::Status {
                status: status.as_u16(),
                body: decode(&bytes, content_type.as_deref()),
            });
        }
    }
}

/// Reads at most `limit` bytes; `true` when the body was longer.
async fn read_capped(
    mut resp: reqwest::Response,
    limit: usize,
) -> Result<(Vec<u8>, bool), CallError> {
    if resp.content_length().is_some_and(|n| n > limit as u64) {
        return Ok((Vec::new(), true));
    }
    let mut buf = Vec::new();
    while let Some(chunk) = resp.chunk().await.map_err(classify)? {
        if buf.len() + chunk.len() > limit {
            buf.extend_from_slice(&chunk[..limit - buf.len()]);
            return Ok((buf, true));
        }
        buf.extend_from_slice(&chunk);
    }
    Ok((buf, false))
}

/// JSON when labelled JSON or unlabelled and parseable; otherwise text (lossy UTF-8).
fn decode(bytes: &[u8], content_type: Option<&str>) -> Value {
    if bytes.is_empty() {
        return Value::Null;
    }
    let may_be_json = content_type.is_none_or(|ct| ct.contains("json"));
    if may_be_json {
        if let Ok(v) = serde_json::from_slice(bytes) {
            return v;
        }
    }
    Value::String(String::from_utf8_lossy(bytes).into_owned())
}

/// A policy refusal from the resolver comes back wrapped in reqwest's and hyper's errors;
/// find it so it is reported as a refusal, not as a network failure.
fn classify(e: reqwest::Error) -> CallError {
    if let Some(p) = crate::guard::policy_refusal(&e) {
        return CallError::Policy(p);
    }
    let mut msg = e.to_string();
    let mut source = std::error::Error::source(&e);
    while let Some(s) = source {
        msg.push_str(": ");
        msg.push_str(&s.to_string());
        source = s.source();
    }
    CallError::Transport(msg)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn decoding() {
        assert_eq!(decode(b"", None), Value::Null);
        assert_eq!(
            decode(b"{\"a\":1}", Some("application/json; charset=utf-8")),
            json!({"a": 1})
        );
        assert_eq!(
            decode(b"{\"a\":1}", Some("application/problem+json")),
            json!({"a": 1})
        );
        assert_eq!(decode(b"[1]", None), json!([1]));
        assert_eq!(decode(b"123", Some("text/plain")), json!("123"));
        assert_eq!(
            decode(b"not json", Some("application/json")),
            json!("not json")
        );
        assert_eq!(decode(b"\xff ok", Some("text/plain")), json!("\u{fffd} ok"));
    }

    #[test]
    fn bot_values() {
        let e = CallError::Status {
            status: 404,
            body: json!({"error": "Order not found"}),
        };
        assert_eq!(
            e.bot_value(),
            json!({"error": "The API answered HTTP 404 Not Found", "status": 404, "body": {"error": "Order not found"}})
        );
        assert_eq!(e.status(), Some(404));
        assert_eq!(
            CallError::Timeout(Duration::from_millis(250)).bot_value()["timeout"],
            json!(true)
        );
        let p = CallError::Policy(PolicyError::NoHost).bot_value();
        assert!(p["error"].as_str().unwrap().contains("not allowed"));
    }
}
