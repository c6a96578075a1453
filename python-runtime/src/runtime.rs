//! The public entry point: a `Runtime` runs actions and event handlers.
//!
//! Start one per server with [`Runtime::start`], share it (it is `Clone`), call
//! [`Runtime::run`] per action or handler call, and [`Runtime::shutdown`] on exit.
//!
//! Invariants: every call gets a fresh process (forked by its bot folder's zygote when
//! zygotes are in use, else from the warm pool when one is ready, else started on the spot);
//! at most `max_concurrent_runs` calls run at once; the sandbox mode chosen at start, and
//! how the call's process was made, are named in every run's log.

use crate::config::{RuntimeConfig, SandboxPolicy};
use crate::helpers::RunScope;
use crate::host::{ConversationRef, Host};
use crate::interpreter::Interpreter;
use crate::outcome::{RunOutcome, RunStatus};
use crate::pool::Pool;
use crate::run::{run_job, Job};
use crate::sandbox::{Launcher, SandboxMode};
use crate::worker::Worker;
use crate::zygote::{Forked, ZygoteError, Zygotes};
use crate::{Error, RunKind, RunRequest};
use serde_json::json;
use std::path::{Component, Path, PathBuf};
use std::sync::atomic::{AtomicU64, Ordering::Relaxed};
use std::sync::Arc;
use std::time::{Duration, Instant};
use tokio::sync::Semaphore;

/// The embedded Python side (helpers + job loop).
pub const RUNTIME_PY: &str = include_str!("../python/natter_runtime.py");
/// The embedded zygote (forks one process per call inside a bot's sandbox).
pub const ZYGOTE_PY: &str = include_str!("../python/natter_zygote.py");

/// Runs bot owners' Python code. Cheap to clone.
#[derive(Clone)]
pub struct Runtime {
    inner: Arc<Inner>,
}

/// Counters for the server's metrics (monotonic since start, except `warm_ready`).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct RuntimeStats {
    pub runs: u64,
    pub ok: u64,
    pub timeouts: u64,
    /// Every other failure (exception, syntax error, crash, ...).
    pub failed: u64,
    /// Calls served by a pre-started process.
    pub warm: u64,
    /// Calls that had to start their process.
    pub cold: u64,
    /// Calls forked by their bot's zygote.
    pub forked: u64,
    /// Zygotes running now (one per bot folder in use).
    pub zygotes: usize,
    /// Warm processes ready now, all bots together.
    pub warm_ready: usize,
}

#[derive(Default)]
struct Counters {
    runs: AtomicU64,
    ok: AtomicU64,
    timeouts: AtomicU64,
    failed: AtomicU64,
    warm: AtomicU64,
    cold: AtomicU64,
    forked: AtomicU64,
}

struct Inner {
    counters: Counters,
    launcher: Arc<Launcher>,
    pool: Pool,
    /// Under bubblewrap with `zygote` on: one zygote per bot folder forks the calls.
    zygotes: Option<Zygotes>,
    /// Why there is no zygote although configured (for every run's log).
    no_zygote: Option<String>,
    host: Arc<dyn Host>,
    slots: Semaphore,
    /// Why bubblewrap is not used, when it is not.
    fallback_reason: Option<String>,
    runtime_dir: PathBuf,
}

impl Drop for Inner {
    fn drop(&mut self) {
        self.pool.shutdown();
        if let Some(z) = &self.zygotes {
            z.shutdown();
        }
        if let Some(e) = &self.launcher.egress {
            e.shutdown();
        }
        let _ = std::fs::remove_dir_all(&self.runtime_dir);
    }
}

impl Runtime {
    /// Probe the interpreter and the sandbox, and get ready to run code. Takes a few hundred
    /// milliseconds (one trial process). Call inside a tokio runtime.
    pub async fn start(cfg: RuntimeConfig, host: Arc<dyn Host>) -> Result<Runtime, Error> {
        let python = cfg.python.clone();
        let interpreter = tokio::task::spawn_blocking(move || Interpreter::probe(&python))
            .await
            .map_err(|e| Error::Interpreter(e.to_string()))??;
        let runtime_dir = write_runtime_file()?;
        let runtime_file = runtime_dir.join("natter_runtime.py");
        // SAFETY: geteuid has no preconditions.
        let is_root = unsafe { libc::geteuid() } == 0;
        let mut launcher = Launcher {
            mode: SandboxMode::Bubblewrap,
            interpreter,
            runtime_file,
            cfg,
            is_root,
            uids: None,
            egress: None,
        };
        launcher.prepare_stage()?;
        let mut fallback_reason = None;
        if launcher.cfg.sandbox == SandboxPolicy::Disable {
            launcher.mode = SandboxMode::Fallback;
            fallback_reason = Some("bubblewrap disabled by configuration".to_string());
        } else if let Err(e) = trial(&launcher, &runtime_dir).await {
            if launcher.cfg.sandbox == SandboxPolicy::Require {
                let _ = std::fs::remove_dir_all(&runtime_dir);
                return Err(Error::Spawn(format!(
                    "bubblewrap sandbox required but unusable: {e}"
                )));
            }
            tracing::warn!(error = %e, "bubblewrap unusable; python runs WITHOUT the bubblewrap sandbox");
            launcher.mode = SandboxMode::Fallback;
            fallback_reason = Some(format!("bubblewrap unusable: {e}"));
        }
        if launcher.mode == SandboxMode::Bubblewrap && launcher.cfg.isolate_network {
            let egress = crate::egress::Egress::new(runtime_dir.join("egress"), host.clone())?;
            launcher.egress = Some(Arc::new(egress));
        }
        if launcher.mode == SandboxMode::Fallback {
            tracing::warn!("python runs without bubblewrap: its network is NOT isolated (the [python] egress allow-list is not enforced)");
        }
        if launcher.mode == SandboxMode::Fallback && is_root {
            launcher.uids = Some(crate::uids::UidPool::shared(launcher.cfg.fallback_uid_base));
        }
        if launcher.mode == SandboxMode::Fallback {
            if let Err(e) = Worker::start(&launcher, &runtime_dir).await {
                let _ = std::fs::remove_dir_all(&runtime_dir);
                return Err(e);
            }
        }
        let slots = Semaphore::new(launcher.cfg.max_concurrent_runs.max(1));
        let launcher = Arc::new(launcher);
        let mut zygotes = None;
        let mut no_zygote = None;
        if launcher.mode == SandboxMode::Bubblewrap && launcher.cfg.zygote {
            // A zygote needs nested user namespaces inside the sandbox; where the host
            // forbids them, calls get fresh interpreters from the pool instead.
            match crate::zygote::trial(&launcher, &runtime_dir).await {
                Ok(()) => zygotes = Some(Zygotes::new(launcher.clone())),
                Err(e) => {
                    tracing::warn!(error = %e, "python zygote unusable; every call starts a fresh interpreter");
                    no_zygote = Some(format!("no zygote ({e}): fresh interpreters"));
                }
            }
        }
        Ok(Runtime {
            inner: Arc::new(Inner {
                counters: Counters::default(),
                pool: Pool::new(launcher.clone()),
                zygotes,
                no_zygote,
                launcher,
                host,
                slots,
                fallback_reason,
                runtime_dir,
            }),
        })
    }

    /// The isolation runs get.
    pub fn sandbox_mode(&self) -> SandboxMode {
        self.inner.launcher.mode
    }

    /// Why runs are not in bubblewrap, when they are not (for the server's start-up log).
    pub fn fallback_reason(&self) -> Option<&str> {
        self.inner.fallback_reason.as_deref()
    }

    /// The real interpreter in use.
    pub fn python_executable(&self) -> &Path {
        &self.inner.launcher.interpreter.executable
    }

    /// Start `bot_dir`'s zygote (or, without one, its warm processes) and wait until it is
    /// ready (e.g. at server start, for every bot). Without it the first call of a bot starts
    /// it on the spot.
    pub async fn prewarm(&self, bot_dir: &Path) -> Result<(), Error> {
        let dir = canonical_dir(bot_dir)?;
        match &self.inner.zygotes {
            Some(z) => match z.get(&dir).await {
                Ok(_) | Err(ZygoteError::ShutDown) => {}
                Err(e) => return Err(Error::Spawn(e.to_string())),
            },
            None => self.inner.pool.prewarm(&dir).await,
        }
        Ok(())
    }

    /// Calls are forked by per-bot zygotes (bubblewrap with `zygote` on, and the host allows
    /// it); otherwise each gets a fresh interpreter.
    pub fn uses_zygotes(&self) -> bool {
        self.inner.zygotes.is_some()
    }

    /// Is `bot_dir`'s zygote up right now?
    pub fn zygote_ready(&self, bot_dir: &Path) -> bool {
        match (&self.inner.zygotes, canonical_dir(bot_dir)) {
            (Some(z), Ok(d)) => z.is_up(&d),
            _ => false,
        }
    }

    /// The pid of `bot_dir`'s python zygote (as the server sees it), if one is up: for
    /// diagnostics, metrics and tests.
    pub fn zygote_pid(&self, bot_dir: &Path) -> Option<u32> {
        let dir = canonical_dir(bot_dir).ok()?;
        self.inner.zygotes.as_ref()?.pid(&dir)
    }

    /// Warm processes (the pool, without zygotes) ready for `bot_dir` right now.
    pub fn warm_count(&self, bot_dir: &Path) -> usize {
        canonical_dir(bot_dir)
            .map(|d| self.inner.pool.ready_count(&d))
            .unwrap_or(0)
    }

    /// Counters for metrics.
    pub fn stats(&self) -> RuntimeStats {
        let c = &self.inner.counters;
        RuntimeStats {
            runs: c.runs.load(Relaxed),
            ok: c.ok.load(Relaxed),
            timeouts: c.timeouts.load(Relaxed),
            failed: c.failed.load(Relaxed),
            warm: c.warm.load(Relaxed),
            cold: c.cold.load(Relaxed),
            forked: c.forked.load(Relaxed),
            zygotes: self.inner.zygotes.as_ref().map_or(0, Zygotes::count),
            warm_ready: self.inner.pool.total_ready(),
        }
    }

    /// Run one action or event handler. Never fails: every failure is an outcome with a
    /// status, `{"error": ...}` as the value, and the details in the log.
    pub async fn run(&self, req: RunRequest) -> RunOutcome {
        let out = self.run_inner(req).await;
        let c = &self.inner.counters;
        c.runs.fetch_add(1, Relaxed);
        match out.status {
            RunStatus::Ok => c.ok.fetch_add(1, Relaxed),
            RunStatus::Timeout => c.timeouts.fetch_add(1, Relaxed),
            _ => c.failed.fetch_add(1, Relaxed),
        };
        out
    }

    async fn run_inner(&self, req: RunRequest) -> RunOutcome {
        let started = Instant::now();
        let inner = &self.inner;
        let cfg = &inner.launcher.cfg;
        let timeout = req.timeout.unwrap_or(match req.kind {
            RunKind::Action => cfg.action_timeout,
            RunKind::EventHandler => cfg.handler_timeout,
        });
        let mut log = vec![format!("sandbox: {}", inner.launcher.mode.describe())];
        if let Some(why) = &inner.fallback_reason {
            log.push(format!("sandbox: {why}"));
        }
        log.push(inner.launcher.network_note().to_string());
        if let Some(why) = &inner.no_zygote {
            log.push(format!("process: {why}"));
        }
        let function = req.kind.function();
        let (dir, script) = match check_paths(&req.bot_dir, &req.script) {
            Ok(x) => x,
            Err(e) => return failed(RunStatus::Internal, e.to_string(), log, started),
        };
        let Ok(_slot) = tokio::time::timeout(timeout, inner.slots.acquire()).await else {
            let msg = format!(
                "no free slot within {} s ({} runs at once)",
                timeout.as_secs_f64(),
                cfg.max_concurrent_runs
            );
            return failed(RunStatus::Timeout, msg, log, started);
        };
        if let Some(egress) = &inner.launcher.egress {
            egress.set_bot(&dir, &req.bot);
        }
        let process = match self.acquire(&dir, &mut log).await {
            Ok(p) => p,
            Err(e) => return failed(RunStatus::Internal, e.to_string(), log, started),
        };
        let scope = RunScope {
            bot: req.bot.clone(),
            conversation: req.context.conversation.as_ref().map(|c| ConversationRef {
                bot: req.bot.clone(),
                conversation_id: c.id.clone(),
                channel: c.channel.clone(),
            }),
            test_run: req.test_run,
        };
        if req.test_run {
            log.push("test run: hand_off_conversation is skipped".into());
        }
        let job = json!({
            "t": "job",
            "script": script.to_string_lossy(),
            "function": function,
            "context": req.context,
        });
        // One wall-clock limit for the whole call: waiting for a slot or a process counts.
        let remaining = timeout.saturating_sub(started.elapsed());
        let job = Job {
            message: job,
            timeout,
            remaining,
            function,
            log,
            started,
        };
        match process {
            Acquired::Forked(f) => run_job(f, job, inner.host.as_ref(), &scope).await,
            Acquired::Worker(w) => run_job(*w, job, inner.host.as_ref(), &scope).await,
        }
    }

    /// The process for one call: forked by the folder's zygote, else from the warm pool,
    /// else started on the spot.
    async fn acquire(&self, dir: &Path, log: &mut Vec<String>) -> Result<Acquired, Error> {
        let inner = &self.inner;
        if let Some(zygotes) = &inner.zygotes {
            match fork(zygotes, dir, log).await {
                Ok(f) => {
                    inner.counters.forked.fetch_add(1, Relaxed);
                    return Ok(Acquired::Forked(f));
                }
                // After shutdown: a process of its own, as without a zygote.
                Err(ZygoteError::ShutDown) => {}
                // This folder's zygote cannot start: serve the call with a process of its
                // own rather than fail it.
                Err(ZygoteError::Start(why)) => {
                    tracing::warn!(dir = %dir.display(), %why, "python zygote did not start");
                    log.push(format!("process: the bot's zygote did not start ({why})"));
                }
                Err(e) => return Err(Error::Spawn(e.to_string())),
            }
        }
        if let Some(w) = inner
            .pool
            .take_or_wait(dir, inner.launcher.cfg.startup_timeout)
            .await
        {
            inner.counters.warm.fetch_add(1, Relaxed);
            log.push(format!(
                "process: warm (started {:.0} ms ago)",
                w.started.elapsed().as_secs_f64() * 1e3
            ));
            return Ok(Acquired::Worker(Box::new(w)));
        }
        let w = Worker::start(&inner.launcher, dir).await?;
        inner.counters.cold.fetch_add(1, Relaxed);
        log.push(format!(
            "process: cold start ({:.0} ms)",
            w.started.elapsed().as_secs_f64() * 1e3
        ));
        Ok(Acquired::Worker(Box::new(w)))
    }

    /// Stop starting processes; kill the warm ones and the zygotes (with the calls they are
    /// running). Other runs in progress finish (or hit their limit); later calls still work,
    /// each starting its own process.
    pub fn shutdown(&self) {
        self.inner.pool.shutdown();
        if let Some(z) = &self.inner.zygotes {
            z.shutdown();
        }
    }
}

/// A call's process.
enum Acquired {
    Forked(Forked),
    Worker(Box<Worker>),
}

/// A call process forked by `dir`'s zygote. A zygote found gone is replaced and the fork
/// tried once more: the job has not been sent yet, so nothing ran twice.
async fn fork(zygotes: &Zygotes, dir: &Path, log: &mut Vec<String>) -> Result<Forked, ZygoteError> {
    let mut retried = false;
    loop {
        let (zygote, fresh) = zygotes.get(dir).await?;
        let t = Instant::now();
        match zygote.spawn().await {
            Ok(f) => {
                let up = zygote.started.elapsed().as_secs_f64();
                log.push(if fresh {
                    format!("process: forked by the bot's zygote (zygote started for this call, {:.0} ms ago)", up * 1e3)
                } else {
                    format!("process: forked by the bot's zygote (up {up:.1} s)")
                });
                log.push(format!(
                    "process: ready in {:.1} ms",
                    t.elapsed().as_secs_f64() * 1e3
                ));
                return Ok(f);
            }
            Err(ZygoteError::Gone(why)) if !retried => {
                tracing::warn!(dir = %dir.display(), %why, "python zygote gone; starting a new one");
                log.push(format!(
                    "process: the bot's zygote had ended ({why}); started a new one"
                ));
                zygotes.discard(&zygote);
                retried = true;
            }
            Err(e) => return Err(e),
        }
    }
}

/// Start one bubblewrap worker to see whether the sandbox works here. A slow start (a busy
/// machine) is retried: only a real failure may send every later run to the fallback.
async fn trial(launcher: &Launcher, dir: &Path) -> Result<(), Error> {
    let mut attempt = 0;
    loop {
        attempt += 1;
        match Worker::start(launcher, dir).await {
            Ok(_) => return Ok(()),
            Err(e) if attempt < 3 && e.to_string().contains("did not become ready in time") => {
                tracing::warn!(error = %e, attempt, "bubblewrap trial was slow; trying again");
            }
            Err(e) => return Err(e),
        }
    }
}

fn failed(status: RunStatus, error: String, mut log: Vec<String>, started: Instant) -> RunOutcome {
    log.push(format!("error: {error}"));
    RunOutcome {
        status,
        value: json!({"error": "The Python code could not be run; see the run log."}),
        error: Some(error),
        traceback: None,
        stdout: String::new(),
        stderr: String::new(),
        log,
        duration: started.elapsed(),
        handed_off: false,
    }
}

fn canonical_dir(dir: &Path) -> Result<PathBuf, Error> {
    let d = std::fs::canonicalize(dir)
        .map_err(|e| Error::BotDir(dir.display().to_string(), e.to_string()))?;
    if !d.is_dir() {
        return Err(Error::BotDir(
            dir.display().to_string(),
            "not a directory".into(),
        ));
    }
    Ok(d)
}

/// The canonical bot folder, and the script as a plain relative path that stays inside it
/// (symlinks included).
fn check_paths(bot_dir: &Path, script: &Path) -> Result<(PathBuf, PathBuf), Error> {
    let dir = canonical_dir(bot_dir)?;
    let bad = |why: &str| Error::Script(script.display().to_string(), why.to_string());
    if script.as_os_str().is_empty()
        || !script
            .components()
            .all(|c| matches!(c, Component::Normal(_) | Component::CurDir))
    {
        return Err(bad(
            "must be a relative path inside the bot folder, without '..'",
        ));
    }
    let real = std::fs::canonicalize(dir.join(script)).map_err(|e| bad(&e.to_string()))?;
    if !real.starts_with(&dir) || !real.is_file() {
        return Err(bad("is not a file inside the bot folder"));
    }
    Ok((dir, script.to_path_buf()))
}

/// Write the embedded Python file where the sandbox user can read it.
fn write_runtime_file() -> Result<PathBuf, Error> {
    use std::os::unix::fs::PermissionsExt;
    let nanos = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.as_nanos())
        .unwrap_or(0);
    let dir = std::env::temp_dir().join(format!(
        "natter-python-runtime-{}-{nanos}",
        std::process::id()
    ));
    std::fs::create_dir_all(&dir)?;
    std::fs::set_permissions(&dir, std::fs::Permissions::from_mode(0o755))?;
    for (name, text) in [
        ("natter_runtime.py", RUNTIME_PY),
        ("natter_zygote.py", ZYGOTE_PY),
    ] {
        let file = dir.join(name);
        std::fs::write(&file, text)?;
        std::fs::set_permissions(&file, std::fs::Permissions::from_mode(0o644))?;
    }
    Ok(dir)
}

#[allow(dead_code)]
fn _assert_send_sync() {
    fn is<T: Send + Sync>() {}
    is::<Runtime>();
    let _ = Duration::ZERO;
}
