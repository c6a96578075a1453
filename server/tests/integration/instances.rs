//! Several `natter` instances on one PostgreSQL database (run under
//! `NATTER_TEST_STORE=postgres`; skipped on SQLite, where one file has one server).
//!
//! - A client that picks a random instance for every request and every reconnect sees every
//!   conversation's events exactly once and in order, equal to the database's log.
//! - kill -9 of an instance in the middle of streamed replies: another instance re-runs them
//!   and the visitor's stream, resumed there, gets every reply completed.
//! - Events one instance commits reach another instance's streams: inside the notification
//!   (carried), or read from the log when too large to carry; a thread nobody streamed there
//!   when they came is read from the log by a stream opened later; a stream cut after a
//!   carried event resumes with Last-Event-ID without a gap.
//! - Two instances starting at the same moment on an empty database run the migrations once.
//! - A wrong or unreachable DATABASE_URL stops the start with one line naming the cause and
//!   no password.

use std::path::Path;
use std::sync::Arc;

use natter_server::store::postgres::{fanout, PgOptions, PgStore};
use natter_server::store::{EventSink, Store, StoredEvent};
use serde_json::{json, Value};

use crate::common::*;
use crate::lifecycle_common::until;
use crate::pg_cluster::{cluster, PASSWORD};
use crate::process::spawn_natter;

/// A small deterministic generator (xorshift): which instance, when to reconnect.
struct Dice(u64);

impl Dice {
    fn below(&mut self, n: usize) -> usize {
        self.0 ^= self.0 << 13;
        self.0 ^= self.0 >> 7;
        self.0 ^= self.0 << 17;
        (self.0 % n as u64) as usize
    }
}

/// A sink for stores opened without a server.
struct Quiet;

impl EventSink for Quiet {
    fn published(&self, _: &str, _: &[Arc<StoredEvent>]) {}
}

/// A fresh, empty database on the test cluster.
fn fresh_database() -> String {
    cluster().database(&format!("s_{}", uuid::Uuid::new_v4().simple()))
}

/// The thread's log as the database holds it: `(seq, envelope JSON)`.
fn db_log(url: &str, thread: &str) -> Vec<(u64, String)> {
    let db = url.rsplit('/').next().unwrap();
    let out = cluster().psql(
        db,
        &format!("SELECT seq || ' ' || data FROM events WHERE thread_id = '{thread}' ORDER BY seq"),
    );
    out.lines()
        .map(|l| {
            let (seq, data) = l.split_once(' ').unwrap();
            (seq.parse().unwrap(), data.to_string())
        })
        .collect()
}

/// Opens the event stream of `thread` on `base` after `last` (as a reconnecting client does).
async fn stream_from(client: &reqwest::Client, base: &str, thread: &str, last: u64) -> SseReader {
    let r = client
        .get(format!("{base}/v1/threads/{thread}/events"))
        .header("Last-Event-ID", last.to_string())
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 200);
    SseReader::new(r)
}

/// One visitor: a thread created on a random instance, `turns` messages each sent to a random
/// instance, its stream reconnected to a random instance now and then. Returns the thread and
/// every event it received, checked gap-free and duplicate-free as they came.
async fn visitor(bases: Arc<Vec<String>>, seed: u64, turns: usize) -> (String, Vec<(u64, String)>) {
    let client = reqwest::Client::new();
    let mut dice = Dice(seed | 1);
    let pick = |d: &mut Dice| bases[d.below(bases.len())].clone();
    let r = client
        .post(format!("{}/v1/bots/t/threads", pick(&mut dice)))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 201);
    let thread = r.json::<Value>().await.unwrap()["threadId"]
        .as_str()
        .unwrap()
        .to_string();
    let mut seen: Vec<(u64, String)> = Vec::new();
    let mut sse = stream_from(&client, &pick(&mut dice), &thread, 0).await;
    for turn in 0..turns {
        let r = client
            .post(format!("{}/v1/threads/{thread}/messages", pick(&mut dice)))
            .json(&json!({"clientMessageId": format!("c{turn}"), "content": "hello world"}))
            .send()
            .await
            .unwrap();
        assert_eq!(r.status(), 202);
        let run = r.json::<Value>().await.unwrap()["runId"].clone();
        loop {
            let e = sse.next().await.expect("stream continues");
            let seq: u64 = e.id.as_deref().unwrap().parse().unwrap();
            let last = seen.last().map_or(0, |s| s.0);
            assert_eq!(seq, last + 1, "thread {thread}: a gap or a duplicate");
            let v: Value = serde_json::from_str(&e.data).unwrap();
            seen.push((seq, e.data));
            if v["type"] == "run.completed" && v["runId"] == run {
                break;
            }
            if dice.below(6) == 0 {
                sse = stream_from(&client, &pick(&mut dice), &thread, seq).await;
            }
        }
    }
    (thread, seen)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn a_client_on_random_instances_sees_every_event_once_in_order() {
    if !on_postgres() {
        return;
    }
    // NATTER_SCALE_FULL=1: 200 conversations, 10,000 messages.
    let (conversations, turns) = if std::env::var("NATTER_SCALE_FULL").is_ok() {
        (200, 50)
    } else {
        (24, 6)
    };
    let url = fresh_database();
    let tmp = tempfile::tempdir().unwrap();
    let bots = tmp.path().join("bots");
    write_bot(&bots, "t", TEST_BOT);
    let mut servers = Vec::new();
    for i in 0..3 {
        let mut c = test_config(&tmp.path().join(format!("data{i}")), &bots);
        c.database_url = Some(url.clone());
        servers.push(TestServer::launch(c).await);
    }
    let bases = Arc::new(servers.iter().map(|s| s.base.clone()).collect::<Vec<_>>());
    let tasks: Vec<_> = (0..conversations)
        .map(|i| tokio::spawn(visitor(bases.clone(), 0x9e37_79b9 * (i as u64 + 1), turns)))
        .collect();
    let mut messages = 0;
    for t in tasks {
        let (thread, seen) = t.await.unwrap();
        let log = db_log(&url, &thread);
        assert_eq!(
            seen, log,
            "thread {thread}: the stream differs from the log"
        );
        messages += seen
            .iter()
            .filter(|(_, d)| d.contains("\"type\":\"message.created\""))
            .count();
    }
    assert_eq!(messages, conversations * turns);
    for s in servers {
        s.stop().await;
    }
}

/// A bot whose replies take a while to stream (so a kill lands mid-reply).
const SLOW_BOT: &str = r#"
name = "Slow"
fallback = "alpha beta gamma delta epsilon zeta eta theta iota kappa lambda mu nu xi omicron pi rho sigma tau upsilon"

[stream]
chunk = "word"
delay_ms = 60
"#;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn kill_9_mid_reply_another_instance_re_runs_and_the_stream_resumes_there() {
    if !on_postgres() {
        return;
    }
    let url = fresh_database();
    let tmp = tempfile::tempdir().unwrap();
    let bots = tmp.path().join("bots");
    write_bot(&bots, "s", SLOW_BOT);
    // Both instances are spawned binaries on the same database (their own data dirs unused).
    let env = [("DATABASE_URL", url.as_str())];
    let (mut a, base_a) = spawn_natter(&tmp.path().join("a"), &bots, &env).await;
    let (_b, base_b) = spawn_natter(&tmp.path().join("b"), &bots, &env).await;
    let client = reqwest::Client::new();
    let mut threads = Vec::new();
    for i in 0..4 {
        let r = client
            .post(format!("{base_a}/v1/bots/s/threads"))
            .send()
            .await
            .unwrap();
        let thread = r.json::<Value>().await.unwrap()["threadId"]
            .as_str()
            .unwrap()
            .to_string();
        let r = client
            .post(format!("{base_a}/v1/threads/{thread}/messages"))
            .json(&json!({"clientMessageId": format!("k{i}"), "content": "tell me"}))
            .send()
            .await
            .unwrap();
        assert_eq!(r.status(), 202);
        threads.push(thread);
    }
    // Watch the first reply stream on A until some deltas arrived, then kill A.
    let mut sse = stream_from(&client, &base_a, &threads[0], 0).await;
    let mut last = 0;
    let mut deltas = 0;
    while deltas < 3 {
        let e = sse.next().await.expect("stream continues");
        last = e.id.as_deref().unwrap().parse().unwrap();
        deltas += (e.event == "message.delta") as usize;
    }
    a.kill9();
    // The visitor's stream resumes on B and sees the interrupted run fail and the re-run
    // complete, with no gap.
    let mut sse = stream_from(&client, &base_b, &threads[0], last).await;
    let mut completed = None;
    while completed.is_none() {
        let e = sse.next().await.expect("stream continues");
        let seq: u64 = e.id.as_deref().unwrap().parse().unwrap();
        assert_eq!(seq, last + 1, "resumed without a gap or a duplicate");
        last = seq;
        if e.event == "message.completed" {
            completed = Some(e.data);
        }
    }
    assert!(completed.unwrap().contains("upsilon"));
    // Every thread got its answer (re-run once by B) and a log without holes.
    for thread in &threads {
        let log = until("the re-run completed", || async {
            let log = db_log(&url, thread);
            log.iter()
                .any(|(_, d)| d.contains("\"type\":\"message.completed\""))
                .then_some(log)
        })
        .await;
        let seqs: Vec<u64> = log.iter().map(|(s, _)| *s).collect();
        assert_eq!(seqs, (1..=seqs.len() as u64).collect::<Vec<_>>());
        let failed = log
            .iter()
            .filter(|(_, d)| d.contains("\"type\":\"run.failed\"") && d.contains("interrupted"))
            .count();
        let started = log
            .iter()
            .filter(|(_, d)| d.contains("\"type\":\"run.started\""))
            .count();
        assert_eq!(
            (failed, started),
            (1, 2),
            "one interruption, one re-run: {log:?}"
        );
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn two_instances_starting_together_on_an_empty_database_migrate_once() {
    if !on_postgres() {
        return;
    }
    let url = fresh_database();
    let open = || {
        PgStore::open(
            &url,
            PgOptions::default(),
            Arc::new(Quiet),
            Arc::new(natter_server::outbox::NoJobs),
        )
    };
    let (a, b) = tokio::join!(open(), open());
    let (a, b) = (
        a.expect("first instance starts"),
        b.expect("second instance starts"),
    );
    let db = url.rsplit('/').next().unwrap();
    let versions = cluster().psql(
        db,
        "SELECT count(*), count(DISTINCT version) FROM schema_version",
    );
    let (rows, distinct) = versions.trim().split_once('|').unwrap();
    assert_eq!(rows, distinct, "each migration applied once: {versions}");
    assert!(rows.parse::<u32>().unwrap() >= 8, "{versions}");
    a.close().await;
    b.close().await;
}

/// `natter serve` with this DATABASE_URL: it must fail; returns its stderr.
fn failed_start(url: &str, dir: &Path) -> String {
    let out = std::process::Command::new(env!("CARGO_BIN_EXE_natter"))
        .args(["serve", "--addr", "127.0.0.1:0", "--bots"])
        .arg(dir)
        .env("DATABASE_URL", url)
        .output()
        .unwrap();
    assert!(!out.status.success(), "the start stops");
    String::from_utf8_lossy(&out.stderr).into_owned()
}

#[test]
fn a_wrong_or_unreachable_database_url_stops_the_start_with_one_clear_line() {
    if !on_postgres() {
        return;
    }
    let tmp = tempfile::tempdir().unwrap();
    let port = cluster().port;
    let wrong = failed_start(
        &format!("postgres://natter_pw:not-{PASSWORD}@127.0.0.1:{port}/postgres"),
        tmp.path(),
    );
    assert_eq!(wrong.trim().lines().count(), 1, "{wrong}");
    assert!(wrong.contains("password authentication failed"), "{wrong}");
    assert!(
        wrong.contains(&format!("postgres://natter_pw@127.0.0.1:{port}/postgres")),
        "{wrong}"
    );
    assert!(
        !wrong.contains(PASSWORD) && !wrong.contains("panicked"),
        "{wrong}"
    );
    // A port nothing listens on: bound by the system, then released.
    let closed = std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port();
    let refused = failed_start(
        &format!("postgres://natter_pw:{PASSWORD}@127.0.0.1:{closed}/postgres"),
        tmp.path(),
    );
    assert_eq!(refused.trim().lines().count(), 1, "{refused}");
    assert!(refused.contains("Connection refused"), "{refused}");
    assert!(!refused.contains(PASSWORD), "{refused}");
}

/// Reads `sse` until `run`'s `run.completed`, appending to `seen` (checked gap-free); after the
/// first `message.delta`, when `cut_to` is given, drops the stream and resumes on that base
/// with `Last-Event-ID`.
async fn read_turn(
    client: &reqwest::Client,
    mut sse: SseReader,
    thread: &str,
    run: &Value,
    seen: &mut Vec<(u64, String)>,
    mut cut_to: Option<&str>,
) -> SseReader {
    loop {
        // A hang guard, not a timing assertion: an event that never comes fails the test.
        let e = tokio::time::timeout(std::time::Duration::from_secs(30), sse.next())
            .await
            .expect("the next event within 30 s")
            .expect("stream continues");
        let seq: u64 = e.id.as_deref().unwrap().parse().unwrap();
        let last = seen.last().map_or(0, |s| s.0);
        assert_eq!(seq, last + 1, "thread {thread}: a gap or a duplicate");
        let v: Value = serde_json::from_str(&e.data).unwrap();
        seen.push((seq, e.data));
        if v["type"] == "run.completed" && v["runId"] == *run {
            return sse;
        }
        if v["type"] == "message.delta" {
            if let Some(base) = cut_to.take() {
                sse = stream_from(client, base, thread, seq).await;
            }
        }
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn events_of_another_instance_reach_streams_opened_before_or_after_and_resume() {
    if !on_postgres() {
        return;
    }
    let url = fresh_database();
    let tmp = tempfile::tempdir().unwrap();
    let bots = tmp.path().join("bots");
    write_bot(&bots, "t", TEST_BOT);
    let mut servers = Vec::new();
    for i in 0..2 {
        let mut c = test_config(&tmp.path().join(format!("data{i}")), &bots);
        c.database_url = Some(url.clone());
        servers.push(TestServer::launch(c).await);
    }
    let (a, b) = (servers[0].base.clone(), servers[1].base.clone());
    let client = reqwest::Client::new();
    let thread = servers[0].create_thread("t").await;
    let send = |content: String, key: &str| {
        let (client, a, thread, key) = (client.clone(), a.clone(), thread.clone(), key.to_string());
        async move {
            let r = client
                .post(format!("{a}/v1/threads/{thread}/messages"))
                .json(&json!({"clientMessageId": key, "content": content}))
                .send()
                .await
                .unwrap();
            assert_eq!(r.status(), 202);
            r.json::<Value>().await.unwrap()["runId"].clone()
        }
    };

    // A turn committed on A while nobody streams the thread on B (B skips its notifications)…
    let mut on_a = Vec::new();
    let sse_a = stream_from(&client, &a, &thread, 0).await;
    let run = send("hello".into(), "k1").await;
    read_turn(&client, sse_a, &thread, &run, &mut on_a, None).await;
    // …is read from the log by a stream opened on B afterwards.
    let mut seen = Vec::new();
    let mut sse = stream_from(&client, &b, &thread, 0).await;
    while seen.len() < on_a.len() {
        let e = sse.next().await.expect("stream continues");
        seen.push((e.id.as_deref().unwrap().parse().unwrap(), e.data));
    }
    assert_eq!(seen, on_a, "B's stream replays A's turn from the log");

    // Live on B: A's events come inside the notifications; the stream, cut after a carried
    // delta, resumes on B and then on A with Last-Event-ID, without a gap.
    let before = fanout::counters();
    let run = send("hello again".into(), "k2").await;
    let sse = read_turn(&client, sse, &thread, &run, &mut seen, Some(&b)).await;
    let carried = fanout::counters().minus(&before).events_carried;
    assert!(
        carried >= 4,
        "the turn's events were carried to B: {carried}"
    );
    let run = send("and again".into(), "k3").await;
    let sse = read_turn(&client, sse, &thread, &run, &mut seen, Some(&a)).await;
    // Back on B for the last turn.
    let sse = {
        drop(sse);
        stream_from(&client, &b, &thread, seen.last().unwrap().0).await
    };

    // A message too large for a notification (12,000 bytes) is announced and read from the
    // table by B.
    let before = fanout::counters();
    let run = send("🙂".repeat(3000), "k4").await;
    read_turn(&client, sse, &thread, &run, &mut seen, None).await;
    let reads = fanout::counters().minus(&before).reads;
    assert!(reads >= 1, "B read the large event from the log");
    assert!(seen.iter().any(|(_, d)| d.contains(&"🙂".repeat(3000))));

    assert_eq!(seen, db_log(&url, &thread), "B's stream equals the log");
    for s in servers {
        s.stop().await;
    }
}
