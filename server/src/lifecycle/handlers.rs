//! Event handlers: `bots/<slug>/handlers/<event_type>/<name>.py`, each defining
//! `handle_event(context)`. The folder names the one event a handler is for (the seed: "each
//! event handler is configured for exactly one event type"); any number per event.
//!
//! [`HandlerRunner`] runs one handler in the python runtime (same sandbox, helpers and
//! [`crate::python_host::StoreHost`] as actions; 60 s limit) with the seed's context —
//! `args.event_type`, `conversation` (loaded when the handler runs, so it includes everything
//! up to then), `browser_session` (the page the visitor is on, as the widget last sent it;
//! `None` when it never sent one) — and returns the run record; the caller stores it.

use std::collections::HashMap;
use std::path::PathBuf;
use std::sync::Arc;

use natter_python_runtime::{Context, Host, RunRequest, Runtime, RuntimeConfig};
use tokio::sync::OnceCell;

use crate::bots::BotRegistry;
use crate::outbox::{HandlerRun, EVENT_CLOSED, EVENT_HANDED_OFF};
use crate::store::{Store, StoreError};
use crate::time::now_rfc3339;

pub const EVENTS: &[&str] = &[EVENT_CLOSED, EVENT_HANDED_OFF];

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct HandlerDef {
    pub name: String,
    pub event: &'static str,
    /// Relative to the bot's folder.
    pub script: PathBuf,
}

/// Every bot's handlers, found at start.
#[derive(Debug, Default)]
pub struct Catalog {
    by_bot: HashMap<String, Vec<HandlerDef>>,
}

impl Catalog {
    /// Reads each bot's `handlers/` folder; an unknown event folder or a non-`.py` file is an
    /// error (a typo would otherwise silently never run).
    pub fn discover(bots: &BotRegistry) -> Result<Catalog, Vec<String>> {
        let mut by_bot = HashMap::new();
        let mut errors = Vec::new();
        for slug in bots.slugs() {
            let bot = bots.get(slug).expect("listed");
            let root = bot.dir.join("handlers");
            let Ok(entries) = std::fs::read_dir(&root) else {
                continue;
            };
            let mut defs = Vec::new();
            for e in entries.flatten() {
                let name = e.file_name().to_string_lossy().to_string();
                let Some(event) = EVENTS.iter().find(|ev| **ev == name) else {
                    errors.push(format!(
                        "{}: unknown event folder `{name}` (expected one of: {})",
                        root.display(),
                        EVENTS.join(", ")
                    ));
                    continue;
                };
                for f in sorted_entries(&e.path()) {
                    let fname = f
                        .file_name()
                        .unwrap_or_default()
                        .to_string_lossy()
                        .to_string();
                    match fname.strip_suffix(".py") {
                        Some(stem) if !stem.is_empty() => defs.push(HandlerDef {
                            name: stem.to_string(),
                            event,
                            script: PathBuf::from("handlers").join(event).join(&fname),
                        }),
                        _ if fname.starts_with('.') || fname == "__pycache__" => {}
                        _ => errors.push(format!("{}: not a .py handler", f.display())),
                    }
                }
            }
            defs.sort_by(|a, b| (a.event, &a.name).cmp(&(b.event, &b.name)));
            by_bot.insert(slug.to_string(), defs);
        }
        if errors.is_empty() {
            Ok(Catalog { by_bot })
        } else {
            Err(errors)
        }
    }

    pub fn list(&self, bot: &str) -> &[HandlerDef] {
        self.by_bot.get(bot).map(Vec::as_slice).unwrap_or(&[])
    }

    pub fn for_event<'a>(
        &'a self,
        bot: &str,
        event: &'a str,
    ) -> impl Iterator<Item = &'a HandlerDef> + 'a {
        self.list(bot).iter().filter(move |h| h.event == event)
    }

    /// Handler `name`. When the bot has one of that name under both events, `event` picks
    /// (default: `conversation_closed`, the seed form's first choice). For a Run Test the
    /// event passed to the code is the form's, whichever folder the handler lives in.
    pub fn find(&self, bot: &str, name: &str, event: Option<&str>) -> Option<&HandlerDef> {
        let hits: Vec<&HandlerDef> = self.list(bot).iter().filter(|h| h.name == name).collect();
        let want = event.unwrap_or(EVENT_CLOSED);
        hits.iter()
            .find(|h| h.event == want)
            .or(hits.first())
            .copied()
    }
}

#[derive(Debug, thiserror::Error)]
pub enum HandlerError {
    #[error("no bot `{0}`")]
    NoBot(String),
    #[error("no conversation `{0}` for this bot")]
    NoConversation(String),
    #[error("the python runtime could not start: {0}")]
    Runtime(String),
    #[error(transparent)]
    Store(#[from] StoreError),
}

/// Runs handlers; starts the python runtime on first use.
pub struct HandlerRunner {
    store: Arc<dyn Store>,
    bots: Arc<BotRegistry>,
    host: Arc<dyn Host>,
    config: RuntimeConfig,
    python: OnceCell<Result<Runtime, String>>,
}

impl HandlerRunner {
    pub fn new(
        store: Arc<dyn Store>,
        bots: Arc<BotRegistry>,
        host: Arc<dyn Host>,
        config: RuntimeConfig,
    ) -> Self {
        HandlerRunner {
            store,
            bots,
            host,
            config,
            python: OnceCell::new(),
        }
    }

    async fn runtime(&self) -> Result<&Runtime, HandlerError> {
        let r = self
            .python
            .get_or_init(|| async {
                Runtime::start(self.config.clone(), self.host.clone())
                    .await
                    .map_err(|e| e.to_string())
            })
            .await;
        r.as_ref().map_err(|e| HandlerError::Runtime(e.clone()))
    }

    /// Runs `def` of `bot` for conversation `conversation` (id or public id). `test`: a Run
    /// Test (hand-offs skipped, recorded as a test).
    pub async fn run(
        &self,
        bot: &str,
        def: &HandlerDef,
        conversation: &str,
        event: &str,
        job_id: Option<String>,
        test: bool,
    ) -> Result<HandlerRun, HandlerError> {
        let b = self
            .bots
            .get(bot)
            .ok_or_else(|| HandlerError::NoBot(bot.into()))?
            .clone();
        let thread = match self.store.thread(conversation).await? {
            Some(t) => Some(t),
            None => self.store.thread_by_public_id(conversation).await?,
        };
        let thread = thread
            .filter(|t| t.bot == bot)
            .ok_or_else(|| HandlerError::NoConversation(conversation.into()))?;
        let conv = crate::actions::context::conversation(&*self.store, &thread).await?;
        let context = Context {
            args: Default::default(),
            conversation: Some(conv),
            browser_session: thread.browser_session.clone(),
        };
        let mut req = RunRequest::event_handler(&b.slug, &b.dir, &def.script, event, context);
        req.test_run = test;
        let started_at = now_rfc3339();
        let out = self.runtime().await?.run(req).await;
        let status = serde_json::to_value(out.status)
            .ok()
            .and_then(|v| v.as_str().map(String::from))
            .unwrap_or_else(|| "internal".into());
        Ok(HandlerRun {
            id: format!("hr_{}", uuid::Uuid::new_v4().simple()),
            job_id,
            bot: bot.into(),
            handler: def.name.clone(),
            event_type: event.into(),
            thread_id: thread.id,
            test,
            status,
            result: Some(out.value),
            stdout: out.stdout,
            stderr: out.stderr,
            traceback: out.traceback.or(out.error),
            duration_ms: out.duration.as_millis() as u64,
            started_at,
        })
    }

    pub fn shutdown(&self) {
        if let Some(Ok(rt)) = self.python.get() {
            rt.shutdown();
        }
    }
}

/// `natter check`: validates `dir/handlers/` without loading a registry. Event folders must be
/// one of [`EVENTS`]; each entry in them must be a `.py` file that defines `handle_event(` (a
/// text check: `def handle_event(` at the start of a line). Errors name file and line.
pub fn check_dir(dir: &std::path::Path) -> Vec<crate::bots::ConfigError> {
    use crate::bots::ConfigError;
    let mut errors = Vec::new();
    let root = dir.join("handlers");
    let Ok(entries) = std::fs::read_dir(&root) else {
        return errors;
    };
    let mut entries: Vec<_> = entries.flatten().map(|e| e.path()).collect();
    entries.sort();
    let err = |file: PathBuf, line: Option<usize>, message: String| ConfigError {
        file,
        line,
        message,
    };
    for path in entries {
        let name = path
            .file_name()
            .unwrap_or_default()
            .to_string_lossy()
            .to_string();
        if name.starts_with('.') || name == "__pycache__" {
            continue;
        }
        if !path.is_dir() || !EVENTS.contains(&name.as_str()) {
            errors.push(err(
                path.clone(),
                None,
                format!(
                    "unknown event folder `{name}` (expected one of: {})",
                    EVENTS.join(", ")
                ),
            ));
            continue;
        }
        for f in sorted_entries(&path) {
            let fname = f
                .file_name()
                .unwrap_or_default()
                .to_string_lossy()
                .to_string();
            if fname.starts_with('.') || fname == "__pycache__" {
                continue;
            }
            match fname.strip_suffix(".py") {
                Some(stem) if !stem.is_empty() && f.is_file() => {
                    match std::fs::read_to_string(&f) {
                        Err(e) => errors.push(err(f.clone(), None, format!("cannot read: {e}"))),
                        Ok(src) => {
                            let has = src.lines().any(|l| {
                                let l = l.trim_start_matches(|c| c == ' ' || c == '\t');
                                l.starts_with("def handle_event(")
                                    || l.starts_with("async def handle_event(")
                            });
                            if !has {
                                errors.push(err(
                                    f.clone(),
                                    Some(1),
                                    "handler does not define `handle_event(context)`".into(),
                                ));
                            }
                        }
                    }
                }
                _ => errors.push(err(
                    f.clone(),
                    None,
                    "not a .py handler (handlers are `<name>.py` files)".into(),
                )),
            }
        }
    }
    errors
}

/// The entries of `dir` in name order (handlers run and are listed in a stable order); an
/// unreadable folder has none.
fn sorted_entries(dir: &std::path::Path) -> Vec<PathBuf> {
    let mut paths: Vec<_> = std::fs::read_dir(dir)
        .into_iter()
        .flatten()
        .flatten()
        .map(|f| f.path())
        .collect();
    paths.sort();
    paths
}
