mod common;
use common::*;
use natter_python_runtime::*;
use serde_json::json;
use std::sync::Arc;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn returns_value_and_captures_print() {
    let bot = Bot::new();
    let s = bot.script("a.py", r#"
        import sys
        def execute_action(context):
            print("hello from print")
            print("to stderr", file=sys.stderr)
            return {"orderId": context["args"]["orderId"], "n": [1, 2.5, None, True]}
    "#);
    let rt = runtime_with(Arc::new(InMemoryHost::new())).await;
    let out = rt.run(action(&bot, &s, context(json!({"orderId": "42"}), None))).await;
    eprintln!("{out:#?}");
    assert_eq!(out.status, RunStatus::Ok);
    assert_eq!(out.value, json!({"orderId": "42", "n": [1, 2.5, null, true]}));
    assert_eq!(out.stdout, "hello from print\n");
    assert_eq!(out.stderr, "to stderr\n");
}

#[tokio::test]
async fn bwrap_required_starts() {
    let cfg = RuntimeConfig { sandbox: SandboxPolicy::Require, ..test_config() };
    let r = Runtime::start(cfg, Arc::new(InMemoryHost::new())).await;
    if let Err(e) = &r {
        panic!("{e}");
    }
}
