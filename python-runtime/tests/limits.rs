//! Limits: time, memory, processes. Each runaway script is stopped and reported, and the
//! runtime serves the next call normally. No wall-clock asserts: only "stopped, and why".
mod common;
use common::*;
use natter_python_runtime::*;
use serde_json::json;
use std::sync::Arc;
use std::time::Duration;

const OK: &str = "def execute_action(context):\n    return 'still serving'\n";

async fn assert_still_serving(rt: &Runtime, bot: &Bot) {
    let s = bot.script("ok.py", OK);
    let out = rt.run(action(bot, &s, context(json!({}), None))).await;
    assert_eq!(out.value, json!("still serving"), "{out:#?}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn endless_loop_is_killed_at_the_time_limit() {
    let bot = Bot::new();
    let s = bot.script("loop.py", "def execute_action(context):\n    print('looping', flush=True)\n    while True:\n        pass\n");
    let rt = runtime_with(Arc::new(InMemoryHost::new())).await;
    // Warm first: the limit covers starting a process too, and on a loaded machine a cold
    // start could eat the whole budget before the loop prints.
    rt.prewarm(bot.path()).await.unwrap();
    let mut req = action(&bot, &s, context(json!({}), None));
    req.timeout = Some(Duration::from_millis(1500));
    let out = rt.run(req).await;
    assert_eq!(out.status, RunStatus::Timeout, "{out:#?}");
    assert!(out
        .error
        .as_deref()
        .unwrap()
        .contains("timed out after 1.5 s"));
    assert!(out.value["error"]
        .as_str()
        .unwrap()
        .contains("did not finish"));
    assert_eq!(out.stdout, "looping\n", "output before the kill is kept");
    assert_still_serving(&rt, &bot).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn event_handler_default_limit_is_separate_from_actions() {
    let bot = Bot::new();
    let s = bot.script("slow.py", "import time\ndef handle_event(context):\n    time.sleep(1.5)\n    return 'slept'\ndef execute_action(context):\n    return handle_event(context)\n");
    let cfg = RuntimeConfig {
        action_timeout: Duration::from_millis(500),
        handler_timeout: Duration::from_secs(10),
        ..test_config()
    };
    let rt = Runtime::start(cfg, Arc::new(InMemoryHost::new()))
        .await
        .unwrap();
    let out = rt.run(action(&bot, &s, context(json!({}), None))).await;
    assert_eq!(out.status, RunStatus::Timeout);
    let out = rt
        .run(RunRequest::event_handler(
            "acme",
            bot.path(),
            &s,
            "conversation_closed",
            context(json!({}), None),
        ))
        .await;
    assert_eq!(out.value, json!("slept"), "{out:#?}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn unbounded_allocation_is_stopped_by_the_memory_limit() {
    let bot = Bot::new();
    let s = bot.script("hog.py", "def execute_action(context):\n    hog = []\n    while True:\n        hog.append(bytearray(8 << 20))\n");
    let rt = runtime_with(Arc::new(InMemoryHost::new())).await;
    let mut req = action(&bot, &s, context(json!({}), None));
    req.timeout = Some(Duration::from_secs(20)); // generous: the memory limit must stop it first
    let out = rt.run(req).await;
    eprintln!("memory hog: {:?} {:?}", out.status, out.error);
    assert_ne!(
        out.status,
        RunStatus::Timeout,
        "the memory limit, not the clock, must stop it: {out:#?}"
    );
    assert!(
        matches!(out.status, RunStatus::Exception | RunStatus::Crashed),
        "{out:#?}"
    );
    if out.status == RunStatus::Exception {
        assert_eq!(out.error.as_deref(), Some("MemoryError"));
    }
    assert!(out.value["error"].is_string());
    assert_still_serving(&rt, &bot).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn fork_bomb_is_contained_and_cleaned_up() {
    let bot = Bot::new();
    let s = bot.script(
        "bomb.py",
        r#"
        import os, time
        def execute_action(context):
            made = 0
            while True:
                try:
                    if os.fork() == 0:
                        while True:
                            try:
                                os.fork()
                            except OSError:
                                time.sleep(0.01)
                    made += 1
                except OSError as e:
                    return {"refused_after": made, "errno": e.errno}
    "#,
    );
    let rt = runtime_with(Arc::new(InMemoryHost::new())).await;
    let mut req = action(&bot, &s, context(json!({}), None));
    req.timeout = Some(Duration::from_secs(5));
    let out = rt.run(req).await;
    eprintln!("fork bomb: {:?} {:?} {}", out.status, out.error, out.value);
    // Either the process limit refused a fork (EAGAIN = 11) and the action returned, or the
    // clock stopped it; in both cases it is over and every process of it is gone.
    match out.status {
        RunStatus::Ok => {
            assert_eq!(out.value["errno"], json!(11), "{out:#?}");
            assert!(
                out.value["refused_after"].as_u64().unwrap() < 64,
                "{out:#?}"
            );
        }
        RunStatus::Timeout | RunStatus::Exception | RunStatus::Crashed => {}
        other => panic!("unexpected {other:?}: {out:#?}"),
    }
    // A second bomb right after: if the first one's processes survived, the limit would
    // already be exhausted; the runtime still serves normal calls.
    assert_still_serving(&rt, &bot).await;
    let out = rt.run(action(&bot, &s, context(json!({}), None))).await;
    assert_eq!(out.status, RunStatus::Ok, "{out:#?}");
    assert_still_serving(&rt, &bot).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn background_processes_die_with_the_run() {
    use tokio::io::AsyncReadExt;
    // A detached grandchild tries to call home after the run has ended.
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
                os.setsid()
                time.sleep(1.0)
                s = socket.create_connection(("127.0.0.1", {port}))
                s.sendall(b"survived")
                os._exit(0)
            return "returned"
    "#
        ),
    );
    // With the host's network, so that a survivor could call home.
    let cfg = RuntimeConfig {
        isolate_network: false,
        ..test_config()
    };
    let rt = Runtime::start(cfg, Arc::new(InMemoryHost::new()))
        .await
        .unwrap();
    let out = rt.run(action(&bot, &s, context(json!({}), None))).await;
    assert_eq!(out.value, json!("returned"), "{out:#?}");
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
async fn process_limit_is_per_sandbox_not_per_uid() {
    // Eight pre-started workers of the same sandbox uid exist; with a per-uid count and a
    // limit of 8 the call below could not fork at all. Inside its own user namespace it can.
    let bots: Vec<Bot> = (0..2).map(|_| Bot::new()).collect();
    let cfg = RuntimeConfig {
        max_processes: 8,
        warm_per_folder: 4,
        max_warm_total: 8,
        ..test_config()
    };
    let rt = Runtime::start(cfg, Arc::new(InMemoryHost::new()))
        .await
        .unwrap();
    for b in &bots {
        rt.prewarm(b.path()).await.unwrap();
    }
    let s = bots[0].script(
        "five.py",
        r#"
        import os, time
        def execute_action(context):
            kids, refused = [], 0
            for _ in range(12):
                try:
                    pid = os.fork()
                except OSError:
                    refused += 1
                    continue
                if pid == 0:
                    time.sleep(5)
                    os._exit(0)
                kids.append(pid)
            return {"forked": len(kids), "refused": refused}
    "#,
    );
    let out = rt.run(action(&bots[0], &s, context(json!({}), None))).await;
    assert_eq!(out.status, RunStatus::Ok, "{out:#?}");
    let forked = out.value["forked"].as_u64().unwrap();
    // 8 = the call process + 7 children when forked by a zygote (pid 1 of its own
    // namespace), bwrap's init + python + 6 children in a pool worker; the rest refused.
    assert!((5..=7).contains(&forked), "{}", out.value);
    assert_eq!(forked + out.value["refused"].as_u64().unwrap(), 12);
}
