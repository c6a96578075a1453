//! Zygotes: one long-lived python process per bot folder, inside that bot's bubblewrap
//! sandbox, that has imported the runtime and the common packages once and forks one
//! process per call (python/natter_zygote.py says what each call gets).
//!
//! Why per folder: the bot folder is mounted into the sandbox when it starts, and mounting
//! every bot's folder into one sandbox would let one bot read another's code.
//!
//! Invariants:
//! - a zygote never runs user code; a call's code is read from disk by the call's own
//!   process, so an edited script is seen by the next call, and a replaced folder (another
//!   inode) gets a new zygote;
//! - a call holds its zygote (`Arc`) until it ends; a zygote that ended, or that a spawn
//!   found gone, is replaced on the next call, and a spawn that failed because the zygote
//!   was gone is retried once on the new one (the job had not been sent: nothing ran);
//! - at most `max_zygotes` are kept: the least recently used folder's goes first;
//! - after `shutdown` none is started and every one is killed, with its calls.

mod control;
mod forked;

pub use forked::Forked;

use crate::logbuf::Capture;
use crate::sandbox::{Launcher, ProcessKind};
use crate::worker::dir_id;
use control::Control;
use forked::CallFds;
use serde_json::json;
use std::collections::HashMap;
use std::os::fd::AsRawFd;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Instant;
use tokio::process::Child;
use tokio::sync::oneshot;

/// Why a call process could not be had from a zygote.
#[derive(Debug, thiserror::Error)]
pub enum ZygoteError {
    /// The zygote is gone (or went while forking): a new one may serve the call.
    #[error("the zygote ended: {0}")]
    Gone(String),
    /// The zygote could not be started.
    #[error("starting the zygote: {0}")]
    Start(String),
    /// Forking or setting up the call process failed.
    #[error("setting up the call process: {0}")]
    Setup(String),
    #[error("the python runtime is shut down")]
    ShutDown,
    #[error(transparent)]
    Io(#[from] std::io::Error),
}

/// What the zygote reports about one call.
#[derive(Debug)]
enum Note {
    /// The call process ended: exit code, or minus the signal that killed it.
    Exited(i32),
    SpawnFailed(String),
}

/// State shared with the task reading the control socket.
#[derive(Default)]
struct Shared {
    /// Calls waiting for their exit note.
    waiting: Mutex<HashMap<u64, oneshot::Sender<Note>>>,
    gone: AtomicBool,
}

/// One zygote process (bwrap and the python inside).
pub struct ZygoteProcess {
    child: Mutex<Child>,
    pgid: i32,
    /// The python zygote's pid (here, outside its sandbox's pid namespace).
    pid: Option<libc::pid_t>,
    control: Arc<Control>,
    shared: Arc<Shared>,
    reader: tokio::task::JoinHandle<()>,
    next_id: AtomicU64,
    bot_dir: PathBuf,
    dir_id: (u64, u64),
    pub started: Instant,
    max_message: usize,
    max_output: usize,
    startup_timeout: std::time::Duration,
}

impl ZygoteProcess {
    /// Start a zygote for `bot_dir` and wait until it has imported everything.
    async fn start(launcher: &Launcher, bot_dir: &Path) -> Result<ZygoteProcess, ZygoteError> {
        let id = dir_id(bot_dir).map_err(|e| ZygoteError::Start(e.to_string()))?;
        let (control, theirs) = control::pair()?;
        let fd = theirs.as_raw_fd();
        let mut cmd = launcher.command(ProcessKind::Zygote, bot_dir, fd, fd, None);
        let spawned = cmd.spawn();
        drop((cmd, theirs)); // ours must close so EOF means the zygote is gone
        let mut child = spawned.map_err(|e| ZygoteError::Start(e.to_string()))?;
        let pgid = child.id().map(|p| p as i32).unwrap_or(0); // setsid: pgid == pid
        let cfg = &launcher.cfg;
        // The zygote prints nothing itself; keep its stderr for a failed start.
        let stderr = child
            .stderr
            .take()
            .map(|s| Capture::start(s, cfg.max_output));
        let stdout = child.stdout.take().map(|s| Capture::start(s, 4096));
        let ready = tokio::time::timeout(cfg.startup_timeout, control.recv()).await;
        let mut zygote_pid = None;
        let why = match ready {
            Ok(Ok(Some((msg, pid)))) if msg["t"] == "ready" => {
                zygote_pid = pid;
                None
            }
            Ok(Ok(Some((msg, _)))) => Some(format!("unexpected message {msg}")),
            Ok(Ok(None)) => Some("exited before becoming ready".to_string()),
            Ok(Err(e)) => Some(e.to_string()),
            Err(_) => Some("did not become ready in time".to_string()),
        };
        if let Some(why) = why {
            // SAFETY: the group is ours (setsid in the child), its leader not yet reaped.
            unsafe { libc::killpg(pgid, libc::SIGKILL) };
            let _ = child.start_kill();
            let err = match stderr {
                Some(c) => c.finish(std::time::Duration::from_millis(500)).await,
                None => String::new(),
            };
            return Err(ZygoteError::Start(format!(
                "{why}; stderr: {}",
                crate::worker::tail(&err, 2000).trim()
            )));
        }
        drop(stdout);
        drop(stderr); // drained in the background until the zygote ends
        let control = Arc::new(control);
        let shared = Arc::new(Shared::default());
        let reader = tokio::spawn(read_notes(control.clone(), shared.clone()));
        Ok(ZygoteProcess {
            child: Mutex::new(child),
            pgid,
            pid: zygote_pid,
            control,
            shared,
            reader,
            next_id: AtomicU64::new(1),
            bot_dir: bot_dir.to_path_buf(),
            dir_id: id,
            started: Instant::now(),
            max_message: cfg.max_message,
            max_output: cfg.max_output,
            startup_timeout: cfg.startup_timeout,
        })
    }

    /// Still running, and its folder still the folder it mounted?
    fn usable(&self) -> bool {
        !self.shared.gone.load(Ordering::SeqCst)
            && matches!(self.child.lock().unwrap().try_wait(), Ok(None))
            && dir_id(&self.bot_dir).is_ok_and(|id| id == self.dir_id)
    }

    /// Fork one call process and wait until it is ready for its job.
    pub async fn spawn(self: &Arc<Self>) -> Result<Forked, ZygoteError> {
        if self.shared.gone.load(Ordering::SeqCst) {
            return Err(ZygoteError::Gone("it had ended before the call".into()));
        }
        let call = self.next_id.fetch_add(1, Ordering::Relaxed);
        let fds = CallFds::new()?;
        let (tx, rx) = oneshot::channel();
        self.shared.waiting.lock().unwrap().insert(call, tx);
        let sent = self
            .control
            .send(
                &json!({"t": "spawn", "id": call}),
                &[
                    fds.child_channel.as_raw_fd(),
                    fds.child_stdout.as_raw_fd(),
                    fds.child_stderr.as_raw_fd(),
                ],
            )
            .await;
        let CallFds {
            channel,
            stdout,
            stderr,
            child_channel,
            child_stdout,
            child_stderr,
        } = fds;
        drop((child_channel, child_stdout, child_stderr)); // the call process has them now
        if let Err(e) = sent {
            self.shared.waiting.lock().unwrap().remove(&call);
            self.shared.gone.store(true, Ordering::SeqCst);
            return Err(ZygoteError::Gone(format!("sending the spawn request: {e}")));
        }
        let stdout = Capture::start(stdout, self.max_output);
        let stderr = Capture::start(stderr, self.max_output);
        let connect = Forked::connect(channel, stdout, stderr, rx, self.clone(), self.max_message);
        match tokio::time::timeout(self.startup_timeout, connect).await {
            Ok(Ok(f)) => Ok(f),
            Ok(Err(e)) => {
                self.shared.waiting.lock().unwrap().remove(&call);
                if let ZygoteError::Gone(_) = e {
                    self.shared.gone.store(true, Ordering::SeqCst);
                }
                Err(e)
            }
            Err(_) => {
                self.shared.waiting.lock().unwrap().remove(&call);
                Err(ZygoteError::Setup(format!(
                    "the call process was not ready within {} s",
                    self.startup_timeout.as_secs_f64()
                )))
            }
        }
    }

    /// Kill the zygote and, with its sandbox, every call it is running. Idempotent.
    fn kill(&self) {
        self.shared.gone.store(true, Ordering::SeqCst);
        let mut child = self.child.lock().unwrap();
        // Only while the leader is unreaped: until then its pid (the group id) cannot be
        // reused by an unrelated process.
        if self.pgid > 0 && matches!(child.try_wait(), Ok(None)) {
            // SAFETY: plain syscall; the group is ours (created by setsid in the child).
            unsafe { libc::killpg(self.pgid, libc::SIGKILL) };
        }
        let _ = child.start_kill();
    }
}

impl Drop for ZygoteProcess {
    fn drop(&mut self) {
        self.reader.abort();
        self.kill();
    }
}

/// Route the zygote's notes to the calls waiting for them, until it closes the socket.
async fn read_notes(control: Arc<Control>, shared: Arc<Shared>) {
    loop {
        let msg = match control.recv().await {
            Ok(Some((m, _))) => m,
            Ok(None) | Err(_) => break,
        };
        let Some(id) = msg["id"].as_u64() else {
            continue;
        };
        let note = match msg["t"].as_str() {
            Some("exit") => Note::Exited(msg["code"].as_i64().unwrap_or(-1) as i32),
            Some("spawn_failed") => {
                Note::SpawnFailed(msg["message"].as_str().unwrap_or("failed").to_string())
            }
            _ => continue,
        };
        if let Some(tx) = shared.waiting.lock().unwrap().remove(&id) {
            let _ = tx.send(note);
        }
    }
    shared.gone.store(true, Ordering::SeqCst);
    // Dropping the senders tells every waiting call that the zygote is gone.
    shared.waiting.lock().unwrap().clear();
}

/// Start a zygote on `dir` and fork one call process from it: can this host run zygotes?
pub async fn trial(launcher: &Launcher, dir: &Path) -> Result<(), ZygoteError> {
    let z = Arc::new(ZygoteProcess::start(launcher, dir).await?);
    let forked = z.spawn().await?;
    drop(forked);
    Ok(())
}

/// One folder's zygote, started once at a time.
#[derive(Default)]
struct Slot {
    current: tokio::sync::Mutex<Option<Arc<ZygoteProcess>>>,
    last_used: Mutex<Option<Instant>>,
}

/// The zygotes of all bot folders.
pub struct Zygotes {
    launcher: Arc<Launcher>,
    slots: Mutex<HashMap<PathBuf, Arc<Slot>>>,
    closed: AtomicBool,
}

impl Zygotes {
    pub fn new(launcher: Arc<Launcher>) -> Zygotes {
        Zygotes {
            launcher,
            slots: Mutex::default(),
            closed: AtomicBool::new(false),
        }
    }

    /// The live zygote of `dir`, started if there is none (`true`: started by this call).
    pub async fn get(&self, dir: &Path) -> Result<(Arc<ZygoteProcess>, bool), ZygoteError> {
        if self.closed.load(Ordering::SeqCst) {
            return Err(ZygoteError::ShutDown);
        }
        let slot = self
            .slots
            .lock()
            .unwrap()
            .entry(dir.to_path_buf())
            .or_default()
            .clone();
        *slot.last_used.lock().unwrap() = Some(Instant::now());
        let mut current = slot.current.lock().await;
        if let Some(z) = current.as_ref() {
            if z.usable() {
                return Ok((z.clone(), false));
            }
        }
        *current = None; // the old one ends once its last call has
                         // Started from a runtime task: the zygote's death signal is tied to the thread
                         // that spawns it, and runtime worker threads live as long as the runtime.
        let launcher = self.launcher.clone();
        let owned_dir = dir.to_path_buf();
        let z = tokio::spawn(async move { ZygoteProcess::start(&launcher, &owned_dir).await })
            .await
            .map_err(|e| ZygoteError::Start(e.to_string()))??;
        let z = Arc::new(z);
        if self.closed.load(Ordering::SeqCst) {
            return Err(ZygoteError::ShutDown);
        }
        *current = Some(z.clone());
        drop(current);
        self.evict(dir);
        Ok((z, true))
    }

    /// Mark `z` as gone so the next call starts a new one.
    pub fn discard(&self, z: &ZygoteProcess) {
        z.shared.gone.store(true, Ordering::SeqCst);
    }

    /// Zygotes running now.
    pub fn count(&self) -> usize {
        let slots: Vec<Arc<Slot>> = self.slots.lock().unwrap().values().cloned().collect();
        slots
            .iter()
            .filter(|s| s.current.try_lock().map(|c| c.is_some()).unwrap_or(true))
            .count()
    }

    /// Is a zygote of `dir` up?
    pub fn is_up(&self, dir: &Path) -> bool {
        let slot = self.slots.lock().unwrap().get(dir).cloned();
        slot.is_some_and(|s| {
            s.current
                .try_lock()
                .map(|c| c.as_ref().is_some_and(|z| z.usable()))
                .unwrap_or(false)
        })
    }

    /// The pid of `dir`'s python zygote, if one is up.
    pub fn pid(&self, dir: &Path) -> Option<u32> {
        let slot = self.slots.lock().unwrap().get(dir).cloned()?;
        let current = slot.current.try_lock().ok()?;
        let z = current.as_ref()?;
        z.usable().then_some(z.pid).flatten().map(|p| p as u32)
    }

    /// Keep at most `max_zygotes`: end the least recently used other folders' zygotes.
    fn evict(&self, keep: &Path) {
        let max = self.launcher.cfg.max_zygotes.max(1);
        let mut slots: Vec<(PathBuf, Arc<Slot>)> = self
            .slots
            .lock()
            .unwrap()
            .iter()
            .map(|(d, s)| (d.clone(), s.clone()))
            .collect();
        slots.retain(|(_, s)| s.current.try_lock().map(|c| c.is_some()).unwrap_or(true));
        if slots.len() <= max {
            return;
        }
        slots.sort_by_key(|(_, s)| *s.last_used.lock().unwrap());
        let mut over = slots.len() - max;
        for (d, s) in slots {
            if over == 0 {
                break;
            }
            if d == keep {
                continue;
            }
            if let Ok(mut c) = s.current.try_lock() {
                *c = None; // killed once its running calls (if any) have ended
                over -= 1;
            }
        }
    }

    /// Start no more zygotes and kill every one, with the calls it is running.
    pub fn shutdown(&self) {
        self.closed.store(true, Ordering::SeqCst);
        let slots: Vec<Arc<Slot>> = self.slots.lock().unwrap().drain().map(|(_, s)| s).collect();
        for s in slots {
            if let Ok(mut c) = s.current.try_lock() {
                if let Some(z) = c.take() {
                    z.kill();
                }
            }
        }
    }
}
