//! Server load benchmark (not a test): turns per second and time to first delta, at several
//! numbers of concurrent simulated users, beside a hello-world axum handler measured in the
//! same run as the ceiling of this machine.
//!
//! A *turn*: POST a message, then read the thread's already-open SSE stream until that run's
//! `run.completed`. *First delta*: from the POST's start to that run's first `message.delta`.
//! The server runs in this process (same runtime, same cores as the clients, like the
//! hello-world ceiling), with rate limits off and the bench bot replying 8 words, unpaced.
//!
//! Each point runs twice: *saturated* (every user sends its next message as soon as its turn
//! ends: the most turns/s the box carries, with latency = users ÷ turns/s by Little's law) and,
//! with `BENCH_RATE`, *paced* (the users together offer that many turns/s, each on its own
//! schedule: the latency of a given load below saturation).
//!
//! `BENCH_STORES=sqlite,pg1,pg2,pg3` runs the points on each store in turn: SQLite, then 1, 2
//! and 3 instances in this process on one PostgreSQL database (a throwaway cluster with its
//! default durability), each user streaming from one instance and posting to another; for
//! PostgreSQL it prints the database's statements, commits, NOTIFYs and statement time per turn.
//! Every point prints the CPU time per turn of this process's threads (tokio workers, store
//! writers, the rest) and of the PostgreSQL cluster's processes (by connection: pool, writer,
//! listener), and what the fan-out did per turn: on a 2-core box the turns/s are about 2 s of
//! CPU per second divided by the CPU per turn, so these say where a difference comes from.
//!
//!     cargo bench -p natter-server --bench load
//!     BENCH_USERS=100,1000 BENCH_SECS=10 BENCH_RATE=2000 BENCH_DURABILITY=full cargo bench -p natter-server --bench load
//!     BENCH_USERS=1000 BENCH_STORES=sqlite,pg1,pg2,pg3 cargo bench -p natter-server --bench load
//!     BENCH_DB_POOL=64 BENCH_STORES=pg1 cargo bench -p natter-server --bench load   # connections per instance
//!     BENCH_PG_TOP=8 BENCH_STORES=pg3 cargo bench -p natter-server --bench load     # where the database's time goes
//!     BENCH_SLOW_MS=50 BENCH_STORES=sqlite cargo bench -p natter-server --bench load   # when the slow turns started

use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use natter_server::http::limits::Rate;
use natter_server::server::{Server, ServerConfig};
use natter_server::store::sqlite::Durability;
use natter_testing::pg_cluster;
use natter_testing::sse::SseReader as Sse;
use natter_testing::stats::{ms, pct};
use serde_json::{json, Value};
use tokio_util::sync::CancellationToken;

const BOT: &str = r#"
greeting = "Hi"
fallback = "Sorry?"
[stream]
chunk = "word"
delay_ms = 0
[[workflows]]
name = "ping"
triggers = { keywords = ["ping"] }
steps = [ { say = "Thanks! Your message was received and is handled." } ]
"#;

fn main() {
    let rt = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .unwrap();
    rt.block_on(run());
}

fn env_list(name: &str, default: &str) -> Vec<usize> {
    std::env::var(name)
        .unwrap_or_else(|_| default.into())
        .split(',')
        .filter_map(|s| s.trim().parse().ok())
        .collect()
}

/// Where the bench's servers keep their data.
#[derive(Clone, Copy, PartialEq)]
enum Engine {
    Sqlite,
    /// This many instances on one PostgreSQL database.
    Postgres(usize),
}

impl Engine {
    fn parse(s: &str) -> Option<Engine> {
        match s.trim() {
            "sqlite" => Some(Engine::Sqlite),
            pg => pg
                .strip_prefix("pg")
                .and_then(|n| n.parse().ok())
                .map(Engine::Postgres),
        }
    }

    fn name(self) -> String {
        match self {
            Engine::Sqlite => "sqlite".into(),
            Engine::Postgres(n) => format!("postgres ×{n}"),
        }
    }
}

async fn run() {
    let users = env_list("BENCH_USERS", "100,1000");
    let secs: u64 = std::env::var("BENCH_SECS")
        .ok()
        .and_then(|s| s.parse().ok())
        .unwrap_or(10);
    let rate: Option<f64> = std::env::var("BENCH_RATE")
        .ok()
        .and_then(|s| s.parse().ok());
    // PostgreSQL connections per instance (`--db-pool`).
    let pool_size: u32 = std::env::var("BENCH_DB_POOL")
        .ok()
        .and_then(|s| s.parse().ok())
        .unwrap_or(16);
    let durability = match std::env::var("BENCH_DURABILITY").as_deref() {
        Ok("normal") => Durability::Normal,
        _ => Durability::Full,
    };
    let engines: Vec<Engine> = std::env::var("BENCH_STORES")
        .unwrap_or_else(|_| "sqlite".into())
        .split(',')
        .filter_map(Engine::parse)
        .collect();
    println!(
        "natter server load bench: {} cores, {secs}s per point, durability {durability:?}",
        std::thread::available_parallelism().map_or(0, |n| n.get())
    );

    // The ceiling: hello world on axum, same runtime.
    let hello = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let hello_url = format!("http://{}/hello", hello.local_addr().unwrap());
    tokio::spawn(async move {
        let app = axum::Router::new().route("/hello", axum::routing::get(|| async { "hello" }));
        axum::serve(hello, app).await.unwrap();
    });
    let mut ceiling = std::collections::HashMap::new();
    for &n in &users {
        let (rps, p50, p99) = hello_world(&hello_url, n, secs).await;
        ceiling.insert(n, rps);
        println!(
            "hello-world axum  users={n:5}  {rps:9.0} req/s   latency p50 {}  p99 {}",
            ms(p50),
            ms(p99)
        );
    }

    for engine in engines {
        let tmp = tempfile::tempdir().unwrap();
        let bots = tmp.path().join("bots");
        std::fs::create_dir_all(bots.join("bench")).unwrap();
        std::fs::write(bots.join("bench/bot.toml"), BOT).unwrap();
        let (instances, database) = match engine {
            Engine::Sqlite => (1, None),
            Engine::Postgres(n) => {
                let cluster = pg_cluster::durable_cluster();
                let db = format!("bench_{}", uuid::Uuid::new_v4().simple());
                let url = cluster.database(&db);
                cluster.psql(&db, "CREATE EXTENSION IF NOT EXISTS pg_stat_statements");
                (n, Some((db, url)))
            }
        };
        let shutdown = CancellationToken::new();
        let mut bases = Vec::new();
        let mut servers = Vec::new();
        for i in 0..instances {
            let mut config = ServerConfig {
                addr: "127.0.0.1:0".into(),
                data_dir: tmp.path().join(format!("data{i}")),
                database_url: database.as_ref().map(|(_, url)| url.clone()),
                postgres: natter_server::store::postgres::PgOptions {
                    pool_size,
                    ..Default::default()
                },
                bots_dir: bots.clone(),
                durability,
                ..ServerConfig::default()
            };
            config.http.limits.per_ip = Rate {
                per_sec: 0.0,
                burst: 0.0,
            };
            config.http.limits.per_thread = Rate {
                per_sec: 0.0,
                burst: 0.0,
            };
            let server = Server::start(config, shutdown.clone()).await.unwrap();
            bases.push(format!("http://{}", server.local_addr()));
            servers.push(tokio::spawn(server.run()));
        }
        let pm = database.as_ref().and_then(|(db, _)| postmaster(db));
        for &n in &users {
            let modes = std::iter::once(None).chain(rate.map(Some));
            for pace in modes {
                let before = database.as_ref().map(|(db, _)| db_counters(db));
                let runs_before = runs_completed(&bases[0]).await;
                let writer_before = WriterCounters::read(&bases[0]).await;
                let (cpu_before, fan_before) = (Cpu::read(pm), fanout_counters());
                let mut r = natter(&bases, n, secs, pace).await;
                let cpu = Cpu::read(pm).minus(&cpu_before);
                let fan = fanout_counters().minus(&fan_before);
                let tps = r.turns as f64 / secs as f64;
                let mode = match pace {
                    None => "saturated".to_string(),
                    Some(rate) => format!("paced {rate:.0}/s"),
                };
                println!(
                    "natter {:12} users={n:5}  {tps:9.0} turns/s  ({mode}, {:.3} × hello-world)  first delta p50 {}  p99 {}  (POST answered p50 {}  p99 {})   turn p50 {}  p99 {}   ({} turns, {} errors)",
                    engine.name(),
                    tps / ceiling[&n],
                    ms(pct(&r.first, 0.5)),
                    ms(pct(&r.first, 0.99)),
                    ms(pct(&r.post, 0.5)),
                    ms(pct(&r.post, 0.99)),
                    ms(pct(&r.turn, 0.5)),
                    ms(pct(&r.turn, 0.99)),
                    r.turns,
                    r.errors
                );
                print_slow(&mut r.slow);
                let w = WriterCounters::read(&bases[0]).await.minus(&writer_before);
                println!(
                    "  store writer: {:.0} group commits, {:.1} writes per group, {:.2} ms per group ({:.2} ms of it COMMIT), busy {:.0} % of the point's wall time",
                    w.groups,
                    w.jobs / w.groups.max(1.0),
                    w.commit_s * 1e3 / w.groups.max(1.0),
                    w.sync_s * 1e3 / w.groups.max(1.0),
                    100.0 * w.commit_s / w.wall_s / instances as f64,
                );
                if w.flushes > 0.0 {
                    println!(
                        "  WAL flushes (SQLite, beside the writer): {:.0}, {:.1} groups per flush, {:.2} ms per flush",
                        w.flushes,
                        w.groups / w.flushes,
                        w.flush_s * 1e3 / w.flushes,
                    );
                }
                if engine == Engine::Sqlite {
                    // SQLite starts the WAL over only when a write begins after a checkpoint
                    // copied all of it; under writes that never pause, the writer's own
                    // checkpoint (a rewind) makes that happen (server/src/store/sqlite_checkpoint.rs).
                    let wal = std::fs::metadata(tmp.path().join("data0/natter.db-wal"))
                        .map_or(0, |m| m.len());
                    println!(
                        "  WAL: {:.0} rewinds by the writer, {:.1} ms each; file at the point's end {:.1} MiB",
                        w.rewinds,
                        w.rewind_s * 1e3 / w.rewinds.max(1.0),
                        wal as f64 / (1 << 20) as f64
                    );
                }
                {
                    // Over the whole point (set-up and warm-up included), per completed run.
                    let turns = (runs_completed(&bases[0]).await - runs_before).max(1.0);
                    println!(
                        "  CPU per turn: {:.2} ms tokio workers (servers + users), {:.2} ms store writers, {:.2} ms other threads, {:.2} ms PostgreSQL ({:.2} ms of it in the kernel)",
                        cpu.workers * 1e3 / turns,
                        cpu.writers * 1e3 / turns,
                        cpu.other * 1e3 / turns,
                        cpu.postgres * 1e3 / turns,
                        cpu.postgres_sys * 1e3 / turns,
                    );
                    if database.is_some() {
                        let kinds: Vec<String> = cpu
                            .by_kind
                            .iter()
                            .filter(|(_, v)| **v > 0.0)
                            .map(|(k, v)| format!("{k} {:.3}", v * 1e3 / turns))
                            .collect();
                        println!(
                            "  PostgreSQL CPU per turn by process (ms): {}",
                            kinds.join(", ")
                        );
                        println!("  fan-out per turn: {}", fan.per_turn(turns));
                    }
                }
                if let (Some((db, _)), Some(before)) = (&database, before) {
                    // Per run completed over the whole point (setup, warm-up and window: what
                    // the database counters cover), on every instance of this process.
                    let d = db_counters(db).minus(&before);
                    let turns = (runs_completed(&bases[0]).await - runs_before).max(1.0);
                    println!(
                        "  per turn: {:.1} statements, {:.1} commits, {:.1} NOTIFYs, {:.2} ms statement time + {:.2} ms planning (pg_stat_statements)",
                        d.statements / turns,
                        d.commits / turns,
                        d.notifies / turns,
                        d.exec_ms / turns,
                        d.plan_ms / turns
                    );
                }
            }
        }
        if let Some((db, _)) = &database {
            top_statements(db);
        }
        shutdown.cancel();
        for s in servers {
            let _ = s.await;
        }
    }
}

/// The server's `/metrics` text (process-wide: every instance of this process).
async fn metrics(base: &str) -> String {
    reqwest::get(format!("{base}/metrics"))
        .await
        .unwrap()
        .text()
        .await
        .unwrap()
}

/// The value of the metric `name` in a `/metrics` text (0 when absent).
fn metric(text: &str, name: &str) -> f64 {
    text.lines()
        .find_map(|l| l.strip_prefix(name)?.strip_prefix(' '))
        .and_then(|v| v.trim().parse().ok())
        .unwrap_or(0.0)
}

/// Runs completed by every server of this process.
async fn runs_completed(base: &str) -> f64 {
    metric(&metrics(base).await, "natter_runs_completed_total")
}

/// The store writers' group commits so far (process-wide metrics: every instance here).
struct WriterCounters {
    groups: f64,
    jobs: f64,
    commit_s: f64,
    sync_s: f64,
    flushes: f64,
    flush_s: f64,
    rewinds: f64,
    rewind_s: f64,
    wall_s: f64,
}

impl WriterCounters {
    async fn read(base: &str) -> WriterCounters {
        let m = metrics(base).await;
        let get = |name: &str| metric(&m, name);
        WriterCounters {
            groups: get("natter_store_commit_seconds_count"),
            jobs: get("natter_store_jobs_total"),
            commit_s: get("natter_store_commit_seconds_sum"),
            sync_s: get("natter_store_sync_seconds_sum"),
            flushes: get("natter_store_flush_seconds_count"),
            flush_s: get("natter_store_flush_seconds_sum"),
            rewinds: get("natter_store_rewind_seconds_count"),
            rewind_s: get("natter_store_rewind_seconds_sum"),
            wall_s: std::time::SystemTime::now()
                .duration_since(std::time::UNIX_EPOCH)
                .unwrap()
                .as_secs_f64(),
        }
    }

    fn minus(&self, o: &WriterCounters) -> WriterCounters {
        WriterCounters {
            groups: self.groups - o.groups,
            jobs: self.jobs - o.jobs,
            commit_s: self.commit_s - o.commit_s,
            sync_s: self.sync_s - o.sync_s,
            flushes: self.flushes - o.flushes,
            flush_s: self.flush_s - o.flush_s,
            rewinds: self.rewinds - o.rewinds,
            rewind_s: self.rewind_s - o.rewind_s,
            wall_s: self.wall_s - o.wall_s,
        }
    }
}

/// CPU seconds used so far: this process's threads by kind (the tokio workers run the servers
/// and the simulated users alike; the store writers are threads of their own), and the
/// PostgreSQL cluster's processes (its backends, and those already gone through the
/// postmaster's children totals).
#[derive(Default)]
struct Cpu {
    workers: f64,
    writers: f64,
    other: f64,
    postgres: f64,
    /// Of `postgres`, the time in the kernel (system calls: I/O, fsync, signals, sockets).
    postgres_sys: f64,
    /// PostgreSQL's share by process: the connection's `application_name` (`natter`,
    /// `natter writer`, `natter listener`), else the process's kind (walwriter, …).
    by_kind: std::collections::BTreeMap<String, f64>,
}

/// `(utime + stime, cutime + cstime)` in seconds of a `/proc/.../stat` line, and its ppid.
fn proc_times(stat: &str) -> Option<(f64, f64, u32)> {
    proc_sys(stat).map(|(t, c, _, _, ppid)| (t, c, ppid))
}

/// `(utime + stime, cutime + cstime, stime, cstime)` in seconds, and the ppid.
fn proc_sys(stat: &str) -> Option<(f64, f64, f64, f64, u32)> {
    let after = &stat[stat.rfind(')')? + 2..];
    let f: Vec<&str> = after.split(' ').collect();
    let tick = 100.0; // USER_HZ on Linux
    let n = |i: usize| f.get(i).and_then(|x| x.parse::<f64>().ok()).unwrap_or(0.0);
    Some((
        (n(11) + n(12)) / tick,
        (n(13) + n(14)) / tick,
        n(12) / tick,
        n(14) / tick,
        n(1) as u32,
    ))
}

impl Cpu {
    fn read(postmaster: Option<u32>) -> Cpu {
        let mut cpu = Cpu::default();
        for task in std::fs::read_dir("/proc/self/task")
            .into_iter()
            .flatten()
            .flatten()
        {
            let path = task.path();
            let comm = std::fs::read_to_string(path.join("comm")).unwrap_or_default();
            let Some((t, _, _)) = std::fs::read_to_string(path.join("stat"))
                .ok()
                .and_then(|s| proc_times(&s))
            else {
                continue;
            };
            match comm.trim() {
                c if c.starts_with("tokio-r") => cpu.workers += t,
                // Thread names are cut to 15 bytes: `natter-store-wr`, `natter-pg-write…`.
                c if c.starts_with("natter-pg-write") || c.starts_with("natter-store-wr") => {
                    cpu.writers += t
                }
                _ => cpu.other += t,
            }
        }
        if let Some(pm) = postmaster {
            let kinds: std::collections::HashMap<u32, String> = pg_cluster::durable_cluster()
                .psql(
                    "postgres",
                    "SELECT pid || '|' || CASE WHEN application_name <> '' AND application_name <> 'psql' \
                     THEN application_name ELSE backend_type END FROM pg_stat_activity",
                )
                .lines()
                .filter_map(|l| {
                    let (pid, kind) = l.split_once('|')?;
                    Some((pid.trim().parse().ok()?, kind.trim().to_string()))
                })
                .collect();
            for p in std::fs::read_dir("/proc").into_iter().flatten().flatten() {
                let Some(stat) = std::fs::read_to_string(p.path().join("stat")).ok() else {
                    continue;
                };
                let Some((t, children, sys, children_sys, ppid)) = proc_sys(&stat) else {
                    continue;
                };
                let pid: u32 = p
                    .file_name()
                    .to_str()
                    .and_then(|s| s.parse().ok())
                    .unwrap_or(0);
                if pid == pm {
                    cpu.postgres += t + children;
                    cpu.postgres_sys += sys + children_sys;
                    *cpu.by_kind
                        .entry("postmaster and exited".into())
                        .or_default() += t + children;
                } else if ppid == pm {
                    cpu.postgres += t;
                    cpu.postgres_sys += sys;
                    let kind = kinds.get(&pid).cloned().unwrap_or_else(|| "other".into());
                    *cpu.by_kind.entry(kind).or_default() += t;
                }
            }
        }
        cpu
    }

    fn minus(&self, o: &Cpu) -> Cpu {
        Cpu {
            workers: self.workers - o.workers,
            writers: self.writers - o.writers,
            other: self.other - o.other,
            postgres: self.postgres - o.postgres,
            postgres_sys: self.postgres_sys - o.postgres_sys,
            by_kind: self
                .by_kind
                .iter()
                .map(|(k, v)| (k.clone(), v - o.by_kind.get(k).copied().unwrap_or(0.0)))
                .collect(),
        }
    }
}

fn fanout_counters() -> natter_server::store::postgres::fanout::Counters {
    natter_server::store::postgres::fanout::counters()
}

/// The pid of the bench cluster's postmaster (the parent of its checkpointer).
fn postmaster(db: &str) -> Option<u32> {
    let out = pg_cluster::durable_cluster().psql(
        db,
        "SELECT pid FROM pg_stat_activity WHERE backend_type = 'checkpointer'",
    );
    let pid: u32 = out.trim().parse().ok()?;
    let stat = std::fs::read_to_string(format!("/proc/{pid}/stat")).ok()?;
    proc_times(&stat).map(|(_, _, ppid)| ppid)
}

/// The database's work so far, from pg_stat_statements and pg_stat_database.
struct DbCounters {
    statements: f64,
    commits: f64,
    notifies: f64,
    exec_ms: f64,
    plan_ms: f64,
}

impl DbCounters {
    fn minus(&self, o: &DbCounters) -> DbCounters {
        DbCounters {
            statements: self.statements - o.statements,
            commits: self.commits - o.commits,
            notifies: self.notifies - o.notifies,
            exec_ms: self.exec_ms - o.exec_ms,
            plan_ms: self.plan_ms - o.plan_ms,
        }
    }
}

fn db_counters(db: &str) -> DbCounters {
    let out = pg_cluster::durable_cluster().psql(
        db,
        &format!(
            "SELECT (SELECT coalesce(sum(calls), 0) FROM pg_stat_statements s JOIN pg_database d ON d.oid = s.dbid WHERE d.datname = '{db}'), \
             (SELECT xact_commit FROM pg_stat_database WHERE datname = '{db}'), \
             (SELECT coalesce(sum(s.rows), 0) FROM pg_stat_statements s JOIN pg_database d ON d.oid = s.dbid WHERE d.datname = '{db}' AND s.query LIKE '%pg_notify%'), \
             (SELECT coalesce(sum(total_exec_time), 0) FROM pg_stat_statements s JOIN pg_database d ON d.oid = s.dbid WHERE d.datname = '{db}'), \
             (SELECT coalesce(sum(total_plan_time), 0) FROM pg_stat_statements s JOIN pg_database d ON d.oid = s.dbid WHERE d.datname = '{db}')"
        ),
    );
    let v: Vec<f64> = out
        .trim()
        .split('|')
        .map(|x| x.parse().unwrap_or(0.0))
        .collect();
    DbCounters {
        statements: v[0],
        commits: v[1],
        notifies: v[2],
        exec_ms: v[3],
        plan_ms: v[4],
    }
}

/// With `BENCH_PG_TOP=N`: the N statements that took the most execution time over this store's
/// points (set-up included): where the database's time goes.
fn top_statements(db: &str) {
    let n: usize = std::env::var("BENCH_PG_TOP")
        .ok()
        .and_then(|s| s.parse().ok())
        .unwrap_or(0);
    if n == 0 {
        return;
    }
    let out = pg_cluster::durable_cluster().psql(
        db,
        &format!(
            "SELECT round(total_exec_time::numeric, 0), round(total_plan_time::numeric, 0), calls, \
             round((total_exec_time / nullif(calls, 0))::numeric, 3), rows, \
             regexp_replace(left(query, 110), '\\s+', ' ', 'g') \
             FROM pg_stat_statements s JOIN pg_database d ON d.oid = s.dbid WHERE d.datname = '{db}' \
             ORDER BY total_exec_time DESC LIMIT {n}"
        ),
    );
    println!(
        "  top statements (exec ms | planning ms | calls | exec ms per call | rows | statement):"
    );
    for l in out.lines() {
        println!("    {l}");
    }
    let out = pg_cluster::durable_cluster().psql(
        db,
        "SELECT relname, seq_scan, seq_tup_read, idx_scan, n_tup_ins FROM pg_stat_user_tables \
         ORDER BY seq_tup_read DESC LIMIT 6",
    );
    println!("  tables (name | seq scans | rows they read | index scans | rows inserted):");
    for l in out.lines() {
        println!("    {l}");
    }
}

fn client() -> reqwest::Client {
    reqwest::Client::builder()
        .pool_max_idle_per_host(4096)
        .tcp_nodelay(true)
        .build()
        .unwrap()
}

async fn hello_world(url: &str, users: usize, secs: u64) -> (f64, Duration, Duration) {
    let client = client();
    let stop = Arc::new(AtomicBool::new(false));
    let mut tasks = Vec::new();
    for _ in 0..users {
        let (client, url, stop) = (client.clone(), url.to_string(), stop.clone());
        tasks.push(tokio::spawn(async move {
            let mut lat = Vec::new();
            while !stop.load(Ordering::Relaxed) {
                let t0 = Instant::now();
                if let Ok(r) = client.get(&url).send().await {
                    let _ = r.bytes().await;
                    lat.push(t0.elapsed());
                }
            }
            lat
        }));
    }
    tokio::time::sleep(Duration::from_secs(secs)).await;
    stop.store(true, Ordering::Relaxed);
    let mut all = Vec::new();
    for t in tasks {
        all.extend(t.await.unwrap());
    }
    all.sort();
    (
        all.len() as f64 / secs as f64,
        pct(&all, 0.5),
        pct(&all, 0.99),
    )
}

struct Result {
    turns: usize,
    errors: usize,
    first: Vec<Duration>,
    turn: Vec<Duration>,
    /// POST answered (the send committed).
    post: Vec<Duration>,
    /// With `BENCH_SLOW_MS`: (start in the measured window, first delta) of the turns whose
    /// first delta took longer.
    slow: Vec<(Duration, Duration)>,
}

/// `BENCH_SLOW_MS`: the slow turns by the 100 ms in which they started (one line per window
/// with any), to line them up with what the server did then.
fn print_slow(slow: &mut [(Duration, Duration)]) {
    if slow.is_empty() {
        return;
    }
    slow.sort();
    let mut windows: Vec<(u128, usize, Duration)> = Vec::new();
    for &(at, fd) in slow.iter() {
        let w = at.as_millis() / 100;
        match windows.last_mut() {
            Some((last, n, max)) if *last == w => {
                *n += 1;
                *max = (*max).max(fd);
            }
            _ => windows.push((w, 1, fd)),
        }
    }
    let line: Vec<String> = windows
        .iter()
        .map(|(w, n, max)| format!("{:.1}s:{n}/{}", *w as f64 / 10.0, ms(*max)))
        .collect();
    println!(
        "  slow first deltas ({} turns) by start (window: turns/max): {}",
        slow.len(),
        line.join("  ")
    );
}

/// `pace`: turns/s offered by all users together (each user every `users / pace` s), or
/// `None` to send again as soon as a turn ends.
/// With several instances, user `i` streams from instance `i` and posts to the next one, so
/// every event it sees crossed instances.
async fn natter(bases: &[String], users: usize, secs: u64, pace: Option<f64>) -> Result {
    let client = client();
    // Setup (not measured): a thread and an open event stream per user.
    let mut sessions = Vec::new();
    for u in 0..users {
        let base = &bases[u % bases.len()];
        let v: Value = client
            .post(format!("{base}/v1/bots/bench/threads"))
            .send()
            .await
            .unwrap()
            .json()
            .await
            .unwrap();
        let t = v["threadId"].as_str().unwrap().to_string();
        let r = client
            .get(format!("{base}/v1/threads/{t}/events"))
            .send()
            .await
            .unwrap();
        sessions.push((t, Sse::new(r)));
    }

    let stop = Arc::new(AtomicBool::new(false));
    let measuring = Arc::new(AtomicBool::new(false));
    let slow_after = std::env::var("BENCH_SLOW_MS")
        .ok()
        .and_then(|v| v.parse().ok())
        .map(Duration::from_millis);
    // The measured window starts one second after the users do.
    let origin = Instant::now() + Duration::from_secs(1);
    let mut tasks = Vec::new();
    for (i, (thread, mut sse)) in sessions.into_iter().enumerate() {
        let (client, base, stop, measuring) = (
            client.clone(),
            bases[(i + 1) % bases.len()].clone(),
            stop.clone(),
            measuring.clone(),
        );
        tasks.push(tokio::spawn(async move {
            let (mut first, mut turn, mut post, mut slow, mut errors) =
                (Vec::new(), Vec::new(), Vec::new(), Vec::new(), 0);
            let url = format!("{base}/v1/threads/{thread}/messages");
            let interval = pace.map(|p| Duration::from_secs_f64(users as f64 / p));
            // Users spread evenly over one interval, so the offered load is smooth.
            let mut next = interval
                .map(|iv| tokio::time::Instant::now() + iv.mul_f64(i as f64 / users as f64));
            let mut k = 0;
            while !stop.load(Ordering::Relaxed) {
                if let (Some(at), Some(iv)) = (next.as_mut(), interval) {
                    tokio::time::sleep_until(*at).await;
                    // A late turn does not make the next ones burst to catch up.
                    *at = (*at + iv).max(tokio::time::Instant::now());
                }
                k += 1;
                let counted = measuring.load(Ordering::Relaxed);
                let t0 = Instant::now();
                let r = client
                    .post(&url)
                    .json(&json!({"clientMessageId": format!("{i}-{k}"), "content": "ping"}))
                    .send()
                    .await;
                let run = match r {
                    Ok(r) if r.status() == 202 => {
                        let v = r.json::<Value>().await.unwrap();
                        if counted {
                            post.push(t0.elapsed());
                        }
                        v["runId"].as_str().unwrap().to_string()
                    }
                    _ => {
                        errors += 1;
                        continue;
                    }
                };
                let mut fd = None;
                loop {
                    let Some(ev) = sse.next().await else {
                        return (first, turn, post, slow, errors + 1);
                    };
                    if !ev.data.contains(&run) {
                        continue;
                    }
                    if fd.is_none() && ev.event == "message.delta" {
                        fd = Some(t0.elapsed());
                    }
                    if ev.event == "run.completed" || ev.event == "run.failed" {
                        break;
                    }
                }
                if counted && !stop.load(Ordering::Relaxed) {
                    let fd = fd.unwrap_or_default();
                    if slow_after.is_some_and(|limit| fd > limit) {
                        slow.push((t0.saturating_duration_since(origin), fd));
                    }
                    first.push(fd);
                    turn.push(t0.elapsed());
                }
            }
            (first, turn, post, slow, errors)
        }));
    }
    // One second of warm-up, then the measured window.
    tokio::time::sleep(Duration::from_secs(1)).await;
    measuring.store(true, Ordering::Relaxed);
    tokio::time::sleep(Duration::from_secs(secs)).await;
    stop.store(true, Ordering::Relaxed);
    let mut res = Result {
        turns: 0,
        errors: 0,
        first: vec![],
        turn: vec![],
        post: vec![],
        slow: vec![],
    };
    for t in tasks {
        let (f, tt, p, sl, e) = t.await.unwrap();
        res.slow.extend(sl);
        res.first.extend(f);
        res.turn.extend(tt);
        res.post.extend(p);
        res.errors += e;
    }
    res.turns = res.turn.len();
    res.first.sort();
    res.turn.sort();
    res.post.sort();
    res
}
