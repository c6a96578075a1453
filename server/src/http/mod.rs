//! HTTP: the protocol v1 API, operations endpoints and static assets.
//!
//! [`app`] builds the whole router from an [`AppState`]; `main` and the tests share it. Each
//! feature module contributes one router: [`threads`] (JSON endpoints), [`bots`] (public bot
//! facts), [`events`] (SSE),
//! [`ops`] (`/healthz`, `/metrics`), [`assets`] (`/` and `/widget/`). The `/v1` API sits behind
//! [`cors`] (per-bot exact-match origins) and the per-IP rate limit ([`limits`]).

pub mod assets;
pub mod attachments;
pub mod body;
pub mod bots;
pub mod cors;
pub mod crm;
pub mod error;
pub mod events;
pub mod ibm;
pub mod limits;
pub mod ops;
pub mod threads;

use std::collections::HashMap;
use std::net::IpAddr;
use std::path::PathBuf;
use std::sync::Arc;
use std::time::Duration;

use axum::http::HeaderMap;
use axum::Router;
use natter_protocol::error_code as code;
use tokio_util::sync::CancellationToken;

use crate::bots::{Bot, BotRegistry};
use crate::engine::Agent;
use crate::hub::Hub;
use crate::runs::Runs;
use crate::store::{Store, Thread};
use error::ApiError;
use limits::{Rate, RateLimiter};

/// Tunables of the HTTP layer.
#[derive(Debug, Clone)]
pub struct HttpConfig {
    pub limits: Limits,
    /// Interval of `: keep-alive` comments on idle event streams.
    pub sse_keepalive: Duration,
    /// `retry:` hint sent at the start of each stream.
    pub sse_retry_ms: u64,
    /// Folders served at `/` and `/widget/` instead of the files embedded in the binary.
    pub www_dir: Option<PathBuf>,
    pub widget_dir: Option<PathBuf>,
    /// Bearer token of `/admin/v1` (`NATTER_ADMIN_TOKEN`); `None`: the admin API refuses all.
    pub admin_token: Option<crate::actions::admin::AdminToken>,
}

#[derive(Debug, Clone)]
pub struct Limits {
    pub max_body_bytes: usize,
    pub max_message_chars: usize,
    pub per_ip: Rate,
    pub per_thread: Rate,
    /// The CRM's inbound Chat API, per client IP.
    pub crm_per_ip: Rate,
}

impl Default for HttpConfig {
    fn default() -> Self {
        HttpConfig {
            limits: Limits {
                max_body_bytes: 64 * 1024,
                max_message_chars: 4000,
                per_ip: Rate {
                    per_sec: 20.0,
                    burst: 60.0,
                },
                per_thread: Rate {
                    per_sec: 1.0,
                    burst: 10.0,
                },
                crm_per_ip: crm::INBOUND_RATE,
            },
            sse_keepalive: Duration::from_secs(15),
            sse_retry_ms: 2000,
            www_dir: None,
            widget_dir: None,
            admin_token: None,
        }
    }
}

pub struct AppState {
    pub store: Arc<dyn Store>,
    pub bots: Arc<BotRegistry>,
    pub agents: HashMap<String, Arc<dyn Agent>>,
    pub hub: Arc<Hub>,
    pub runs: Arc<Runs>,
    /// Bot actions: workflow calls, Run Test, the admin API.
    pub actions: Arc<crate::actions::ActionRunner>,
    /// Transitions, handlers, CRM.
    pub lifecycle: Arc<crate::lifecycle::Lifecycle>,
    pub config: HttpConfig,
    pub ip_limiter: RateLimiter<IpAddr>,
    pub thread_limiter: RateLimiter<String>,
    /// Fires at shutdown: open event streams end.
    pub shutdown: CancellationToken,
    /// Console sessions and the admin API's rate limits.
    pub console: crate::console::ConsoleState,
    /// Per-IP limit of the CRM's inbound Chat API.
    pub crm_limiter: RateLimiter<IpAddr>,
    /// Where the bytes of attachments live (`crate::attachments::blobs`).
    pub blobs: Arc<dyn crate::attachments::blobs::Blobs>,
    /// Thread id → owner, for authorization without a store read (both never change).
    pub owners: std::sync::Mutex<HashMap<String, Arc<ThreadOwner>>>,
}

/// The immutable part of a thread that authorization needs.
#[derive(Debug, PartialEq, Eq)]
pub struct ThreadOwner {
    pub bot: String,
    pub sub: Option<String>,
}

const OWNER_CACHE_MAX: usize = 100_000;

/// The whole HTTP application.
pub fn app(state: Arc<AppState>) -> Router {
    let api = Router::new()
        .merge(threads::router())
        .merge(bots::router())
        .merge(attachments::router())
        .merge(events::router())
        .merge(ibm::api())
        .fallback(|| async {
            ApiError::NotFound {
                code: code::NOT_FOUND,
                message: "no such endpoint".into(),
            }
        })
        .method_not_allowed_fallback(|| async { ApiError::MethodNotAllowed })
        .layer(axum::middleware::from_fn_with_state(
            state.clone(),
            limits::per_ip,
        ))
        .layer(axum::middleware::from_fn_with_state(
            state.clone(),
            cors::cors,
        ));
    let admin = crate::actions::admin::router(state.clone());
    let router = Router::new()
        .nest("/v1", api)
        .nest("/admin/v1", admin)
        .merge(ops::router())
        .merge(crm::router(state.clone()))
        .merge(ibm::router(&state.config))
        .merge(crate::console::router(state.clone()));
    assets::mount(router, &state.config)
        .layer(axum::middleware::from_fn(ops::track))
        .with_state(state)
}

impl AppState {
    pub fn bot(&self, slug: &str) -> Result<&Arc<Bot>, ApiError> {
        self.bots.get(slug).ok_or_else(|| ApiError::NotFound {
            code: code::BOT_NOT_FOUND,
            message: format!("no bot `{slug}`"),
        })
    }

    /// Checks that the caller may use this thread: authenticated per its bot, owned by the
    /// caller's `sub`. Another user's thread is "not found", exactly like a missing one.
    pub async fn authorized_thread(
        &self,
        thread_id: &str,
        headers: &HeaderMap,
    ) -> Result<Arc<Bot>, ApiError> {
        let owner = self.owner(thread_id).await?;
        let bot = self.bot(&owner.bot)?.clone();
        let auth = headers
            .get(axum::http::header::AUTHORIZATION)
            .and_then(|v| v.to_str().ok());
        let principal = bot.auth.authenticate(auth)?;
        if principal.sub != owner.sub {
            return Err(ApiError::thread_not_found());
        }
        Ok(bot)
    }

    pub async fn owner(&self, thread_id: &str) -> Result<Arc<ThreadOwner>, ApiError> {
        if let Some(o) = self.owners.lock().unwrap().get(thread_id) {
            return Ok(o.clone());
        }
        let thread = self
            .store
            .thread(thread_id)
            .await?
            .ok_or_else(ApiError::thread_not_found)?;
        Ok(self.remember(&thread))
    }

    pub fn remember(&self, thread: &Thread) -> Arc<ThreadOwner> {
        let owner = Arc::new(ThreadOwner {
            bot: thread.bot.clone(),
            sub: thread.sub.clone(),
        });
        let mut map = self.owners.lock().unwrap();
        if map.len() >= OWNER_CACHE_MAX {
            map.clear();
        }
        map.insert(thread.id.clone(), owner.clone());
        owner
    }
}
