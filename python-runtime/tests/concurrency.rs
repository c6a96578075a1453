//! Output of subprocesses, helpers called from threads.
mod common;
use common::*;
use natter_python_runtime::*;
use serde_json::json;
use std::sync::Arc;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn subprocess_output_is_captured_too() {
    let bot = Bot::new();
    let s = bot.script(
        "sub.py",
        r#"
        import subprocess, sys
        def execute_action(context):
            subprocess.run(["/bin/sh", "-c", "echo from a child; echo child err >&2"], check=True)
            return "ok"
    "#,
    );
    let rt = runtime_with(Arc::new(InMemoryHost::new())).await;
    let out = rt.run(action(&bot, &s, context(json!({}), None))).await;
    assert_eq!(out.value, json!("ok"), "{out:#?}");
    assert_eq!(out.stdout, "from a child\n");
    assert_eq!(out.stderr, "child err\n");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn helpers_from_several_threads_do_not_mix_replies() {
    let host = Arc::new(InMemoryHost::new());
    let bot = Bot::new();
    let s = bot.script(
        "threads.py",
        r#"
        import threading
        def execute_action(context):
            errors = []
            def work(i):
                try:
                    for j in range(20):
                        set_conversation_metadata(context, f"k{i}", j)
                        got = get_conversation_metadata(context, f"k{i}")
                        if got != j:
                            errors.append((i, j, got))
                except Exception as e:
                    errors.append(repr(e))
            ts = [threading.Thread(target=work, args=(i,)) for i in range(6)]
            for t in ts: t.start()
            for t in ts: t.join()
            return {"errors": errors}
    "#,
    );
    let rt = runtime_with(host.clone()).await;
    let out = rt
        .run(action(
            &bot,
            &s,
            context(json!({}), Some(conversation("conv-t", "web"))),
        ))
        .await;
    assert_eq!(out.value, json!({"errors": []}), "{out:#?}");
    let md = host.conversation("conv-t").metadata;
    assert_eq!(md.len(), 6);
    assert!(md.values().all(|v| *v == json!(19)));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn runs_at_once_are_bounded_and_waiting_counts_against_the_limit() {
    let bot = Bot::new();
    let slow = bot.script(
        "slow.py",
        "import time\ndef execute_action(context):\n    time.sleep(1.5)\n    return 'slow done'\n",
    );
    let fast = bot.script(
        "fast.py",
        "def execute_action(context):\n    return 'fast done'\n",
    );
    let cfg = RuntimeConfig {
        max_concurrent_runs: 1,
        ..test_config()
    };
    let rt = Runtime::start(cfg, Arc::new(InMemoryHost::new()))
        .await
        .unwrap();
    let rt2 = rt.clone();
    let slow_req = action(&bot, &slow, context(json!({}), None));
    let first = tokio::spawn(async move { rt2.run(slow_req).await });
    tokio::time::sleep(std::time::Duration::from_millis(300)).await; // let it take the slot
    let mut req = action(&bot, &fast, context(json!({}), None));
    req.timeout = Some(std::time::Duration::from_millis(400));
    let out = rt.run(req).await;
    assert_eq!(out.status, RunStatus::Timeout, "{out:#?}");
    assert!(
        out.error.as_deref().unwrap().contains("no free slot"),
        "{:?}",
        out.error
    );
    assert_eq!(first.await.unwrap().value, json!("slow done"));
    // The slot is free again.
    let out = rt.run(action(&bot, &fast, context(json!({}), None))).await;
    assert_eq!(out.value, json!("fast done"));
}
