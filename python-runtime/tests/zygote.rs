//! Zygotes: each call is forked by its bot's zygote, isolated from every other call (memory,
//! /tmp, processes, limits), and the zygote survives what calls do, is replaced when it
//! dies or its folder is replaced, and ends on shutdown. Needs bubblewrap (skipped without).
mod common;
use common::*;
use natter_python_runtime::*;
use serde_json::{json, Value};
use std::path::Path;
use std::sync::Arc;
use std::time::Duration;

async fn zygote_runtime(cfg: RuntimeConfig) -> Option<Runtime> {
    let rt = Runtime::start(cfg, Arc::new(InMemoryHost::new()))
        .await
        .expect("runtime starts");
    if !rt.uses_zygotes() {
        eprintln!("no bubblewrap / nested user namespaces here: zygotes not testable");
        return None;
    }
    Some(rt)
}

fn forked_by_running_zygote(out: &RunOutcome) -> bool {
    out.log
        .iter()
        .any(|l| l.starts_with("process: forked by the bot's zygote (up"))
}

fn alive(pid: i32) -> bool {
    Path::new(&format!("/proc/{pid}")).exists()
        && !std::fs::read_to_string(format!("/proc/{pid}/stat"))
            .unwrap_or_default()
            .contains(") Z ")
}

const LEAKY: &str = r#"
import builtins, os, random
counter = 0
def execute_action(context):
    global counter
    counter += 1
    seen = {
        "module_global": counter,
        "builtins": getattr(builtins, "_leak", None),
        "env": os.environ.get("LEAK"),
        "tmp": sorted(os.listdir("/tmp")),
    }
    seen["random"] = random.getrandbits(64)  # reseeded in every fork
    builtins._leak = "from an earlier call"
    os.environ["LEAK"] = "from an earlier call"
    with open("/tmp/leak", "w") as f:
        f.write("x")
    return seen
"#;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn every_call_is_forked_fresh_and_nothing_leaks_to_the_next() {
    let Some(rt) = zygote_runtime(test_config()).await else {
        return;
    };
    let bot = Bot::new();
    let s = bot.script("leak.py", LEAKY);
    rt.prewarm(bot.path()).await.unwrap();
    assert!(rt.zygote_ready(bot.path()));
    let mut randoms = std::collections::HashSet::new();
    for _ in 0..3 {
        let mut out = rt.run(action(&bot, &s, context(json!({}), None))).await;
        let r = out.value.as_object_mut().and_then(|o| o.remove("random"));
        assert!(randoms.insert(r.clone().unwrap_or_default()), "{r:?} again");
        assert_eq!(
            out.value,
            json!({"module_global": 1, "builtins": null, "env": null, "tmp": []}),
            "{out:#?}"
        );
        assert!(forked_by_running_zygote(&out), "{:?}", out.log);
    }
    let st = rt.stats();
    assert_eq!(
        (st.runs, st.forked, st.warm, st.cold),
        (3, 3, 0, 0),
        "{st:?}"
    );
    assert_eq!(st.zygotes, 1);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn concurrent_calls_see_only_themselves() {
    let Some(rt) = zygote_runtime(test_config()).await else {
        return;
    };
    let bot = Bot::new();
    let s = bot.script(
        "alone.py",
        r#"
        import os, signal, time
        def execute_action(context):
            i = context["args"]["i"]
            with open(f"/tmp/mine-{i}", "w") as f:
                f.write(str(i))
            time.sleep(0.5)  # the others are running now
            try:
                os.kill(-1, signal.SIGKILL)  # everything it may signal: only its own
                killed = "sent"
            except ProcessLookupError:
                killed = "no one else"
            return {
                "pid": os.getpid(),
                "procs": sorted(p for p in os.listdir("/proc") if p.isdigit()),
                "tmp": sorted(os.listdir("/tmp")),
                "kill_all": killed,
            }
    "#,
    );
    rt.prewarm(bot.path()).await.unwrap();
    let calls: Vec<_> = (0..6)
        .map(|i| {
            let rt = rt.clone();
            let req = action(&bot, &s, context(json!({"i": i}), None));
            tokio::spawn(async move { (i, rt.run(req).await) })
        })
        .collect();
    for c in calls {
        let (i, out) = c.await.unwrap();
        assert_eq!(
            out.value,
            json!({"pid": 1, "procs": ["1"], "tmp": [format!("mine-{i}")], "kill_all": "no one else"}),
            "{out:#?}"
        );
    }
    // Nobody's kill(-1) reached the zygote.
    let out = rt
        .run(action(&bot, &s, context(json!({"i": 9}), None)))
        .await;
    assert!(forked_by_running_zygote(&out), "{:?}", out.log);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn runaway_calls_are_stopped_and_the_zygote_and_other_calls_are_unharmed() {
    let Some(rt) = zygote_runtime(test_config()).await else {
        return;
    };
    let bot = Bot::new();
    let hog = bot.script(
        "hog.py",
        "def execute_action(context):\n    hog = []\n    while True:\n        hog.append(bytearray(8 << 20))\n",
    );
    let spin = bot.script(
        "spin.py",
        "def execute_action(context):\n    while True:\n        pass\n",
    );
    let bomb = bot.script(
        "bomb.py",
        r#"
        import os, time
        def execute_action(context):
            while True:
                try:
                    if os.fork() == 0:
                        while True:
                            try:
                                os.fork()
                            except OSError:
                                time.sleep(0.01)
                except OSError:
                    time.sleep(0.01)
    "#,
    );
    let forks = bot.script(
        "forks.py",
        r#"
        import os, time
        def execute_action(context):
            time.sleep(0.3)  # while the bomb holds all the processes it may
            n = 0
            for _ in range(5):
                if os.fork() == 0:
                    time.sleep(2)
                    os._exit(0)
                n += 1
            return n
    "#,
    );
    rt.prewarm(bot.path()).await.unwrap();
    let zygote = rt.zygote_pid(bot.path()).expect("a zygote is up") as i32;
    let run = |script: &Path, secs: u64| {
        let rt = rt.clone();
        let mut req = action(&bot, script, context(json!({}), None));
        req.timeout = Some(Duration::from_secs(secs));
        tokio::spawn(async move { rt.run(req).await })
    };
    let (hog, spin, bomb, forks) = (run(&hog, 20), run(&spin, 2), run(&bomb, 2), run(&forks, 10));
    let hog = hog.await.unwrap();
    assert!(
        matches!(hog.status, RunStatus::Exception | RunStatus::Crashed),
        "the memory limit stops it: {hog:#?}"
    );
    assert_eq!(spin.await.unwrap().status, RunStatus::Timeout);
    assert_eq!(bomb.await.unwrap().status, RunStatus::Timeout);
    // Its own process limit, untouched by the bomb running beside it.
    let forks = forks.await.unwrap();
    assert_eq!(forks.value, json!(5), "{forks:#?}");
    assert!(alive(zygote), "the zygote survived");
    assert_eq!(rt.zygote_pid(bot.path()), Some(zygote as u32));
    let ok = bot.script("ok.py", "def execute_action(context):\n    return 'ok'\n");
    let out = rt.run(action(&bot, &ok, context(json!({}), None))).await;
    assert_eq!(out.value, json!("ok"), "{out:#?}");
    assert!(forked_by_running_zygote(&out), "{:?}", out.log);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_dead_zygote_fails_its_running_call_cleanly_and_is_replaced() {
    let Some(rt) = zygote_runtime(test_config()).await else {
        return;
    };
    let bot = Bot::new();
    let slow = bot.script(
        "slow.py",
        "import time\ndef execute_action(context):\n    time.sleep(30)\n",
    );
    let ok = bot.script("ok.py", "def execute_action(context):\n    return 'ok'\n");
    rt.prewarm(bot.path()).await.unwrap();
    let zygote = rt.zygote_pid(bot.path()).expect("a zygote is up") as i32;

    let rt2 = rt.clone();
    let req = action(&bot, &slow, context(json!({}), None));
    let running = tokio::spawn(async move { rt2.run(req).await });
    tokio::time::sleep(Duration::from_millis(500)).await;
    // SAFETY: plain syscall on a process this test's runtime started.
    unsafe { libc_kill(zygote, 9) };
    let out = tokio::time::timeout(Duration::from_secs(10), running)
        .await
        .expect("the running call ends at once, not at its time limit")
        .unwrap();
    assert_eq!(out.status, RunStatus::Crashed, "{out:#?}");
    assert!(
        out.error.as_deref().unwrap().contains("zygote"),
        "{:?}",
        out.error
    );

    // The next call gets a new zygote (retried once if it finds the dead one first).
    let out = rt.run(action(&bot, &ok, context(json!({}), None))).await;
    assert_eq!(out.value, json!("ok"), "{out:#?}");
    assert!(
        out.log
            .iter()
            .any(|l| l.contains("zygote started for this call")),
        "{:?}",
        out.log
    );
    let second = rt.zygote_pid(bot.path()).expect("a new zygote is up");
    assert_ne!(second, zygote as u32);

    // Killed right before a call, before anything noticed: the call still succeeds (a new
    // zygote, or one retry of the fork on it; the job was never sent to the dead one).
    // SAFETY: as above.
    unsafe { libc_kill(second as i32, 9) };
    let out = rt.run(action(&bot, &ok, context(json!({}), None))).await;
    eprintln!("after a sudden zygote death: {:?}", out.log);
    assert_eq!(out.value, json!("ok"), "{out:#?}");
}

extern "C" {
    #[link_name = "kill"]
    fn libc_kill(pid: i32, sig: i32) -> i32;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn edited_code_is_seen_and_a_replaced_folder_gets_a_new_zygote() {
    let Some(rt) = zygote_runtime(test_config()).await else {
        return;
    };
    let bot = Bot::new();
    let dir = bot.path().join("bot");
    std::fs::create_dir(&dir).unwrap();
    let write = |d: &Path, v: i32| {
        std::fs::write(
            d.join("v.py"),
            format!("import helper\ndef execute_action(context):\n    return [{v}, helper.V]\n"),
        )
        .unwrap();
        std::fs::write(d.join("helper.py"), format!("V = {v}\n")).unwrap();
    };
    write(&dir, 1);
    let req = || RunRequest::action("acme", &dir, "v.py", context(json!({}), None));
    assert_eq!(rt.run(req()).await.value, json!([1, 1]));
    write(&dir, 2); // edited in place: the zygote keeps serving, the call reads the new code
    let out = rt.run(req()).await;
    assert_eq!(out.value, json!([2, 2]), "{out:#?}");
    assert!(forked_by_running_zygote(&out), "{:?}", out.log);

    // A deploy that swaps the folder: the old zygote still mounts the old one.
    let new = bot.path().join("bot.new");
    std::fs::create_dir(&new).unwrap();
    write(&new, 3);
    std::fs::rename(&dir, bot.path().join("bot.old")).unwrap();
    std::fs::rename(&new, &dir).unwrap();
    let out = rt.run(req()).await;
    assert_eq!(out.value, json!([3, 3]), "{out:#?}");
    assert!(
        out.log
            .iter()
            .any(|l| l.contains("zygote started for this call")),
        "{:?}",
        out.log
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn shutdown_ends_the_zygotes_and_their_calls() {
    let Some(rt) = zygote_runtime(test_config()).await else {
        return;
    };
    let bot = Bot::new();
    let slow = bot.script(
        "slow.py",
        "import time\ndef execute_action(context):\n    time.sleep(30)\n",
    );
    rt.prewarm(bot.path()).await.unwrap();
    let zygote = rt.zygote_pid(bot.path()).expect("a zygote is up") as i32;
    let rt2 = rt.clone();
    let req = action(&bot, &slow, context(json!({}), None));
    let running = tokio::spawn(async move { rt2.run(req).await });
    tokio::time::sleep(Duration::from_millis(500)).await;
    rt.shutdown();
    let out = tokio::time::timeout(Duration::from_secs(10), running)
        .await
        .expect("the running call ends with its zygote")
        .unwrap();
    assert_eq!(out.status, RunStatus::Crashed, "{out:#?}");
    for _ in 0..50 {
        if !alive(zygote) {
            break;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    assert!(!alive(zygote), "the zygote is gone");
    assert_eq!(rt.stats().zygotes, 0);
    // Later calls still work, each with a fresh interpreter of its own.
    let ok = bot.script("ok.py", "def execute_action(context):\n    return 'ok'\n");
    let out = rt.run(action(&bot, &ok, context(json!({}), None))).await;
    assert_eq!(out.value, json!("ok"), "{out:#?}");
    assert!(
        out.log.iter().any(|l| l.starts_with("process: cold")),
        "{:?}",
        out.log
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn output_and_results_stay_with_their_own_call() {
    let Some(rt) = zygote_runtime(test_config()).await else {
        return;
    };
    let bot = Bot::new();
    let s = bot.script(
        "echo.py",
        r#"
        import sys, time
        def execute_action(context):
            i = context["args"]["i"]
            for _ in range(20):
                print(f"out {i}")
                print(f"err {i}", file=sys.stderr)
                time.sleep(0.005)
            return i
    "#,
    );
    let calls: Vec<_> = (0..8)
        .map(|i| {
            let rt = rt.clone();
            let req = action(&bot, &s, context(json!({"i": i}), None));
            tokio::spawn(async move { (i, rt.run(req).await) })
        })
        .collect();
    for c in calls {
        let (i, out) = c.await.unwrap();
        assert_eq!(out.value, Value::from(i), "{out:#?}");
        assert_eq!(out.stdout, format!("out {i}\n").repeat(20));
        assert_eq!(out.stderr, format!("err {i}\n").repeat(20));
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn without_network_each_call_has_a_loopback_of_its_own() {
    let cfg = RuntimeConfig {
        isolate_network: true,
        ..test_config()
    };
    let Some(rt) = zygote_runtime(cfg).await else {
        return;
    };
    let bot = Bot::new();
    let s = bot.script(
        "lo.py",
        r#"
        import socket, time
        def execute_action(context):
            srv = socket.socket()
            srv.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
            srv.bind(("127.0.0.1", 45678))  # the same port in every call: no clash
            srv.listen()
            time.sleep(0.3)  # the other calls hold it too meanwhile
            c = socket.create_connection(("127.0.0.1", 45678), timeout=2)
            peer, _ = srv.accept()
            c.sendall(b"hi")
            return peer.recv(2).decode()
    "#,
    );
    let calls: Vec<_> = (0..3)
        .map(|_| {
            let rt = rt.clone();
            let req = action(&bot, &s, context(json!({}), None));
            tokio::spawn(async move { rt.run(req).await })
        })
        .collect();
    for c in calls {
        let out = c.await.unwrap();
        assert_eq!(out.value, json!("hi"), "{out:#?}");
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn zygotes_are_bounded_least_recently_used_first() {
    let cfg = RuntimeConfig {
        max_zygotes: 2,
        ..test_config()
    };
    let Some(rt) = zygote_runtime(cfg).await else {
        return;
    };
    let bots: Vec<Bot> = (0..3).map(|_| Bot::new()).collect();
    for (i, b) in bots.iter().enumerate() {
        let s = b.script(
            "i.py",
            &format!("def execute_action(context):\n    return {i}\n"),
        );
        let out = rt.run(action(b, &s, context(json!({}), None))).await;
        assert_eq!(out.value, json!(i), "{out:#?}");
        assert!(rt.stats().zygotes <= 2, "{:?}", rt.stats());
    }
    assert!(
        !rt.zygote_ready(bots[0].path()),
        "the least recently used went"
    );
    assert!(rt.zygote_ready(bots[1].path()) && rt.zygote_ready(bots[2].path()));
}
