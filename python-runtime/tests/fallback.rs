//! The fallback (no bubblewrap) when the server runs as root: one uid per worker, so the
//! process limit is per run and nothing a run started survives it. Needs root and an
//! interpreter readable by any uid (/usr/bin/python3); skipped otherwise.
mod common;
use common::*;
use natter_python_runtime::*;
use serde_json::json;
use std::sync::Arc;
use std::time::Duration;

async fn fallback_runtime(max_processes: u64, warm: usize) -> Option<Runtime> {
    // SAFETY: geteuid has no preconditions.
    if unsafe { libc_geteuid() } != 0 || !std::path::Path::new("/usr/bin/python3").exists() {
        eprintln!("not root or no /usr/bin/python3: fallback-as-root not testable here");
        return None;
    }
    let cfg = RuntimeConfig {
        sandbox: SandboxPolicy::Disable,
        python: "/usr/bin/python3".into(),
        max_processes,
        warm_per_folder: warm,
        max_warm_total: 2 * warm,
        ..test_config()
    };
    Some(
        Runtime::start(cfg, Arc::new(InMemoryHost::new()))
            .await
            .expect("fallback starts"),
    )
}

extern "C" {
    #[link_name = "geteuid"]
    fn libc_geteuid() -> u32;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn each_worker_has_its_own_uid_and_its_leftovers_are_swept() {
    let Some(rt) = fallback_runtime(32, 1).await else {
        return;
    };
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let port = listener.local_addr().unwrap().port();
    let bot = Bot::new();
    let s = bot.script(
        "bg.py",
        &format!(
            r#"
        import os, socket, time
        def execute_action(context):
            if os.fork() == 0:
                os.setsid()          # out of the process group: killpg cannot reach it
                time.sleep(1.0)
                s = socket.create_connection(("127.0.0.1", {port}))
                s.sendall(b"survived")
                os._exit(0)
            return os.getuid()
    "#
        ),
    );
    let out = rt.run(action(&bot, &s, context(json!({}), None))).await;
    assert_eq!(out.status, RunStatus::Ok, "{out:#?}");
    assert!(out.log[0].contains("FALLBACK"), "{:?}", out.log);
    let uid = out.value.as_u64().unwrap();
    assert!(uid >= 1_000_000_000, "own uid, not a shared one: {uid}");
    use tokio::io::AsyncReadExt;
    let got = tokio::time::timeout(Duration::from_secs(3), async {
        let (mut c, _) = listener.accept().await.unwrap();
        let mut b = Vec::new();
        c.read_to_end(&mut b).await.unwrap();
        b
    })
    .await;
    assert!(got.is_err(), "a process of the run outlived it: {got:?}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn process_limit_counts_only_the_runs_own_processes() {
    let Some(rt) = fallback_runtime(8, 4).await else {
        return;
    };
    let bots: Vec<Bot> = (0..2).map(|_| Bot::new()).collect();
    for b in &bots {
        rt.prewarm(b.path()).await.unwrap();
    }
    let s = bots[0].script(
        "forks.py",
        r#"
        import os, time
        def execute_action(context):
            kids, refused = 0, 0
            for _ in range(12):
                try:
                    pid = os.fork()
                except OSError:
                    refused += 1
                    continue
                if pid == 0:
                    time.sleep(5)
                    os._exit(0)
                kids += 1
            return {"forked": kids, "refused": refused}
    "#,
    );
    let out = rt.run(action(&bots[0], &s, context(json!({}), None))).await;
    assert_eq!(out.status, RunStatus::Ok, "{out:#?}");
    // 8 = python + 7 children, whatever the 7 other warm workers do.
    assert_eq!(out.value, json!({"forked": 7, "refused": 5}), "{out:#?}");
}
