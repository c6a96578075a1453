//! The `natter` binary as a child process, for tests and benchmarks that kill -9 it and start
//! it again on the same data directory.
//!
//! Each process binds port 0 and writes the address it got to a file (`--addr-file`), which
//! is read back here: no port is picked first and bound later, so two tests never race for one.

use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::Duration;

use crate::wait::{until, until_within, PATIENCE};

/// A running `natter serve`; killed when dropped so a failing test leaves no server behind.
pub struct Proc {
    child: Child,
    addr: SocketAddr,
    /// Holds the address file.
    _dir: tempfile::TempDir,
}

impl Proc {
    /// SIGKILL (no shutdown path runs), then reap it.
    pub fn kill9(&mut self) {
        self.child.kill().unwrap();
        self.child.wait().unwrap();
    }

    /// The address the server listens on.
    pub fn addr(&self) -> SocketAddr {
        self.addr
    }

    pub fn id(&self) -> u32 {
        self.child.id()
    }

    /// The base URL, `http://127.0.0.1:<port>`.
    pub fn base(&self) -> String {
        format!("http://{}", self.addr)
    }
}

impl Drop for Proc {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// The `natter` binary beside the running test or benchmark: cargo builds a package's
/// binaries into `target/<profile>/` before its integration tests and benchmarks, which run
/// from `target/<profile>/deps/`.
pub fn natter_bin() -> PathBuf {
    let exe = std::env::current_exe().expect("the running executable's path");
    let mut dir = exe.parent().expect("a directory").to_path_buf();
    if dir.ends_with("deps") {
        dir.pop();
    }
    let bin = dir.join("natter");
    assert!(
        bin.exists(),
        "{} not built (run from a test or bench of natter-server)",
        bin.display()
    );
    bin
}

/// Starts `natter serve` on `data` and `bots` (rate limits off, quiet logs) with extra
/// environment `env` and the store engine of the run, and waits until `/healthz` answers.
pub async fn spawn_natter(data: &Path, bots: &Path, env: &[(&str, &str)]) -> (Proc, String) {
    spawn_natter_logging(data, bots, env, Stdio::null()).await
}

/// As [`spawn_natter`], with the server's log (stderr) going to `log`.
pub async fn spawn_natter_logging(
    data: &Path,
    bots: &Path,
    env: &[(&str, &str)],
    log: Stdio,
) -> (Proc, String) {
    let mut cmd = natter_serve();
    cmd.arg("--data").arg(data).arg("--bots").arg(bots);
    cmd.envs(crate::server::engine_env(data));
    cmd.envs(env.iter().copied());
    cmd.stderr(log);
    start(cmd).await
}

/// `natter serve` on 127.0.0.1, port 0, with rate limits off and quiet logs; add arguments,
/// then [`start`] it.
pub fn natter_serve() -> Command {
    let mut cmd = Command::new(natter_bin());
    cmd.args(["serve", "--addr", "127.0.0.1:0"])
        .args([
            "--rate-per-ip",
            "0",
            "--rate-per-thread",
            "0",
            "--rate-crm-per-ip",
            "0",
        ])
        .env("NATTER_LOG", "warn")
        .stdout(Stdio::null())
        .stderr(Stdio::null());
    cmd
}

/// Spawns `cmd` (a [`natter_serve`]) and waits until it listens and `/healthz` answers.
pub async fn start(cmd: Command) -> (Proc, String) {
    start_within(cmd, PATIENCE).await
}

/// As [`start`], waiting at most `patience` for the server to listen (a start that recovers
/// much work, or a loaded machine).
pub async fn start_within(mut cmd: Command, patience: Duration) -> (Proc, String) {
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("addr");
    cmd.arg("--addr-file").arg(&file);
    let mut child = cmd.spawn().expect("natter starts");
    let addr = until_within("natter to listen", patience, || {
        let addr = std::fs::read_to_string(&file)
            .ok()
            .and_then(|a| a.trim().parse::<SocketAddr>().ok());
        if addr.is_none() {
            if let Ok(Some(status)) = child.try_wait() {
                panic!("natter exited before listening: {status}");
            }
        }
        std::future::ready(addr)
    })
    .await;
    let proc = Proc {
        child,
        addr,
        _dir: dir,
    };
    let base = proc.base();
    let client = reqwest::Client::new();
    until("server up", || async {
        client
            .get(format!("{base}/healthz"))
            .send()
            .await
            .ok()
            .filter(|r| r.status() == 200)
            .map(|_| ())
    })
    .await;
    (proc, base)
}
