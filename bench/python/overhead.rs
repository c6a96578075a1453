//! Python action calls through natter-python-runtime: per-call latency, sustained calls/s
//! with N concurrent callers, and per-call memory, for the zygote (each call forked by the
//! bot's zygote) and the warm pool of fresh interpreters, beside a bare `python3 -c pass`
//! measured in the same run.
//!
//!   cargo bench -p natter-python-runtime --bench python_overhead
//!   NATTER_BENCH_N=500 NATTER_BENCH_SECS=10 NATTER_BENCH_RATES=200,400 \
//!   NATTER_BENCH_CALLERS=1,2,4,8,16 cargo bench ...
//!
//! "offered" cases send calls at a fixed rate whatever the earlier ones are doing (calls
//! from independent conversations); "back to back" cases have N callers each waiting for
//! its call before the next (the most the machine does).
//!
//! Every call is a fresh process with its own limits in every case. The action imports
//! `requests` (as the seeds' actions do) and echoes its arguments.

use natter_python_runtime::*;
use natter_testing::env_or;
use natter_testing::stats::{as_ms, Summary as Stats};
use serde_json::{json, Value};
use std::os::unix::fs::PermissionsExt;
use std::path::Path;
use std::sync::Arc;
use std::time::{Duration, Instant};

const ACTION: &str =
    "import requests\n\ndef execute_action(context):\n    return {\"echo\": context[\"args\"]}\n";

/// Reports the call process's own memory (its /proc is its own in both sandboxes).
const MEMORY: &str = r#"
import requests

def execute_action(context):
    kb = {}
    for line in open("/proc/self/smaps_rollup"):
        parts = line.split()
        if len(parts) == 3 and parts[2] == "kB":
            kb[parts[0].rstrip(":")] = int(parts[1])
    return {"rss": kb["Rss"], "pss": kb["Pss"],
            "uss": kb["Private_Clean"] + kb["Private_Dirty"]}
"#;

fn line(name: &str, s: &Stats, rate: Option<f64>) {
    let rate = rate.map_or(String::new(), |r| format!("  {r:>6.0} calls/s"));
    println!(
        "{name:<44} n={:<5} p50={:>7.2} ms  p99={:>7.2} ms  mean={:>7.2} ms{rate}",
        s.n,
        as_ms(s.p50),
        as_ms(s.p99),
        as_ms(s.mean)
    );
}

fn write(dir: &Path, name: &str, text: &str) {
    std::fs::write(dir.join(name), text).unwrap();
    std::fs::set_permissions(dir.join(name), std::fs::Permissions::from_mode(0o644)).unwrap();
}

fn req(dir: &Path, script: &str, i: usize) -> RunRequest {
    let mut ctx = Context::default();
    ctx.args.insert("i".into(), json!(i));
    RunRequest::action("bench", dir, script, ctx)
}

/// `callers` tasks calling back to back for `secs`: latencies and calls/s.
async fn sustained(rt: &Runtime, dir: &Path, callers: usize, secs: f64) -> (Stats, f64) {
    let end = Instant::now() + Duration::from_secs_f64(secs);
    let t0 = Instant::now();
    let tasks: Vec<_> = (0..callers)
        .map(|c| {
            let rt = rt.clone();
            let dir = dir.to_path_buf();
            tokio::spawn(async move {
                let mut lat = Vec::new();
                let mut i = 0;
                while Instant::now() < end {
                    let t = Instant::now();
                    let out = rt.run(req(&dir, "action.py", c * 1_000_000 + i)).await;
                    lat.push(t.elapsed());
                    assert!(out.is_ok(), "{out:#?}");
                    assert_eq!(out.value["echo"]["i"], json!(c * 1_000_000 + i));
                    i += 1;
                }
                lat
            })
        })
        .collect();
    let mut all = Vec::new();
    for t in tasks {
        all.extend(t.await.unwrap());
    }
    let rate = all.len() as f64 / t0.elapsed().as_secs_f64();
    (Stats::of(all), rate)
}

/// Calls arriving at `rate` per second for `secs` whatever the ones before are doing (an
/// open loop, like independent conversations): latencies and the rate achieved.
async fn offered(rt: &Runtime, dir: &Path, rate: f64, secs: f64) -> (Stats, f64) {
    let total = (rate * secs) as usize;
    let t0 = Instant::now();
    let mut tasks = Vec::with_capacity(total);
    for i in 0..total {
        let at = t0 + Duration::from_secs_f64(i as f64 / rate);
        tokio::time::sleep_until(at.into()).await;
        let rt = rt.clone();
        let dir = dir.to_path_buf();
        tasks.push(tokio::spawn(async move {
            let t = Instant::now();
            let out = rt.run(req(&dir, "action.py", i)).await;
            assert!(out.is_ok(), "{out:#?}");
            t.elapsed()
        }));
    }
    let mut all = Vec::new();
    for t in tasks {
        all.push(t.await.unwrap());
    }
    let achieved = all.len() as f64 / t0.elapsed().as_secs_f64();
    (Stats::of(all), achieved)
}

/// Median per-call memory (kB) over `n` calls: (rss, pss, uss).
async fn call_memory(rt: &Runtime, dir: &Path, n: usize, between: bool) -> (u64, u64, u64) {
    let mut rows: Vec<Value> = Vec::new();
    for i in 0..n {
        if between {
            rt.prewarm(dir).await.unwrap();
        }
        let out = rt.run(req(dir, "memory.py", i)).await;
        assert!(out.is_ok(), "{out:#?}");
        rows.push(out.value);
    }
    let med = |k: &str| {
        let mut v: Vec<u64> = rows.iter().map(|r| r[k].as_u64().unwrap()).collect();
        v.sort();
        v[v.len() / 2]
    };
    (med("rss"), med("pss"), med("uss"))
}

/// A process's RSS and PSS (kB) as seen from here.
fn process_memory(pid: u32) -> Option<(u64, u64)> {
    let text = std::fs::read_to_string(format!("/proc/{pid}/smaps_rollup")).ok()?;
    let get = |k: &str| {
        text.lines()
            .find(|l| l.starts_with(k))
            .and_then(|l| l.split_whitespace().nth(1))
            .and_then(|v| v.parse().ok())
    };
    Some((get("Rss:")?, get("Pss:")?))
}

fn mb(kb: u64) -> f64 {
    kb as f64 / 1024.0
}

#[tokio::main(flavor = "multi_thread", worker_threads = 2)]
async fn main() {
    let n: usize = env_or("NATTER_BENCH_N", 200);
    let secs: f64 = env_or("NATTER_BENCH_SECS", 5.0);
    let rates: Vec<f64> = std::env::var("NATTER_BENCH_RATES")
        .unwrap_or_else(|_| "100,200,300".into())
        .split(',')
        .filter_map(|s| s.trim().parse().ok())
        .filter(|r: &f64| *r > 0.0)
        .collect();
    let callers: Vec<usize> = std::env::var("NATTER_BENCH_CALLERS")
        .unwrap_or_else(|_| "1,4,16".into())
        .split(',')
        .filter_map(|s| s.trim().parse().ok())
        .filter(|c: &usize| *c > 0)
        .collect();
    let dir = tempfile::Builder::new()
        .prefix("natter-bench-")
        .tempdir()
        .unwrap();
    std::fs::set_permissions(dir.path(), std::fs::Permissions::from_mode(0o755)).unwrap();
    write(dir.path(), "action.py", ACTION);
    write(dir.path(), "memory.py", MEMORY);
    let dir = dir.path();
    let host: Arc<dyn Host> = Arc::new(InMemoryHost::new());
    let config = |zygote: bool| RuntimeConfig {
        zygote,
        warm_per_folder: 2,
        ..RuntimeConfig::default()
    };

    let zy = Runtime::start(config(true), host.clone()).await.unwrap();
    let python = zy.python_executable().to_path_buf();
    println!(
        "python: {}   sandbox: {}   cores: {}   zygote: {}",
        python.display(),
        zy.sandbox_mode().describe(),
        std::thread::available_parallelism().map_or(0, |n| n.get()),
        if zy.uses_zygotes() {
            "yes"
        } else {
            "NO (not available here)"
        }
    );

    // Baseline: the bare interpreter.
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
    line("baseline: bare `python3 -c pass`", &Stats::of(bare), None);

    // The warm pool of fresh interpreters (the only way without a zygote).
    let pool = Runtime::start(config(false), host.clone()).await.unwrap();
    let mut warm = Vec::new();
    for i in 0..n {
        pool.prewarm(dir).await.unwrap();
        let t = Instant::now();
        let out = pool.run(req(dir, "action.py", i)).await;
        warm.push(t.elapsed());
        assert!(
            out.is_ok() && out.log.iter().any(|l| l.starts_with("process: warm")),
            "{out:#?}"
        );
    }
    line(
        "pool: warm call (refilled between calls)",
        &Stats::of(warm),
        None,
    );
    pool.prewarm(dir).await.unwrap();
    let (s, rate) = sustained(&pool, dir, 1, secs).await;
    line("pool: back to back, 1 caller", &s, Some(rate));
    let pool_mem = call_memory(&pool, dir, 5, true).await;
    pool.shutdown();

    // The zygote.
    if zy.uses_zygotes() {
        zy.prewarm(dir).await.unwrap();
        let mut seq = Vec::new();
        for i in 0..n {
            let t = Instant::now();
            let out = zy.run(req(dir, "action.py", i)).await;
            seq.push(t.elapsed());
            assert!(out.is_ok(), "{out:#?}");
        }
        line("zygote: one call at a time", &Stats::of(seq), None);
        let mut met = Vec::new();
        for &r in &rates {
            let (s, rate) = offered(&zy, dir, r, secs).await;
            line(
                &format!("zygote: {r:.0} calls/s offered (open loop)"),
                &s,
                Some(rate),
            );
            // Kept up: the achieved rate is the offered one (less the last call's time).
            if r >= 200.0 && rate >= 0.98 * r && as_ms(s.p50) <= 5.0 && as_ms(s.p99) <= 25.0 {
                met.push(format!("{r:.0} calls/s offered"));
            }
        }
        for &c in &callers {
            let (s, rate) = sustained(&zy, dir, c, secs).await;
            line(
                &format!("zygote: back to back, {c} callers"),
                &s,
                Some(rate),
            );
            if rate >= 200.0 && as_ms(s.p50) <= 5.0 && as_ms(s.p99) <= 25.0 {
                met.push(format!("{c} callers"));
            }
        }
        let zy_mem = call_memory(&zy, dir, 20, false).await;
        let zygote_pid = zy.zygote_pid(dir).unwrap();
        println!();
        println!(
            "memory per call (median; RSS / PSS / private):  pool worker {:.1} / {:.1} / {:.1} MB   zygote call {:.1} / {:.1} / {:.1} MB",
            mb(pool_mem.0), mb(pool_mem.1), mb(pool_mem.2), mb(zy_mem.0), mb(zy_mem.1), mb(zy_mem.2)
        );
        if let Some((rss, pss)) = process_memory(zygote_pid) {
            println!(
                "the zygote itself (one per bot): RSS {:.1} MB, PSS {:.1} MB",
                mb(rss),
                mb(pss)
            );
        }
        println!(
            "aim (>= 200 calls/s, p50 <= 5 ms, p99 <= 25 ms): {}",
            if met.is_empty() {
                "NOT met in this run".to_string()
            } else {
                format!("met at {}", met.join(", "))
            }
        );
    } else {
        println!(
            "memory per call (median; RSS / PSS / private): pool worker {:.1} / {:.1} / {:.1} MB",
            mb(pool_mem.0),
            mb(pool_mem.1),
            mb(pool_mem.2)
        );
    }
    zy.shutdown();
}
