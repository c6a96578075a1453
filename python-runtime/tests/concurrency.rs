//! Output of subprocesses, helpers called from threads.
mod common;
use common::*;
use natter_python_runtime::*;
use serde_json::json;
use std::sync::Arc;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn subprocess_output_is_captured_too() {
    let bot = Bot::new();
    let s = bot.script("sub.py", r#"
        import subprocess, sys
        def execute_action(context):
            subprocess.run(["/bin/sh", "-c", "echo from a child; echo child err >&2"], check=True)
            return "ok"
    "#);
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
    let s = bot.script("threads.py", r#"
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
    "#);
    let rt = runtime_with(host.clone()).await;
    let out = rt.run(action(&bot, &s, context(json!({}), Some(conversation("conv-t", "web"))))).await;
    assert_eq!(out.value, json!({"errors": []}), "{out:#?}");
    let md = host.conversation("conv-t").metadata;
    assert_eq!(md.len(), 6);
    assert!(md.values().all(|v| *v == json!(19)));
}
