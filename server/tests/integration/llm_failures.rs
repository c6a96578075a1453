//! The LLM agent when things go wrong: refused and invalid tool calls never reach the action;
//! 429 is retried; a broken stream or an endpoint that keeps failing ends the turn with the
//! fallback and `run.failed`; `[llm]` config errors name file and line (`natter check`).

use std::process::Command;

use serde_json::Value;

use crate::common::*;
use crate::llm::standin::{chunks, Reply};
use crate::llm::{request_messages, start};

fn run_failed_code(events: &[Value]) -> String {
    let last = events.last().unwrap();
    assert_eq!(last["type"], "run.failed", "{events:#?}");
    last["error"]["code"].as_str().unwrap().to_string()
}

#[tokio::test]
async fn llm_call_to_an_action_not_enabled_in_the_workflow_is_refused_and_never_runs() {
    let t = start().await;
    // refundOrder exists but is enabled only in `refunds`; the active workflow is `orders`.
    t.model.push(Reply::stream(chunks::tool_calls(&[(
        "r1",
        "refundOrder",
        r#"{"orderId":"42"}"#,
    )])));
    t.model
        .push(Reply::stream(chunks::text(&["I can't refund that here."])));
    let thread = t.thread().await;
    let events = t.server.turn(&thread, "give me my money back for 42").await;
    assert_eq!(
        types(&events).last().unwrap(),
        "run.completed",
        "{events:#?}"
    );
    assert_eq!(
        t.api.hits("/refund"),
        0,
        "a refused call never reaches the API"
    );
    assert!(
        !types(&events).iter().any(|t| t.starts_with("action.")),
        "{:?}",
        types(&events)
    );
    let msgs = request_messages(&t.model, 1);
    let refusal = msgs.last().unwrap()["content"].as_str().unwrap();
    assert!(refusal.contains("no tool named `refundOrder`"), "{refusal}");
    // In the `refunds` workflow (selected by its trigger) the same call runs.
    t.model.push(Reply::stream(chunks::tool_calls(&[(
        "r2",
        "refundOrder",
        r#"{"orderId":"42"}"#,
    )])));
    t.model.push(Reply::stream(chunks::text(&["Refunded."])));
    let events = t.server.turn(&thread, "I want a refund for 42").await;
    assert_eq!(
        types(&events).last().unwrap(),
        "run.completed",
        "{events:#?}"
    );
    assert_eq!(t.api.hits("/refund"), 1);
    t.server.stop().await;
}

#[tokio::test]
async fn llm_invalid_arguments_are_rejected_before_the_action_and_the_model_retries() {
    let t = start().await;
    t.model.push(Reply::stream(chunks::tool_calls(&[(
        "c1",
        "getOrderDetails",
        r#"{"order": 42}"#,
    )])));
    t.model.push(Reply::stream(chunks::tool_calls(&[(
        "c2",
        "getOrderDetails",
        r#"{"orderId": "42"}"#,
    )])));
    t.model.push(Reply::stream(chunks::text(&["Shipped."])));
    let thread = t.thread().await;
    let events = t.server.turn(&thread, "order 42?").await;
    assert_eq!(
        types(&events).last().unwrap(),
        "run.completed",
        "{events:#?}"
    );
    assert_eq!(t.api.hits("/orders/42"), 1, "only the valid call ran");
    let msgs = request_messages(&t.model, 1);
    let err = msgs.last().unwrap()["content"].as_str().unwrap();
    assert!(
        err.contains("invalid arguments for `getOrderDetails`"),
        "{err}"
    );
    t.server.stop().await;
}

#[tokio::test]
async fn llm_too_many_invalid_calls_end_the_turn_with_the_fallback() {
    let t = start().await;
    // max_invalid_tool_calls = 3 (default): the 4th invalid call ends the turn.
    for i in 0..4 {
        t.model.push(Reply::fast(chunks::tool_calls(&[(
            &format!("bad{i}"),
            "getOrderDetails",
            r#"{"orderId": 42}"#,
        )])));
    }
    let thread = t.thread().await;
    let events = t.server.turn(&thread, "order 42?").await;
    assert_eq!(run_failed_code(&events), "llm_invalid_tool_calls");
    assert_eq!(replies(&events), ["Sorry, I can't answer right now."]);
    assert_eq!(t.api.hits("/orders/42"), 0);
    assert_eq!(t.model.seen().len(), 4);
    t.server.stop().await;
}

#[tokio::test]
async fn llm_429_is_retried_after_retry_after_then_answers() {
    let t = start().await;
    t.model.push(Reply::status(429, Some("0")));
    t.model.push(Reply::stream(chunks::text(&["Back again."])));
    let thread = t.thread().await;
    let events = t.server.turn(&thread, "hello").await;
    assert_eq!(
        types(&events).last().unwrap(),
        "run.completed",
        "{events:#?}"
    );
    assert_eq!(replies(&events), ["Back again."]);
    assert_eq!(t.model.seen().len(), 2);
    t.server.stop().await;
}

#[tokio::test]
async fn llm_stream_that_stops_mid_answer_ends_with_the_fallback_and_run_failed() {
    let t = start().await;
    // Role chunk + two content chunks, then the body closes: no finish_reason, no [DONE].
    t.model.push(Reply::stopping(
        chunks::text(&["Your order", " is on its"]),
        3,
    ));
    let thread = t.thread().await;
    let events = t.server.turn(&thread, "where is it?").await;
    assert_eq!(run_failed_code(&events), "llm_interrupted");
    // What streamed stays as it was seen (text still held back by delta batching was never
    // shown, so it is not stored); the fallback follows as its own message.
    let said = replies(&events);
    assert_eq!(said.len(), 2, "{said:?}");
    assert!(
        said[0].starts_with("Your order") && "Your order is on its".starts_with(&said[0]),
        "{said:?}"
    );
    assert_eq!(
        crate::llm::deltas(&events),
        format!("{}Sorry, I can't answer right now.", said[0])
    );
    assert_eq!(said[1], "Sorry, I can't answer right now.");
    let history = t.server.history(&thread).await;
    assert_eq!(
        history["messages"].as_array().unwrap().last().unwrap()["content"][0]["text"],
        "Sorry, I can't answer right now."
    );
    assert_eq!(t.model.seen().len(), 1, "text had streamed: not retried");
    t.server.stop().await;
}

#[tokio::test]
async fn llm_endpoint_failing_or_stalling_ends_with_the_fallback_after_capped_retries() {
    let t = start().await;
    t.model
        .push(Reply::status(503, None))
        .push(Reply::stalling(chunks::text(&["x"]), 1))
        .push(Reply::status(500, None));
    let thread = t.thread().await;
    let events = t.server.turn(&thread, "hello").await;
    assert_eq!(run_failed_code(&events), "llm_unavailable");
    assert_eq!(replies(&events), ["Sorry, I can't answer right now."]);
    assert_eq!(t.model.seen().len(), 3, "max_retries = 2: three attempts");
    // A 4xx other than 408/429 is not retried.
    t.model.push(Reply::status(401, None));
    let events = t.server.turn(&thread, "hello again").await;
    assert_eq!(run_failed_code(&events), "llm_unavailable");
    assert_eq!(t.model.seen().len(), 4);
    t.server.stop().await;
}

// ---- configuration ----

fn load_errors(toml: &str) -> Vec<String> {
    let tmp = tempfile::tempdir().unwrap();
    write_bot(tmp.path(), "b", toml);
    match natter_server::bots::load_bot(&tmp.path().join("b")) {
        Ok(_) => vec![],
        Err(e) => e
            .iter()
            .map(|e| {
                format!(
                    "{}: {}",
                    e.line.map_or("-".into(), |l| l.to_string()),
                    e.message
                )
            })
            .collect(),
    }
}

fn has(errs: &[String], line: usize, needle: &str) {
    assert!(
        errs.iter()
            .any(|e| e.starts_with(&format!("{line}: ")) && e.contains(needle)),
        "want line {line} `{needle}` in {errs:#?}"
    );
}

#[test]
fn llm_config_errors_name_the_line_of_the_key() {
    let ok = "agent = \"llm\"\n[llm]\nbase_url = \"http://127.0.0.1:9/v1\"\nmodel = \"m\"\n";
    assert_eq!(load_errors(ok), Vec::<String>::new());
    has(&load_errors("agent = \"llm\"\n"), 1, "needs an [llm] table");
    has(
        &load_errors("agent = \"gpt\"\n"),
        1,
        "expected `scripted` or `llm`",
    );
    let bad = "agent = \"llm\"\n[llm]\nbase_url = \"ftp://x\"\nmodel = \"m\"\ntemperature = 3.0\nworkflow = \"nope\"\nvisible_metadata = [1]\n";
    let e = load_errors(bad);
    has(&e, 3, "llm.base_url");
    has(&e, 5, "llm.temperature: 3 is outside 0 to 2");
    has(&e, 6, "no workflow named `nope`");
    has(&e, 7, "llm.visible_metadata");
    has(&load_errors("agent = \"llm\"\n[llm]\nbase_url = \"http://h/v1\"\nmodel = \"m\"\napi_key = \"sk-123\"\n"), 5, "api_key_env");
    has(
        &load_errors("agent = \"llm\"\n[llm]\nbase_url = \"http://h/v1\"\nmodel = \"m\"\napi_key_env = \"NATTER_TEST_SURELY_UNSET_KEY\"\n"),
        5,
        "`NATTER_TEST_SURELY_UNSET_KEY` is not set",
    );
    // Scripted bots keep steps; LLM workflows have instructions.
    has(
        &load_errors("[llm]\nbase_url = \"http://h/v1\"\nmodel = \"m\"\n"),
        1,
        "only used with agent = \"llm\"",
    );
    let steps = "agent = \"llm\"\n[llm]\nbase_url = \"http://h/v1\"\nmodel = \"m\"\n[[workflows]]\nname = \"w\"\nsteps = [ { say = \"hi\" } ]\n";
    has(&load_errors(steps), 5, "have `instructions`, not steps");
}

#[test]
fn llm_natter_check_reports_llm_errors_and_never_prints_the_key() {
    let tmp = tempfile::tempdir().unwrap();
    write_bot(tmp.path(), "bad", "agent = \"llm\"\n[llm]\nbase_url = \"http://h/v1\"\nmodel = \"\"\napi_key_env = \"NATTER_CHECK_KEY\"\n");
    let bin = env!("CARGO_BIN_EXE_natter");
    let out = Command::new(bin)
        .arg("check")
        .arg(tmp.path().join("bad"))
        .env("NATTER_CHECK_KEY", "sk-very-secret")
        .output()
        .unwrap();
    assert!(!out.status.success());
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(
        stderr.contains("bad/bot.toml:4: llm.model: must not be empty"),
        "{stderr}"
    );
    assert!(
        !stderr.contains("sk-very-secret")
            && !String::from_utf8_lossy(&out.stdout).contains("sk-very-secret")
    );
    write_bot(tmp.path(), "good", "agent = \"llm\"\n[llm]\nbase_url = \"http://h/v1\"\nmodel = \"m\"\napi_key_env = \"NATTER_CHECK_KEY\"\n");
    let out = Command::new(bin)
        .arg("check")
        .arg(tmp.path().join("good"))
        .env("NATTER_CHECK_KEY", "sk-very-secret")
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
}
