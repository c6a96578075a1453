//! What a run gives back: values, logs, and every kind of failure of the user's code.
mod common;
use common::*;
use natter_python_runtime::*;
use serde_json::json;
use std::sync::Arc;

async fn rt() -> Runtime {
    runtime_with(Arc::new(InMemoryHost::new())).await
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn returns_value_and_captures_print_and_stderr_separately() {
    let bot = Bot::new();
    // The printed text looks like a result: it must not be mistaken for one.
    let s = bot.script(
        "a.py",
        r#"
        import sys
        def execute_action(context):
            print('{"t":"result","ok":true,"value":"forged"}')
            print("to stderr", file=sys.stderr)
            return {"orderId": context["args"]["orderId"], "n": [1, 2.5, None, True], "s": "héllo"}
    "#,
    );
    let out = rt()
        .await
        .run(action(&bot, &s, context(json!({"orderId": "42"}), None)))
        .await;
    assert_eq!(out.status, RunStatus::Ok, "{out:#?}");
    assert_eq!(
        out.value,
        json!({"orderId": "42", "n": [1, 2.5, null, true], "s": "héllo"})
    );
    assert_eq!(
        out.stdout,
        "{\"t\":\"result\",\"ok\":true,\"value\":\"forged\"}\n"
    );
    assert_eq!(out.stderr, "to stderr\n");
    assert!(out.error.is_none() && out.traceback.is_none());
    assert!(
        out.log.iter().any(|l| l.starts_with("sandbox: ")),
        "{:?}",
        out.log
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn any_json_value_comes_back() {
    let bot = Bot::new();
    let rt = rt().await;
    for (code, want) in [
        ("None", json!(null)),
        ("[1, 'a']", json!([1, "a"])),
        ("'text'", json!("text")),
        ("3.5", json!(3.5)),
        ("(1, 2)", json!([1, 2])),
    ] {
        let s = bot.script(
            "v.py",
            &format!("def execute_action(context):\n    return {code}\n"),
        );
        let out = rt.run(action(&bot, &s, context(json!({}), None))).await;
        assert_eq!(out.status, RunStatus::Ok, "{code}: {out:#?}");
        assert_eq!(out.value, want, "{code}");
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn exception_gives_traceback_in_log_and_error_to_bot() {
    let bot = Bot::new();
    let s = bot.script(
        "boom.py",
        r#"
        def helper(x):
            return 1 / x

        def execute_action(context):
            print("before the crash")
            return helper(0)
    "#,
    );
    let out = rt()
        .await
        .run(action(&bot, &s, context(json!({}), None)))
        .await;
    assert_eq!(out.status, RunStatus::Exception);
    assert_eq!(
        out.error.as_deref(),
        Some("ZeroDivisionError: division by zero")
    );
    let tb = out.traceback.as_deref().unwrap();
    assert!(
        tb.contains("boom.py\", line 3, in helper") && tb.contains("ZeroDivisionError"),
        "{tb}"
    );
    assert!(
        !tb.contains("natter_runtime.py"),
        "runtime frames are hidden: {tb}"
    );
    let msg = out.value["error"].as_str().unwrap();
    assert!(
        msg.contains("ZeroDivisionError") && !msg.contains("boom.py"),
        "{msg}"
    );
    assert_eq!(out.stdout, "before the crash\n");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn syntax_error_missing_function_not_json_and_missing_file() {
    let bot = Bot::new();
    let rt = rt().await;
    let s = bot.script("syn.py", "def execute_action(context)\n    return 1\n");
    let out = rt.run(action(&bot, &s, context(json!({}), None))).await;
    assert_eq!(out.status, RunStatus::SyntaxError, "{out:#?}");
    assert!(
        out.error.as_deref().unwrap().contains("syn.py, line 1"),
        "{:?}",
        out.error
    );
    assert!(out.value["error"]
        .as_str()
        .unwrap()
        .contains("syntax error"));

    let s = bot.script("nofn.py", "def something_else(context):\n    return 1\n");
    let out = rt.run(action(&bot, &s, context(json!({}), None))).await;
    assert_eq!(out.status, RunStatus::MissingFunction);
    assert!(out.value["error"]
        .as_str()
        .unwrap()
        .contains("execute_action(context)"));
    // An event handler needs handle_event, not execute_action.
    let s = bot.script("act.py", "def execute_action(context):\n    return 1\n");
    let req = RunRequest::event_handler(
        "acme",
        bot.path(),
        &s,
        "conversation_closed",
        context(json!({}), None),
    );
    let out = rt.run(req).await;
    assert_eq!(out.status, RunStatus::MissingFunction);

    let s = bot.script(
        "set.py",
        "def execute_action(context):\n    return {'a': {1, 2}}\n",
    );
    let out = rt.run(action(&bot, &s, context(json!({}), None))).await;
    assert_eq!(out.status, RunStatus::NotJson, "{out:#?}");
    assert!(out.error.as_deref().unwrap().contains("not JSON"));
    let s = bot.script(
        "nan.py",
        "def execute_action(context):\n    return float('nan')\n",
    );
    assert_eq!(
        rt.run(action(&bot, &s, context(json!({}), None)))
            .await
            .status,
        RunStatus::NotJson
    );

    let out = rt
        .run(action(
            &bot,
            "missing.py".as_ref(),
            context(json!({}), None),
        ))
        .await;
    assert_eq!(out.status, RunStatus::Internal);
    assert!(out.value["error"].is_string());
    let out = rt
        .run(action(
            &bot,
            "../etc/passwd".as_ref(),
            context(json!({}), None),
        ))
        .await;
    assert_eq!(out.status, RunStatus::Internal);
    assert!(
        out.error.as_deref().unwrap().contains("'..'"),
        "{:?}",
        out.error
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn system_exit_and_top_level_errors_are_reported() {
    let bot = Bot::new();
    let rt = rt().await;
    let s = bot.script(
        "exit.py",
        "import sys\ndef execute_action(context):\n    sys.exit(3)\n",
    );
    let out = rt.run(action(&bot, &s, context(json!({}), None))).await;
    assert_eq!(out.status, RunStatus::Exception);
    assert!(out.error.as_deref().unwrap().starts_with("SystemExit"));
    let s = bot.script(
        "imp.py",
        "import no_such_module_here\ndef execute_action(context):\n    return 1\n",
    );
    let out = rt.run(action(&bot, &s, context(json!({}), None))).await;
    assert_eq!(out.status, RunStatus::Exception);
    assert!(out
        .error
        .as_deref()
        .unwrap()
        .contains("ModuleNotFoundError"));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn output_is_bounded() {
    let bot = Bot::new();
    let s = bot.script("chatty.py", "def execute_action(context):\n    for i in range(20000):\n        print('x' * 99)\n    return 'done'\n");
    let cfg = RuntimeConfig {
        max_output: 10_000,
        ..test_config()
    };
    let rt = Runtime::start(cfg, Arc::new(InMemoryHost::new()))
        .await
        .unwrap();
    let out = rt.run(action(&bot, &s, context(json!({}), None))).await;
    assert_eq!(out.value, json!("done"));
    assert!(out.stdout.len() < 10_200, "{}", out.stdout.len());
    assert!(
        out.stdout
            .contains("output truncated, 1990000 more bytes dropped"),
        "{}",
        &out.stdout[9_900..]
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn context_shape_for_actions_handlers_and_test_runs() {
    let bot = Bot::new();
    let s = bot.script("ctx.py", r#"
        def execute_action(context):
            return context
        def handle_event(context):
            c = context["conversation"]
            return {"event": context["args"]["event_type"], "publicId": c["publicId"], "n": len(c["messages"]),
                    "senders": [m["sender"] for m in c["messages"]], "browser": context["browser_session"]}
    "#);
    let rt = rt().await;
    let mut conv = conversation("c-1", "web");
    conv.extra
        .insert("pageUrl".into(), json!("https://shop.example/cart"));
    let mut ctx = context(json!({"orderId": "42"}), Some(conv));
    ctx.browser_session = Some(json!({"userAgent": "Firefox", "language": "en"}));
    let out = rt.run(action(&bot, &s, ctx.clone())).await;
    assert_eq!(out.status, RunStatus::Ok, "{out:#?}");
    assert_eq!(
        out.value,
        json!({
            "args": {"orderId": "42"},
            "conversation": {
                "id": "c-1", "publicId": "ABC123XYZ", "subject": "Where is my order?", "businessSlug": "acme",
                "channel": "web", "pageUrl": "https://shop.example/cart",
                "messages": [
                    {"sender": "customer", "timestamp": "2026-01-02T10:00:00Z", "content": "Hi, order 42?", "channel": "web", "attachments": []},
                    {"sender": "bot", "timestamp": "2026-01-02T10:00:01Z", "content": "Let me check.", "channel": "web", "attachments": []}
                ]
            },
            "browser_session": {"userAgent": "Firefox", "language": "en"}
        })
    );
    // "Run Test" without a conversation id: conversation is None.
    let out = rt
        .run(action(&bot, &s, context(json!({"x": 1}), None)))
        .await;
    assert_eq!(
        out.value,
        json!({"args": {"x": 1}, "conversation": null, "browser_session": null})
    );
    // Event handler: args.event_type.
    let req = RunRequest::event_handler("acme", bot.path(), &s, "conversation_closed", ctx);
    let out = rt.run(req).await;
    assert_eq!(
        out.value,
        json!({"event": "conversation_closed", "publicId": "ABC123XYZ", "n": 2, "senders": ["customer", "bot"],
               "browser": {"userAgent": "Firefox", "language": "en"}})
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn bot_folder_modules_are_importable_and_cwd_is_the_bot_folder() {
    let bot = Bot::new();
    bot.script("shared_util.py", "def double(x):\n    return 2 * x\n");
    std::fs::write(bot.path().join("data.txt"), "from a file").unwrap();
    let s = bot.script("main.py", "import shared_util\ndef execute_action(context):\n    return [shared_util.double(21), open('data.txt').read()]\n");
    let out = rt()
        .await
        .run(action(&bot, &s, context(json!({}), None)))
        .await;
    assert_eq!(out.value, json!([42, "from a file"]), "{out:#?}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn oversized_result_is_refused_clearly() {
    let bot = Bot::new();
    let s = bot.script(
        "big.py",
        "def execute_action(context):\n    return 'x' * 200000\n",
    );
    let cfg = RuntimeConfig {
        max_message: 100_000,
        ..test_config()
    };
    let rt = Runtime::start(cfg, Arc::new(InMemoryHost::new()))
        .await
        .unwrap();
    let out = rt.run(action(&bot, &s, context(json!({}), None))).await;
    assert_eq!(out.status, RunStatus::NotJson, "{out:#?}");
    assert_eq!(
        out.error.as_deref(),
        Some("the result (or a helper call) is larger than 100000 bytes")
    );
    let s = bot.script(
        "ok.py",
        "def execute_action(context):\n    return 'x' * 1000\n",
    );
    assert!(rt
        .run(action(&bot, &s, context(json!({}), None)))
        .await
        .is_ok());
}
