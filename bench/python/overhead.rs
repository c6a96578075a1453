//! Per-call overhead of a Python action that returns `{}`, through natter-python-runtime,
//! beside a bare `python3 -c pass` measured in the same run.
//!
//!   cargo bench -p natter-python-runtime --bench python_overhead
//!   NATTER_BENCH_N=500 cargo bench -p natter-python-runtime --bench python_overhead
//!
//! Cases (each call is a fresh process in every case):
//! - `python3 -c pass`: spawn + exit of the bare interpreter (the floor of any fresh process);
//! - warm pool: the process was started ahead (interpreter up, helpers + requests imported);
//!   the pool is given time to refill between calls, as under a normal call rate;
//! - back-to-back: calls with no pause, so the pool must refill as fast as calls arrive;
//! - cold: no pool, the process is started for the call (bubblewrap + imports included).

use natter_python_runtime::*;
use std::os::unix::fs::PermissionsExt;
use std::sync::Arc;
use std::time::{Duration, Instant};

fn stats(name: &str, mut v: Vec<Duration>) {
    v.sort();
    let pct = |p: f64| {
        v[((v.len() as f64 * p).ceil() as usize)
            .saturating_sub(1)
            .min(v.len() - 1)]
    };
    let mean = v.iter().sum::<Duration>() / v.len() as u32;
    println!(
        "{name:<34} n={:<4} p50={:>8.2} ms  p99={:>8.2} ms  mean={:>8.2} ms",
        v.len(),
        pct(0.50).as_secs_f64() * 1e3,
        pct(0.99).as_secs_f64() * 1e3,
        mean.as_secs_f64() * 1e3
    );
}

#[tokio::main(flavor = "multi_thread", worker_threads = 2)]
async fn main() {
    let n: usize = std::env::var("NATTER_BENCH_N")
        .ok()
        .and_then(|s| s.parse().ok())
        .unwrap_or(200);
    let dir = tempfile::Builder::new()
        .prefix("natter-bench-")
        .tempdir()
        .unwrap();
    std::fs::set_permissions(dir.path(), std::fs::Permissions::from_mode(0o755)).unwrap();
    std::fs::write(
        dir.path().join("empty.py"),
        "def execute_action(context):\n    return {}\n",
    )
    .unwrap();
    std::fs::set_permissions(
        dir.path().join("empty.py"),
        std::fs::Permissions::from_mode(0o644),
    )
    .unwrap();
    let req = || RunRequest::action("bench", dir.path(), "empty.py", Context::default());

    let host: Arc<dyn Host> = Arc::new(InMemoryHost::new());
    let rt = Runtime::start(
        RuntimeConfig {
            warm_per_folder: 2,
            ..RuntimeConfig::default()
        },
        host.clone(),
    )
    .await
    .unwrap();
    let python = rt.python_executable().to_path_buf();
    println!(
        "python: {}   sandbox: {}",
        python.display(),
        rt.sandbox_mode().describe()
    );

    // Bare interpreter.
    let mut bare = Vec::new();
    for _ in 0..n {
        let t = Instant::now();
        let st = tokio::process::Command::new(&python)
            .args(["-c", "pass"])
            .status()
            .await
            .unwrap();
        assert!(st.success());
        bare.push(t.elapsed());
    }

    // Warm pool, refilled between calls.
    let mut warm = Vec::new();
    for _ in 0..n {
        rt.prewarm(dir.path()).await.unwrap();
        let t = Instant::now();
        let out = rt.run(req()).await;
        warm.push(t.elapsed());
        assert!(
            out.is_ok() && out.log.iter().any(|l| l.starts_with("process: warm")),
            "{out:#?}"
        );
    }

    // Back to back.
    rt.prewarm(dir.path()).await.unwrap();
    let mut b2b = Vec::new();
    let mut b2b_warm = 0;
    let t0 = Instant::now();
    for _ in 0..n {
        let t = Instant::now();
        let out = rt.run(req()).await;
        b2b.push(t.elapsed());
        assert!(out.is_ok());
        b2b_warm += out.log.iter().any(|l| l.starts_with("process: warm")) as usize;
    }
    let b2b_rate = n as f64 / t0.elapsed().as_secs_f64();
    rt.shutdown();

    // Cold: no pool.
    let cold_rt = Runtime::start(
        RuntimeConfig {
            warm_per_folder: 0,
            ..RuntimeConfig::default()
        },
        host,
    )
    .await
    .unwrap();
    let mut cold = Vec::new();
    for _ in 0..(n / 4).max(10) {
        let t = Instant::now();
        let out = cold_rt.run(req()).await;
        cold.push(t.elapsed());
        assert!(out.is_ok());
    }

    let mut sorted = warm.clone();
    sorted.sort();
    stats("bare `python3 -c pass`", bare);
    stats("action via warm pool", warm);
    stats(&format!("action back-to-back ({b2b_warm}/{n} warm)"), b2b);
    stats("action cold (no pool)", cold);
    println!("back-to-back sustained rate: {b2b_rate:.0} calls/s on this machine");
    println!(
        "overhead of a warm-pool call (end to end, fresh process, {} sandbox): p50 {:.2} ms",
        if rt.sandbox_mode() == SandboxMode::Bubblewrap {
            "bubblewrap"
        } else {
            "fallback"
        },
        sorted[sorted.len() / 2].as_secs_f64() * 1e3
    );
}
