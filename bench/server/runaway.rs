//! Runaway Python scripts against chatting clients (not a test): the turn latency of N clients
//! (default 50) chatting, first alone, then while M Python actions (default 10) spin in a busy
//! loop until their time limit. Prints p50/p99 of both runs and the p99 ratio (the claim: the
//! chat's p99 stays within 2x), with the load average. The server runs in this process with
//! rate limits off; the runaways are started through the admin API's Run Test, each in its
//! own sandboxed process (niced below the server: the runtime's `PYTHON_NICE`, and moved to
//! SCHED_IDLE once a thread has used 200 ms of CPU in its call: python-runtime's `demote`).
//!
//!     cargo bench -p natter-server --bench runaway
//!     BENCH_CLIENTS=50 BENCH_RUNAWAY=10 BENCH_TURNS=20 cargo bench -p natter-server --bench runaway

use std::time::Duration;

use natter_server::actions::admin::AdminToken;
use natter_testing::env_or;
use natter_testing::load::{chat_turns, CHAT_BOT as BOT};
use natter_testing::server::{test_config, write_bot, TestServer};
use natter_testing::stats::{ms, pct};
use serde_json::{json, Value};

const ADMIN: &str = "bench-admin-token-0123456789-abcdefghij";

const SPIN_PY: &str = r#"
def execute_action(context):
    n = 0
    while True:
        n += 1
"#;

fn load_average() -> String {
    std::fs::read_to_string("/proc/loadavg")
        .unwrap_or_default()
        .split_whitespace()
        .take(3)
        .collect::<Vec<_>>()
        .join(" ")
}

#[tokio::main]
async fn main() {
    let clients = env_or("BENCH_CLIENTS", 50);
    let runaway = env_or("BENCH_RUNAWAY", 10);
    let turns = env_or("BENCH_TURNS", 20);
    let tmp = tempfile::tempdir().unwrap();
    let bots = tmp.path().join("bots");
    write_bot(&bots, "bench", BOT);
    write_bot(&bots, "spin", BOT);
    std::fs::write(bots.join("spin/spin.py"), SPIN_PY).unwrap();
    std::fs::create_dir_all(bots.join("spin/actions")).unwrap();
    std::fs::write(
        bots.join("spin/actions/spin.toml"),
        "description = \"spins\"\nkind = \"python\"\n[python]\nfile = \"spin.py\"\ntimeout_ms = 30000\n",
    )
    .unwrap();
    let mut config = test_config(&tmp.path().join("data"), &bots);
    config.http.admin_token = Some(AdminToken(ADMIN.into()));
    let server = TestServer::launch(config).await;
    let base = server.base.clone();

    chat_turns(&base, "bench", clients.min(10), 2).await; // warm-up
    let alone = chat_turns(&base, "bench", clients, turns).await;
    let load_alone = load_average();

    let http = reqwest::Client::new();
    let spinning: Vec<_> = (0..runaway)
        .map(|_| {
            let (http, base) = (http.clone(), base.clone());
            tokio::spawn(async move {
                let r = http
                    .post(format!("{base}/admin/v1/bots/spin/actions/spin/test"))
                    .bearer_auth(ADMIN)
                    .json(&json!({ "args": {} }))
                    .send()
                    .await
                    .unwrap();
                r.json::<Value>().await.unwrap()["run"]["status"].clone()
            })
        })
        .collect();
    // Let every runaway start spinning before measuring.
    tokio::time::sleep(Duration::from_secs(3)).await;
    let loaded = chat_turns(&base, "bench", clients, turns).await;
    let load_loaded = load_average();
    let mut statuses = Vec::new();
    for s in spinning {
        statuses.push(s.await.unwrap().to_string());
    }

    let line = |what: &str, v: &[Duration], load: &str| {
        println!(
            "{what:34} {} turns  p50 {}  p99 {}  (load average {load})",
            v.len(),
            ms(pct(v, 0.5)),
            ms(pct(v, 0.99))
        )
    };
    line(&format!("{clients} clients alone"), &alone, &load_alone);
    line(
        &format!("{clients} clients + {runaway} runaway scripts"),
        &loaded,
        &load_loaded,
    );
    println!(
        "p99 ratio (loaded / alone): {:.2}; runaway runs ended as {statuses:?}",
        pct(&loaded, 0.99).as_secs_f64() / pct(&alone, 0.99).as_secs_f64()
    );
    server.stop().await;
}
