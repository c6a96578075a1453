//! The `natter` binary as a child process, for tests that kill -9 it and start it again on the
//! same data directory.

use std::path::Path;
use std::process::{Child, Command, Stdio};

use crate::lifecycle_common::until;

/// A running `natter serve`; killed when dropped so a failing test leaves no server behind.
pub struct Proc(Child);

impl Proc {
    /// SIGKILL (no shutdown path runs), then reap it.
    pub fn kill9(&mut self) {
        self.0.kill().unwrap();
        self.0.wait().unwrap();
    }
}

impl Drop for Proc {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

pub fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port()
}

/// Starts `natter serve` on `port` (rate limits off) with extra environment `env`, and waits
/// until `/healthz` answers. Returns the process and its base URL.
pub async fn spawn_natter(
    data: &Path,
    bots: &Path,
    port: u16,
    env: &[(&str, &str)],
) -> (Proc, String) {
    spawn_natter_logging(data, bots, port, env, Stdio::null()).await
}

/// As [`spawn_natter`], with the server's log (stderr) going to `log`.
pub async fn spawn_natter_logging(
    data: &Path,
    bots: &Path,
    port: u16,
    env: &[(&str, &str)],
    log: Stdio,
) -> (Proc, String) {
    let mut cmd = natter_serve(port);
    cmd.arg("--data").arg(data).arg("--bots").arg(bots);
    cmd.envs(crate::common::engine_env(data));
    cmd.envs(env.iter().copied());
    cmd.stderr(log);
    start(cmd, port).await
}

/// `natter serve` on 127.0.0.1:`port` with rate limits off and quiet logs; add arguments, then
/// [`start`] it.
pub fn natter_serve(port: u16) -> Command {
    let mut cmd = Command::new(env!("CARGO_BIN_EXE_natter"));
    cmd.args(["serve", "--addr", &format!("127.0.0.1:{port}")])
        .args(["--rate-per-ip", "0", "--rate-per-thread", "0"])
        .env("NATTER_LOG", "warn")
        .stdout(Stdio::null())
        .stderr(Stdio::null());
    cmd
}

/// Spawns `cmd` and waits until `/healthz` on `port` answers.
pub async fn start(mut cmd: Command, port: u16) -> (Proc, String) {
    let proc = Proc(cmd.spawn().unwrap());
    let base = format!("http://127.0.0.1:{port}");
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
