//! The warm pool: processes started ahead of need, per bot folder, for when calls are not
//! forked by zygotes (no bubblewrap, or `zygote: false`).
//!
//! Why per folder: the bot folder is mounted into the sandbox when the process starts, and
//! mounting every bot's folder into every sandbox would let one bot read another's code.
//!
//! Invariants:
//! - a process serves exactly one call; taking one starts its replacement in the background;
//! - warm + starting processes never exceed `max_warm_total` (the least recently used
//!   folder gives a process up when another folder needs one);
//! - after `shutdown` nothing is started and every warm process is killed.

use crate::sandbox::Launcher;
use crate::worker::Worker;
use std::collections::{HashMap, VecDeque};
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex};
use std::time::Instant;
use tokio::sync::Notify;

#[derive(Default)]
struct Folder {
    ready: VecDeque<Worker>,
    starting: usize,
    last_used: Option<Instant>,
}

#[derive(Default)]
struct State {
    folders: HashMap<PathBuf, Folder>,
    total: usize,
    closed: bool,
}

/// Shared pool handle.
#[derive(Clone)]
pub struct Pool {
    launcher: Arc<Launcher>,
    state: Arc<Mutex<State>>,
    /// Signalled whenever a warm process becomes ready (for `prewarm`).
    ready: Arc<Notify>,
}

impl Pool {
    pub fn new(launcher: Arc<Launcher>) -> Pool {
        Pool {
            launcher,
            state: Arc::default(),
            ready: Arc::new(Notify::new()),
        }
    }

    /// A ready process for `dir`, if one is warm; refills in the background either way.
    pub fn take(&self, dir: &Path) -> Option<Worker> {
        let mut found = None;
        {
            let mut st = self.state.lock().unwrap();
            if st.closed {
                return None;
            }
            let mut dropped = 0;
            if let Some(f) = st.folders.get_mut(dir) {
                f.last_used = Some(Instant::now());
                while let Some(mut w) = f.ready.pop_front() {
                    if w.usable() {
                        found = Some(w);
                        break;
                    }
                    dropped += 1; // died while waiting, or the folder was replaced
                }
            }
            st.total -= dropped + usize::from(found.is_some());
        }
        self.refill(dir);
        found
    }

    /// A ready process for `dir`; when none is ready but some are starting, wait (at most
    /// `wait`) for one of those rather than start yet another: it began earlier, so it is
    /// ready sooner, and the machine does not pay for two start-ups per call under load.
    pub async fn take_or_wait(&self, dir: &Path, wait: std::time::Duration) -> Option<Worker> {
        let deadline = tokio::time::Instant::now() + wait;
        loop {
            let notified = self.ready.notified();
            if let Some(w) = self.take(dir) {
                return Some(w);
            }
            let starting = {
                let st = self.state.lock().unwrap();
                !st.closed && st.folders.get(dir).is_some_and(|f| f.starting > 0)
            };
            if !starting || tokio::time::timeout_at(deadline, notified).await.is_err() {
                return None;
            }
        }
    }

    /// Start processes for `dir` up to `warm_per_folder`, within the total bound.
    pub fn refill(&self, dir: &Path) {
        let cfg = &self.launcher.cfg;
        let mut to_start = 0;
        let mut evicted = Vec::new();
        {
            let mut st = self.state.lock().unwrap();
            if st.closed || cfg.warm_per_folder == 0 {
                return;
            }
            let f = st.folders.entry(dir.to_path_buf()).or_default();
            f.last_used.get_or_insert_with(Instant::now);
            let want = cfg
                .warm_per_folder
                .saturating_sub(f.ready.len() + f.starting);
            for _ in 0..want {
                if st.total >= cfg.max_warm_total {
                    match evict_lru(&mut st, dir) {
                        Some(w) => evicted.push(w),
                        None => break,
                    }
                }
                st.total += 1;
                st.folders.get_mut(dir).unwrap().starting += 1;
                to_start += 1;
            }
        }
        drop(evicted); // killed outside the lock
        for _ in 0..to_start {
            let pool = self.clone();
            let dir = dir.to_path_buf();
            tokio::spawn(async move {
                let started = Worker::start(&pool.launcher, &dir).await;
                let mut st = pool.state.lock().unwrap();
                if st.closed {
                    return; // shut down meanwhile: counts were reset; the worker drops (killed)
                }
                let f = st.folders.entry(dir.clone()).or_default();
                f.starting -= 1;
                match started {
                    Ok(w) => {
                        f.ready.push_back(w);
                        drop(st);
                        pool.ready.notify_waiters();
                    }
                    Err(e) => {
                        st.total -= 1;
                        drop(st);
                        tracing::warn!(dir = %dir.display(), error = %e, "could not start a warm python worker");
                        pool.ready.notify_waiters();
                    }
                }
            });
        }
    }

    /// Warm processes ready for `dir` now.
    pub fn ready_count(&self, dir: &Path) -> usize {
        self.state
            .lock()
            .unwrap()
            .folders
            .get(dir)
            .map(|f| f.ready.len())
            .unwrap_or(0)
    }

    /// Warm processes ready now, all folders together.
    pub fn total_ready(&self) -> usize {
        self.state
            .lock()
            .unwrap()
            .folders
            .values()
            .map(|f| f.ready.len())
            .sum()
    }

    /// Fill `dir`'s share and wait until it is ready (or nothing is starting any more).
    pub async fn prewarm(&self, dir: &Path) {
        self.refill(dir);
        loop {
            let notified = self.ready.notified();
            {
                let st = self.state.lock().unwrap();
                match st.folders.get(dir) {
                    Some(f) if f.starting > 0 && !st.closed => {}
                    _ => return,
                }
            }
            notified.await;
        }
    }

    /// Stop starting processes and kill the warm ones.
    pub fn shutdown(&self) {
        let folders = {
            let mut st = self.state.lock().unwrap();
            st.closed = true;
            st.total = 0;
            std::mem::take(&mut st.folders)
        };
        drop(folders);
        self.ready.notify_waiters();
    }
}

/// Take a ready worker from the least recently used other folder.
fn evict_lru(st: &mut State, except: &Path) -> Option<Worker> {
    let victim = st
        .folders
        .iter()
        .filter(|(d, f)| d.as_path() != except && !f.ready.is_empty())
        .min_by_key(|(_, f)| f.last_used)
        .map(|(d, _)| d.clone())?;
    let w = st.folders.get_mut(&victim)?.ready.pop_back();
    if w.is_some() {
        st.total -= 1;
    }
    w
}
