//! Building the [`Lifecycle`] at server start and running its background tasks (the outbox
//! worker, the inactivity sweep) until shutdown.

use std::collections::HashMap;
use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;

use natter_crm::{CrmClient, RetryPolicy};
use natter_python_runtime::RuntimeConfig;
use tokio_util::sync::CancellationToken;

use super::handlers::HandlerRunner;
use super::plan::Plan;
use super::{exec, inactivity, retention, Lifecycle};
use crate::bots::BotRegistry;
use crate::crm::local::LocalCrm;
use crate::outbox::worker::{OutboxWorker, WorkerConfig};
use crate::store::Store;

/// Tunables of the lifecycle (tests shorten them).
#[derive(Debug, Clone)]
pub struct LifecycleOptions {
    /// CRM webhook retries (natter-crm's schedule).
    pub crm_retry: RetryPolicy,
    pub outbox: WorkerConfig,
    /// Interval of the inactivity sweep.
    pub inactivity_every: Duration,
    /// The python runtime of event handlers.
    pub python: RuntimeConfig,
}

impl Default for LifecycleOptions {
    fn default() -> Self {
        LifecycleOptions {
            crm_retry: RetryPolicy::default(),
            outbox: WorkerConfig::default(),
            inactivity_every: Duration::from_secs(30),
            python: RuntimeConfig::default(),
        }
    }
}

impl Lifecycle {
    /// Resolves every bot's CRM (the local CRM's URL is this server's `addr`) and builds the
    /// services. `plan` is the one the store was opened with; `py_host` the Python helpers'
    /// host the actions use too (`crate::python_host::StoreHost`).
    pub fn start(
        store: Arc<dyn Store>,
        bots: Arc<BotRegistry>,
        plan: Arc<Plan>,
        addr: SocketAddr,
        options: LifecycleOptions,
        py_host: Arc<dyn natter_python_runtime::Host>,
    ) -> anyhow::Result<Arc<Lifecycle>> {
        let host = if addr.ip().is_unspecified() {
            "127.0.0.1".to_string()
        } else {
            addr.ip().to_string()
        };
        let base = match addr {
            SocketAddr::V6(_) if !addr.ip().is_unspecified() => {
                format!("http://[{host}]:{}", addr.port())
            }
            _ => format!("http://{host}:{}", addr.port()),
        };
        let mut crm = HashMap::new();
        for slug in bots.slugs() {
            let bot = bots.get(slug).expect("listed");
            if let Some(s) = &bot.crm {
                let mut c = s
                    .resolve(slug, &base, None)
                    .map_err(|e| anyhow::anyhow!("bot `{slug}`: {e}"))?;
                // Webhooks obey the bot's `[network]` policy, like its API actions. The local
                // CRM is this server itself, at an address the server chose.
                if !c.local {
                    c.crm = c
                        .crm
                        .guarded(natter_actions::Guard::new(bot.network.clone()))
                        .map_err(|e| anyhow::anyhow!("bot `{slug}`: CRM client: {e}"))?;
                }
                crm.insert(slug.to_string(), Arc::new(c));
            }
        }
        let _ = plan.crm.set(crm);
        let client = CrmClient::with_policy(options.crm_retry)
            .map_err(|e| anyhow::anyhow!("CRM client: {e}"))?;
        let handlers =
            HandlerRunner::new(store.clone(), bots.clone(), py_host, options.python.clone());
        Ok(Arc::new(Lifecycle {
            local: Arc::new(LocalCrm::new(store.clone())),
            store,
            bots,
            plan,
            client,
            handlers,
            options,
        }))
    }
}

/// The running background tasks; [`BackgroundTasks::stop`] waits for them after shutdown.
pub struct BackgroundTasks {
    tasks: Vec<tokio::task::JoinHandle<()>>,
    lifecycle: Arc<Lifecycle>,
}

impl BackgroundTasks {
    /// Starts the outbox worker, the inactivity sweep, the attachments sweep and the
    /// conversation retention sweep; all end when `cancel` fires.
    pub fn spawn(lc: Arc<Lifecycle>, cancel: CancellationToken) -> BackgroundTasks {
        let exec = Arc::new(exec::Exec(lc.clone()));
        let worker = OutboxWorker::new(
            lc.store.clone(),
            exec,
            lc.plan.notify.clone(),
            lc.options.outbox.clone(),
        );
        let tasks = vec![
            tokio::spawn(worker.run(cancel.clone())),
            tokio::spawn(inactivity::run(
                lc.clone(),
                lc.options.inactivity_every,
                cancel.clone(),
            )),
            tokio::spawn(crate::attachments::retention::run(
                lc.store.clone(),
                crate::attachments::blobs_for(&lc.store),
                lc.bots.clone(),
                lc.options.inactivity_every,
                cancel.clone(),
            )),
            tokio::spawn(retention::run(
                lc.store.clone(),
                crate::attachments::blobs_for(&lc.store),
                lc.bots.clone(),
                lc.options.inactivity_every,
                cancel,
            )),
        ];
        BackgroundTasks {
            tasks,
            lifecycle: lc,
        }
    }

    /// Waits for the tasks (call after the shutdown token fired), then stops Python.
    pub async fn stop(self) {
        for t in self.tasks {
            let _ = t.await;
        }
        self.lifecycle.handlers.shutdown();
    }
}
