//! The warm pool (no zygote): processes started ahead, one call each, bounded, ended on
//! shutdown.
mod common;
use common::*;
use natter_python_runtime::*;
use serde_json::json;
use std::sync::Arc;

const COUNTER: &str = r#"
import builtins
def execute_action(context):
    n = getattr(builtins, "_natter_test_calls", 0)
    builtins._natter_test_calls = n + 1
    return n
"#;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn every_call_gets_a_fresh_warm_process() {
    let bot = Bot::new();
    let s = bot.script("count.py", COUNTER);
    let rt = Runtime::start(pool_config(), Arc::new(InMemoryHost::new()))
        .await
        .unwrap();
    rt.prewarm(bot.path()).await.unwrap();
    assert_eq!(rt.warm_count(bot.path()), 1);
    for _ in 0..3 {
        rt.prewarm(bot.path()).await.unwrap();
        let out = rt.run(action(&bot, &s, context(json!({}), None))).await;
        // A process that served a call before would answer 1, 2, ...
        assert_eq!(out.value, json!(0), "{out:#?}");
        assert!(
            out.log.iter().any(|l| l.starts_with("process: warm")),
            "{:?}",
            out.log
        );
    }
    let st = rt.stats();
    assert_eq!((st.runs, st.ok, st.warm, st.cold), (3, 3, 3, 0), "{st:?}");
    rt.shutdown();
    assert_eq!(rt.warm_count(bot.path()), 0);
    assert_eq!(rt.stats().warm_ready, 0);
    // After shutdown calls still work, each starting its own process.
    let out = rt.run(action(&bot, &s, context(json!({}), None))).await;
    assert_eq!(out.value, json!(0));
    assert!(
        out.log.iter().any(|l| l.starts_with("process: cold")),
        "{:?}",
        out.log
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn pool_is_bounded_across_bots_and_concurrent_calls_work() {
    let bots: Vec<Bot> = (0..3).map(|_| Bot::new()).collect();
    let cfg = RuntimeConfig {
        warm_per_folder: 2,
        max_warm_total: 3,
        ..pool_config()
    };
    let rt = Runtime::start(cfg, Arc::new(InMemoryHost::new()))
        .await
        .unwrap();
    for b in &bots {
        rt.prewarm(b.path()).await.unwrap();
    }
    let total: usize = bots.iter().map(|b| rt.warm_count(b.path())).sum();
    assert!(total <= 3, "warm processes {total} exceed the bound");
    assert_eq!(
        rt.warm_count(bots[2].path()),
        2,
        "the newest folder gets its share"
    );

    let mut calls = Vec::new();
    for (i, b) in bots.iter().enumerate() {
        let s = b.script(
            "echo.py",
            "def execute_action(context):\n    return context['args']['i']\n",
        );
        for j in 0..2 {
            let rt = rt.clone();
            let req = action(b, &s, context(json!({"i": i * 10 + j}), None));
            calls.push(tokio::spawn(async move { (i * 10 + j, rt.run(req).await) }));
        }
    }
    for c in calls {
        let (want, out) = c.await.unwrap();
        assert_eq!(out.value, json!(want), "{out:#?}");
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn edited_script_is_picked_up_by_a_warm_process() {
    let bot = Bot::new();
    let s = bot.script("v.py", "def execute_action(context):\n    return 1\n");
    let rt = Runtime::start(pool_config(), Arc::new(InMemoryHost::new()))
        .await
        .unwrap();
    rt.prewarm(bot.path()).await.unwrap();
    bot.script("v.py", "def execute_action(context):\n    return 2\n");
    let out = rt.run(action(&bot, &s, context(json!({}), None))).await;
    assert_eq!(out.value, json!(2));
}
