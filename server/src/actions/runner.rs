//! [`ActionRunner`]: one per server. See the module docs of [`crate::actions`].

use std::collections::HashMap;
use std::sync::Arc;
use std::time::Instant;

use natter_actions::{bot_value, Action, ActionClient, ActionKind, CallError, ClientConfig};
use natter_protocol::EventPayload;
use natter_python_runtime::{Context, Host, RunRequest, Runtime, RuntimeConfig};
use serde_json::{json, Value};
use tokio::sync::OnceCell;

use super::context::conversation;
use crate::bots::{Bot, BotRegistry};
use crate::engine::Reply;
use crate::store::actions::ActionRun;
use crate::store::{Store, StoreError, Thread};
use crate::time::now_rfc3339;

/// Settings of the action layer.
#[derive(Debug, Clone, Default)]
pub struct ActionsConfig {
    /// Limits and sandbox of Python actions.
    pub python: RuntimeConfig,
    /// Start the python runtime and each Python bot's warm processes at server start (else on
    /// the first call).
    pub prewarm: bool,
}

/// Where an action is called from.
#[derive(Default, Clone, Copy)]
pub struct CallSite<'a> {
    /// The conversation (`None`: a test run without one).
    pub thread: Option<&'a Thread>,
    /// The bot run (turn) calling it.
    pub run_id: Option<&'a str>,
    /// A "Run Test": hand-offs are skipped, the run is logged as a test.
    pub test: bool,
}

/// Why a Run Test could not start (bad input: nothing ran, nothing was logged).
#[derive(Debug, thiserror::Error)]
pub enum RunTestError {
    #[error("no bot `{0}`")]
    NoBot(String),
    #[error("bot `{bot}` has no action `{action}`")]
    NoAction { bot: String, action: String },
    #[error("no conversation `{0}` for this bot")]
    NoConversation(String),
    #[error("{0}")]
    Args(#[from] natter_actions::ArgsError),
    #[error(transparent)]
    Store(#[from] StoreError),
}

/// What one call gave.
pub struct Called {
    /// What the bot gets.
    pub value: Value,
    /// The action handed the conversation off: the bot must stop replying.
    pub handed_off: bool,
}

pub struct ActionRunner {
    store: Arc<dyn Store>,
    bots: Arc<BotRegistry>,
    /// One pooled client per bot, with its `[network]` policy.
    clients: HashMap<String, ActionClient>,
    host: Arc<dyn Host>,
    config: ActionsConfig,
    /// Started on first use: bots without Python actions never need python3.
    python: OnceCell<Result<Runtime, String>>,
    /// `kind = "crm"` actions (the CRM connector), set once at start.
    crm: std::sync::OnceLock<crate::crm::actions::SharedCrmActions>,
}

impl ActionRunner {
    pub fn new(
        store: Arc<dyn Store>,
        bots: Arc<BotRegistry>,
        host: Arc<dyn Host>,
        config: ActionsConfig,
    ) -> anyhow::Result<Arc<Self>> {
        let mut clients = HashMap::new();
        for slug in bots.slugs() {
            let bot = bots.get(slug).expect("listed slug");
            let client = ActionClient::new(ClientConfig::with_policy(bot.network.clone()))
                .map_err(|e| anyhow::anyhow!("bot `{slug}`: action HTTP client: {e}"))?;
            clients.insert(slug.to_string(), client);
        }
        Ok(Arc::new(ActionRunner {
            store,
            bots,
            clients,
            host,
            config,
            python: OnceCell::new(),
            crm: Default::default(),
        }))
    }

    /// Connects `kind = "crm"` actions to the CRM actions webhook.
    pub fn set_crm(&self, crm: crate::crm::actions::SharedCrmActions) {
        let _ = self.crm.set(crm);
    }

    pub fn bots(&self) -> &BotRegistry {
        &self.bots
    }

    pub fn store(&self) -> &Arc<dyn Store> {
        &self.store
    }

    /// With `sandbox = required`: starts the python runtime now, so a machine without a usable
    /// bubblewrap refuses to serve instead of failing each Python run later.
    pub async fn require_sandbox(&self) -> anyhow::Result<()> {
        if self.config.python.sandbox != natter_python_runtime::SandboxPolicy::Require {
            return Ok(());
        }
        self.runtime().await.map(|_| ()).map_err(|e| {
            anyhow::anyhow!("the python sandbox is required (NATTER_PYTHON_SANDBOX=required): {e}")
        })
    }

    /// Starts the python runtime and warms each Python bot's processes (when configured).
    pub async fn prewarm(&self) {
        if !self.config.prewarm {
            return;
        }
        let py_bots: Vec<&Arc<Bot>> = self
            .bots
            .slugs()
            .filter_map(|s| self.bots.get(s))
            .filter(|b| {
                b.actions
                    .iter()
                    .any(|a| matches!(a.kind, ActionKind::Python(_)))
            })
            .collect();
        if py_bots.is_empty() {
            return;
        }
        if let Ok(rt) = self.runtime().await {
            for b in py_bots {
                if let Err(e) = rt.prewarm(&b.dir).await {
                    tracing::warn!(bot = %b.slug, error = %e, "python prewarm failed");
                }
            }
        }
    }

    async fn runtime(&self) -> Result<&Runtime, &str> {
        let r = self
            .python
            .get_or_init(|| async {
                Runtime::start(self.config.python.clone(), self.host.clone()).await.map_err(|e| {
                    tracing::error!(error = %e, "the python runtime could not start; Python actions will fail");
                    e.to_string()
                })
            })
            .await;
        r.as_ref().map_err(String::as_str)
    }

    /// Calls `name` from `workflow` of `bot` (a scripted step or an LLM tool call). Refused
    /// (`{"error": …}`, logged) when the workflow doesn't enable it. `action.started` and
    /// `action.completed` go to the thread through `out` when given (in order with the run's
    /// messages), else straight to the store.
    pub async fn call_in_workflow(
        &self,
        bot: &Bot,
        workflow: &str,
        name: &str,
        args: Value,
        site: CallSite<'_>,
        mut out: Option<&mut dyn Reply>,
    ) -> Called {
        let action = match bot.actions.callable(workflow, name) {
            Ok(a) => a,
            Err(e) => {
                tracing::warn!(bot = %bot.slug, workflow, action = name, "{e}");
                return Called {
                    value: json!({"error": e.to_string()}),
                    handed_off: false,
                };
            }
        };
        let id = new_run_id();
        let kind = action.kind.as_str();
        if let Some(thread) = site.thread {
            let ev = EventPayload::ActionStarted {
                run_id: site.run_id.map(Into::into),
                action: name.into(),
                action_run_id: id.clone(),
            };
            self.emit(&thread.id, ev, &mut out).await;
        }
        let (run, handed_off) = self.execute(bot, action, args, site, id).await;
        tracing::info!(bot = %bot.slug, action = name, kind, status = %run.status, ms = run.duration_ms, "action run");
        if let Some(thread) = site.thread {
            let ev = EventPayload::ActionCompleted {
                run_id: site.run_id.map(Into::into),
                action: name.into(),
                action_run_id: run.id.clone(),
                status: run.status.clone(),
                duration_ms: run.duration_ms,
            };
            self.emit(&thread.id, ev, &mut out).await;
        }
        Called {
            value: run.result,
            handed_off,
        }
    }

    async fn emit(&self, thread_id: &str, ev: EventPayload, out: &mut Option<&mut dyn Reply>) {
        let r = match out {
            Some(out) => out.event(ev).await.map_err(|e| e.to_string()),
            None => self
                .store
                .append(thread_id, vec![ev])
                .await
                .map(|_| ())
                .map_err(|e| e.to_string()),
        };
        if let Err(e) = r {
            tracing::warn!(thread = thread_id, error = %e, "action event not written");
        }
    }

    /// "Run Test": `action` of `bot` with `args`, against conversation `conversation` (its id
    /// or public id) if given. Every workflow's gate is skipped (the dashboard tests any
    /// action), hand-offs are skipped, and the run is logged with `test = true`.
    pub async fn test(
        &self,
        bot: &str,
        action: &str,
        args: Value,
        conversation: Option<&str>,
    ) -> Result<ActionRun, RunTestError> {
        let b = self
            .bots
            .get(bot)
            .ok_or_else(|| RunTestError::NoBot(bot.into()))?
            .clone();
        let a = b
            .actions
            .get(action)
            .ok_or_else(|| RunTestError::NoAction {
                bot: bot.into(),
                action: action.into(),
            })?;
        a.validate_args(&args)?;
        let thread = match conversation {
            None => None,
            Some(id) => {
                let t = match self.store.thread(id).await? {
                    Some(t) => Some(t),
                    None => self.store.thread_by_public_id(id).await?,
                };
                Some(
                    t.filter(|t| t.bot == bot)
                        .ok_or_else(|| RunTestError::NoConversation(id.into()))?,
                )
            }
        };
        let site = CallSite {
            thread: thread.as_ref(),
            run_id: None,
            test: true,
        };
        Ok(self.execute(&b, a, args, site, new_run_id()).await.0)
    }

    /// Runs the action and logs the run. Never fails: a failure is a logged run whose result
    /// is `{"error": …}`.
    async fn execute(
        &self,
        bot: &Bot,
        action: &Action,
        args: Value,
        site: CallSite<'_>,
        id: String,
    ) -> (ActionRun, bool) {
        let started = Instant::now();
        let mut run = ActionRun {
            id,
            bot: bot.slug.clone(),
            action: action.name.clone(),
            kind: action.kind.as_str().into(),
            thread_id: site.thread.map(|t| t.id.clone()),
            run_id: site.run_id.map(Into::into),
            test: site.test,
            status: String::new(),
            args: args.clone(),
            result: Value::Null,
            error: None,
            stdout: String::new(),
            stderr: String::new(),
            log: Vec::new(),
            duration_ms: 0,
            created_at: now_rfc3339(),
        };
        let mut handed_off = false;
        // `"$secret.<key>"` arguments (sanitized CRM results) are filled in only for the call
        // out (API and CRM actions); `run.args` keeps the placeholders. Python never sees them.
        let call_args = match (site.thread, &action.kind) {
            (Some(t), ActionKind::Api(_) | ActionKind::Crm(_))
                if super::args::has_secrets(&args) =>
            {
                match self.store.secrets(&t.id).await {
                    Ok(s) => super::args::resolve_secrets(&args, &s),
                    Err(e) => {
                        tracing::error!(error = %e, "reading sanitized values");
                        args.clone()
                    }
                }
            }
            _ => args.clone(),
        };
        match &action.kind {
            ActionKind::Api(_) => {
                let client = self.clients.get(&bot.slug).expect("a client per bot");
                let result = client.call_action(action, &call_args).await;
                run.result = bot_value(&result);
                match &result {
                    Ok(ok) => {
                        run.status = "ok".into();
                        run.log.push(format!(
                            "HTTP {} after {} redirect(s)",
                            ok.status, ok.redirects
                        ));
                    }
                    Err(e) => {
                        run.status = api_status(e).into();
                        run.error = Some(e.to_string());
                    }
                }
            }
            ActionKind::Python(p) => match action.validate_args(&args) {
                Err(e) => {
                    run.status = "invalid_args".into();
                    run.error = Some(e.to_string());
                    run.result = json!({"error": e.to_string()});
                }
                Ok(map) => match self.runtime().await {
                    Err(why) => {
                        run.status = "internal".into();
                        run.error = Some(format!("python runtime unavailable: {why}"));
                        run.result = json!({"error": "The action could not be run"});
                    }
                    Ok(rt) => {
                        let conversation = match site.thread {
                            Some(t) => match conversation(&*self.store, t).await {
                                Ok(c) => Some(c),
                                Err(e) => {
                                    tracing::error!(error = %e, "action: conversation context");
                                    None
                                }
                            },
                            None => None,
                        };
                        let context = Context {
                            args: map.clone(),
                            conversation,
                            // the page the visitor is on (web chat), never the metadata
                            browser_session: site.thread.and_then(|t| t.browser_session.clone()),
                        };
                        let mut req = RunRequest::action(&bot.slug, &bot.dir, &p.file, context);
                        req.test_run = site.test;
                        req.timeout = Some(p.timeout);
                        let out = rt.run(req).await;
                        handed_off = out.handed_off;
                        run.status = match serde_json::to_value(out.status) {
                            Ok(Value::String(s))
                                if s == "ok" && out.value.get("error").is_some() =>
                            {
                                "error".into()
                            }
                            Ok(Value::String(s)) => s,
                            _ => "internal".into(),
                        };
                        run.result = out.value;
                        run.error = out.error;
                        run.stdout = out.stdout;
                        run.stderr = out.stderr;
                        run.log = out.log;
                        if let Some(tb) = out.traceback {
                            run.log.push(format!("traceback:\n{tb}"));
                        }
                    }
                },
            },
            ActionKind::Crm(c) => match self.crm.get() {
                // The CRM actions webhook (crate::crm::actions): results go to the conversation's
                // metadata; sanitized values never reach the result or this log.
                Some(crm) => {
                    let call = crm
                        .call(&bot.slug, action, &call_args, site.thread, c.timeout)
                        .await;
                    run.status = call.status.into();
                    run.result = call.result;
                    run.error = call.error;
                }
                None => {
                    run.status = "unsupported".into();
                    run.error = Some("CRM actions are not connected to this server".into());
                    run.result = json!({"error": "The action is not available"});
                }
            },
        }
        if run.status == "ok" && run.result.get("error").is_some() {
            run.status = "error".into();
        }
        run.duration_ms = started.elapsed().as_millis() as u64;
        if let Err(e) = self.store.record_action_run(run.clone()).await {
            tracing::error!(error = %e, action = %run.action, "action run not logged");
        }
        (run, handed_off)
    }
}

fn new_run_id() -> String {
    format!("act_{}", uuid::Uuid::new_v4().simple())
}

fn api_status(e: &CallError) -> &'static str {
    match e {
        CallError::Args(_) | CallError::Prepare(_) => "invalid_args",
        CallError::Policy(_) => "refused",
        CallError::Timeout(_) => "timeout",
        CallError::Status { .. } => "http_error",
        _ => "failed",
    }
}
