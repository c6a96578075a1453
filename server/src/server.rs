//! Building the server from its config and running it until shutdown.
//!
//! [`Server::start`] opens the store, recovers interrupted runs (failing them and creating
//! their re-runs), loads the bots, builds the router, binds and queues the re-runs; [`Server::run`] accepts connections until the shutdown token fires.
//! Connections are served by hyper directly (not `axum::serve`) so that a header-read
//! timeout applies: a client that does not finish its request head in time is disconnected.
//!
//! Shutdown order (each step ends before the next): stop accepting; fire the token, which
//! ends every event stream and cancels runs; wait for runs to record their end; let
//! in-flight requests finish (bounded by a grace period); flush and close the store.

use std::collections::HashMap;
use std::net::SocketAddr;
use std::path::PathBuf;
use std::sync::Arc;
use std::time::Duration;

use anyhow::Context;
use hyper_util::rt::{TokioIo, TokioTimer};
use tokio::net::TcpListener;
use tokio_util::sync::CancellationToken;
use tower::ServiceExt;

use crate::bots::{self, AgentKind, BotRegistry};
use crate::engine::llm::{LlmAgent, LlmModels, RunnerActions};
use crate::engine::{scripted::ScriptedAgent, Agent};
use crate::http::limits::RateLimiter;
use crate::http::{app, AppState, HttpConfig};
use crate::hub::Hub;
use crate::runs::{RunInput, Runs};
use crate::store::open::StoreLocation;
use crate::store::postgres::PgOptions;
use crate::store::sqlite::Durability;
use crate::store::{EventSink, Recovered, RunOutcome, Store};

#[derive(Debug, Clone)]
pub struct ServerConfig {
    pub addr: String,
    pub data_dir: PathBuf,
    /// `postgres://…`: the PostgreSQL store (several instances may share it); `None`: the
    /// SQLite file in `data_dir`.
    pub database_url: Option<String>,
    /// Pool size and run lease of the PostgreSQL store.
    pub postgres: PgOptions,
    /// The S3-compatible object store holding attachment bytes; `None`: the store's chunk
    /// table.
    pub objects: Option<crate::attachments::s3::S3Config>,
    pub bots_dir: PathBuf,
    pub durability: Durability,
    pub header_read_timeout: Duration,
    /// How long in-flight requests may take to finish at shutdown.
    pub grace: Duration,
    pub http: HttpConfig,
    /// Outbox, CRM retries, inactivity sweep, handlers' python.
    pub lifecycle: crate::lifecycle::LifecycleOptions,
    /// Python limits of actions.
    pub actions: crate::actions::ActionsConfig,
}

impl Default for ServerConfig {
    fn default() -> Self {
        ServerConfig {
            addr: "127.0.0.1:8080".into(),
            data_dir: "data".into(),
            database_url: None,
            postgres: PgOptions::default(),
            objects: None,
            bots_dir: "bots".into(),
            durability: Durability::Full,
            header_read_timeout: Duration::from_secs(10),
            grace: Duration::from_secs(10),
            http: HttpConfig::default(),
            lifecycle: Default::default(),
            actions: Default::default(),
        }
    }
}

pub struct Server {
    listener: TcpListener,
    state: Arc<AppState>,
    config: ServerConfig,
}

impl Server {
    pub async fn start(
        config: ServerConfig,
        shutdown: CancellationToken,
    ) -> anyhow::Result<Server> {
        if let Some(t) = &config.http.admin_token {
            crate::console::check_token(&t.0).map_err(anyhow::Error::msg)?;
        }
        let bots = bots::load_dir(&config.bots_dir).map_err(|errs| {
            let list: Vec<String> = errs.iter().map(|e| e.to_string()).collect();
            anyhow::anyhow!("bot configuration errors:\n{}", list.join("\n"))
        })?;
        let hub = Arc::new(Hub::default());
        // Event handlers are found first: the store enqueues their jobs with each transition.
        let plan = crate::lifecycle::plan::Plan::prepare(&bots)?;
        let sink = hub.clone() as Arc<dyn EventSink>;
        let store = crate::store::open::open(
            StoreLocation {
                data_dir: &config.data_dir,
                database_url: config.database_url.as_deref(),
                durability: config.durability,
                postgres: config.postgres.clone(),
                objects: config.objects.clone(),
            },
            sink,
            plan.clone(),
        )
        .await?;
        // Interrupted runs are failed and their re-runs created now; the re-runs are queued
        // once the agents exist (below). A crash before that leaves them `running`: the next
        // start recovers them in turn (bounded by `store::MAX_RERUNS`).
        let recovered = store.recover_interrupted_runs().await?;
        if recovered.interrupted > 0 {
            tracing::warn!(
                interrupted = recovered.interrupted,
                reruns = recovered.reruns.len(),
                "marked runs interrupted by the last stop as failed; re-running their messages"
            );
        }
        let bots = Arc::new(bots);
        // One model client per LLM bot, shared by its agent and its llm_classify_* calls.
        let llm_models = Arc::new(LlmModels::for_bots(&bots).context("building the LLM clients")?);
        let host = Arc::new(crate::python_host::StoreHost::new(
            store.clone(),
            bots.clone(),
            llm_models.clone(),
        ));
        let actions = crate::actions::ActionRunner::new(
            store.clone(),
            bots.clone(),
            host.clone(),
            config.actions.clone(),
        )?;
        actions.require_sandbox().await?;
        actions.prewarm().await;
        let agents = agents_for(&bots, &store, &actions, &llm_models)?;
        let listener = TcpListener::bind(&config.addr)
            .await
            .with_context(|| format!("binding {}", config.addr))?;
        let limits = &config.http.limits;
        let lifecycle = crate::lifecycle::Lifecycle::start(
            store.clone(),
            bots.clone(),
            plan,
            listener.local_addr()?,
            config.lifecycle.clone(),
            host.clone(),
        )?;
        let runs = Runs::new(store.clone(), shutdown.child_token());
        runs.set_lifecycle(lifecycle.clone());
        host.set_lifecycle(&lifecycle);
        actions.set_crm(lifecycle.clone());
        queue_reruns(&runs, &agents, &*store, recovered).await?;
        let state = Arc::new(AppState {
            blobs: crate::attachments::blobs_for(&store),
            actions,
            runs,
            lifecycle,
            store,
            bots,
            agents,
            hub,
            ip_limiter: RateLimiter::new(limits.per_ip),
            thread_limiter: RateLimiter::new(limits.per_thread),
            config: config.http.clone(),
            shutdown,
            owners: Default::default(),
            console: Default::default(),
            crm_limiter: RateLimiter::new(limits.crm_per_ip),
        });
        Ok(Server {
            listener,
            state,
            config,
        })
    }

    pub fn local_addr(&self) -> SocketAddr {
        self.listener
            .local_addr()
            .expect("bound listener has an address")
    }

    pub async fn run(self) -> anyhow::Result<()> {
        let Server {
            listener,
            state,
            config,
        } = self;
        let router = app(state.clone());
        let graceful = hyper_util::server::graceful::GracefulShutdown::new();
        let mut http = hyper::server::conn::http1::Builder::new();
        http.timer(TokioTimer::new())
            .header_read_timeout(config.header_read_timeout)
            .keep_alive(true);
        tracing::info!(addr = %listener.local_addr()?, bots = ?state.bots.slugs().collect::<Vec<_>>(), "natter listening");
        let background = crate::lifecycle::BackgroundTasks::spawn(
            state.lifecycle.clone(),
            state.shutdown.child_token(),
        );
        let recovery = spawn_recovery(&state);
        loop {
            let (stream, peer) = tokio::select! {
                _ = state.shutdown.cancelled() => break,
                accepted = listener.accept() => match accepted {
                    Ok(a) => a,
                    Err(e) => {
                        // EMFILE and friends: back off instead of spinning.
                        tracing::warn!(error = %e, "accept failed");
                        tokio::time::sleep(Duration::from_millis(50)).await;
                        continue;
                    }
                },
            };
            let _ = stream.set_nodelay(true);
            let router = router.clone();
            let svc = hyper::service::service_fn(
                move |mut req: hyper::Request<hyper::body::Incoming>| {
                    req.extensions_mut()
                        .insert(axum::extract::ConnectInfo(peer));
                    router.clone().oneshot(req.map(axum::body::Body::new))
                },
            );
            let conn = graceful.watch(http.serve_connection(TokioIo::new(stream), svc));
            tokio::spawn(async move {
                if let Err(e) = conn.await {
                    tracing::debug!(error = %e, %peer, "connection ended with an error");
                }
            });
        }
        drop(listener);
        tracing::info!("shutting down: ending streams and runs");
        state.runs.shutdown().await;
        // The outbox worker and the inactivity sweep saw the token too; wait for them.
        background.stop().await;
        if let Some(task) = recovery {
            let _ = task.await;
        }
        if tokio::time::timeout(config.grace, graceful.shutdown())
            .await
            .is_err()
        {
            tracing::warn!("grace period over; dropping remaining connections");
        }
        state.store.close().await;
        tracing::info!("stopped");
        Ok(())
    }
}

/// Queues the re-runs recovery created; a re-run whose bot is gone from the config is ended
/// instead of left open.
async fn queue_reruns(
    runs: &Arc<Runs>,
    agents: &HashMap<String, Arc<dyn Agent>>,
    store: &dyn Store,
    recovered: Recovered,
) -> anyhow::Result<()> {
    for rerun in recovered.reruns {
        match agents.get(&rerun.bot) {
            Some(agent) => runs.spawn(
                agent.clone(),
                RunInput {
                    thread_id: rerun.thread_id,
                    run_id: rerun.run_id,
                    text: rerun.text,
                    context: rerun.context,
                },
            ),
            None => {
                let outcome = RunOutcome::Failed {
                    code: "interrupted".into(),
                    message: "the bot no longer exists".into(),
                };
                store
                    .finish_run(&rerun.thread_id, &rerun.run_id, outcome, None)
                    .await?;
            }
        }
    }
    Ok(())
}

/// With a shared database ([`Store::recovery_interval`]), runs of instances that died are
/// looked for (and re-run here) periodically until shutdown.
fn spawn_recovery(state: &Arc<AppState>) -> Option<tokio::task::JoinHandle<()>> {
    let every = state.store.recovery_interval()?;
    let state = state.clone();
    Some(tokio::spawn(async move {
        loop {
            tokio::select! {
                _ = state.shutdown.cancelled() => return,
                _ = tokio::time::sleep(every) => {}
            }
            match state.store.recover_interrupted_runs().await {
                Ok(r) if r.interrupted > 0 => {
                    tracing::warn!(
                        interrupted = r.interrupted,
                        reruns = r.reruns.len(),
                        "took over runs of a stopped instance; re-running their messages"
                    );
                    if let Err(e) = queue_reruns(&state.runs, &state.agents, &*state.store, r).await
                    {
                        tracing::error!(error = %e, "queueing re-runs failed");
                    }
                }
                Ok(_) => {}
                Err(e) => tracing::warn!(error = %e, "looking for interrupted runs failed"),
            }
        }
    }))
}

fn agents_for(
    bots: &BotRegistry,
    store: &Arc<dyn Store>,
    actions: &Arc<crate::actions::ActionRunner>,
    llm_models: &LlmModels,
) -> anyhow::Result<HashMap<String, Arc<dyn Agent>>> {
    bots.slugs()
        .filter_map(|s| bots.get(s))
        .map(|b| {
            let agent: Arc<dyn Agent> = match b.agent {
                AgentKind::Scripted => {
                    Arc::new(ScriptedAgent::new(b.clone()).with_actions(actions.clone()))
                }
                AgentKind::Llm => {
                    let model = llm_models
                        .model(&b.slug)
                        .with_context(|| format!("bot `{}`: no LLM client", b.slug))?;
                    let actions = Arc::new(RunnerActions {
                        bot: b.clone(),
                        runner: actions.clone(),
                    });
                    Arc::new(
                        LlmAgent::with_model(b.clone(), store.clone(), actions, model)
                            .with_context(|| format!("bot `{}`", b.slug))?,
                    )
                }
            };
            Ok((b.slug.clone(), agent))
        })
        .collect()
}
