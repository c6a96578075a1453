//! The turn engine against scripted model answers (no HTTP): every branch of the loop.

use std::sync::{Arc, Mutex};
use std::time::Duration;

use async_trait::async_trait;
use serde_json::{json, Map, Value};

use crate::client::{ApiError, EventStream, Model, TimeoutKind};
use crate::engine::*;
use crate::scripted::{Script, ScriptedModel};
use crate::wire::{ChatMessage, ChatRequest, FinishReason, Role, ToolCall, ToolSpec};
use crate::{hand_off_tool, LlmConfig, HAND_OFF};

#[derive(Default)]
struct Exec {
    calls: Mutex<Vec<(String, Value)>>,
}

#[async_trait]
impl ToolExecutor for Exec {
    async fn execute(&self, call: &ToolCall, args: &Map<String, Value>) -> ToolOutput {
        self.calls
            .lock()
            .unwrap()
            .push((call.name.clone(), Value::Object(args.clone())));
        match call.name.as_str() {
            "getOrderDetails" => {
                ToolOutput::json(&json!({"status": "shipped", "orderId": args["orderId"]}))
            }
            HAND_OFF => ToolOutput::json(&json!({"success": true})).ending(),
            _ => ToolOutput::error("unexpected"),
        }
    }
}

#[derive(Default)]
struct Collect {
    deltas: Vec<String>,
    notes: Vec<String>,
    fail_after: Option<usize>,
    flushes: usize,
}

#[async_trait]
impl Sink for Collect {
    async fn delta(&mut self, text: &str) -> Result<(), SinkError> {
        if self.fail_after == Some(self.deltas.len()) {
            return Err(SinkError("cancelled".into()));
        }
        self.deltas.push(text.to_string());
        Ok(())
    }
    async fn flush(&mut self) -> Result<(), SinkError> {
        self.flushes += 1;
        Ok(())
    }
    fn note(&mut self, note: TurnNote<'_>) {
        self.notes.push(format!("{note:?}"));
    }
}

fn order_tool() -> ToolSpec {
    ToolSpec {
        name: "getOrderDetails".into(),
        description: "Retrieves an order".into(),
        parameters: json!({"type": "object", "properties": {"orderId": {"type": "string"}},
                           "required": ["orderId"], "additionalProperties": false}),
    }
}

fn cfg() -> LlmConfig {
    let mut c = LlmConfig::new("http://127.0.0.1:9/v1", "test-model");
    c.instructions = "Step 1: call getOrderDetails.".into();
    c.retry_backoff = Duration::from_millis(1);
    c.retry_backoff_max = Duration::from_millis(50);
    c.max_tool_rounds = 2;
    c.max_invalid_tool_calls = 1;
    c
}

async fn run(
    scripts: Vec<Script>,
    c: LlmConfig,
    exec: &Exec,
    sink: &mut Collect,
) -> (Result<TurnOutcome, TurnError>, Arc<ScriptedModel>) {
    let model = Arc::new(ScriptedModel::new(scripts));
    let engine = TurnEngine::new(model.clone(), Arc::new(c));
    let history = [ChatMessage::user("Where is order A1?")];
    let tools = [order_tool(), hand_off_tool()];
    let req = TurnRequest {
        history: &history,
        metadata: &[],
        tools: &tools,
        instructions: None,
    };
    (engine.run(req, exec, sink).await, model)
}

fn st(status: u16, retry_after: Option<Duration>) -> ApiError {
    ApiError::Status {
        status,
        retry_after,
        body: String::new(),
    }
}

#[tokio::test]
async fn plain_answer_streams_every_delta() {
    let (exec, mut sink) = (Exec::default(), Collect::default());
    let (out, model) = run(vec![Script::text(&["Hel", "lo!"])], cfg(), &exec, &mut sink).await;
    let out = out.unwrap();
    assert_eq!(sink.deltas, ["Hel", "lo!"]);
    assert_eq!(
        (out.text.as_str(), out.rounds, out.finish.clone()),
        ("Hello!", 1, FinishReason::Stop)
    );
    assert_eq!(out.messages, vec![ChatMessage::assistant("Hello!")]);
    let req = &model.requests()[0];
    assert_eq!(
        req.messages[0],
        ChatMessage::system("Step 1: call getOrderDetails.")
    );
    assert_eq!(req.tools.len(), 2);
}

#[tokio::test]
async fn tool_result_goes_back_to_the_model() {
    let (exec, mut sink) = (Exec::default(), Collect::default());
    let scripts = vec![
        Script::calls(&[("c1", "getOrderDetails", r#"{"orderId":"A1"}"#)]),
        Script::text(&["It shipped."]),
    ];
    let (out, model) = run(scripts, cfg(), &exec, &mut sink).await;
    let out = out.unwrap();
    assert_eq!(
        exec.calls.lock().unwrap().clone(),
        vec![("getOrderDetails".to_string(), json!({"orderId": "A1"}))]
    );
    assert_eq!(
        (out.rounds, out.tool_calls, out.text.as_str()),
        (2, 1, "It shipped.")
    );
    assert_eq!(sink.flushes, 2); // once per model answer
    let second = &model.requests()[1].messages;
    assert_eq!(second[second.len() - 2].tool_calls[0].id, "c1");
    assert_eq!(
        second.last().unwrap(),
        &ChatMessage::tool_result("c1", r#"{"orderId":"A1","status":"shipped"}"#)
    );
    assert_eq!(out.messages.len(), 3);
}

#[tokio::test]
async fn text_of_a_later_round_starts_a_new_paragraph() {
    let (exec, mut sink) = (Exec::default(), Collect::default());
    let scripts = vec![
        Script::Events {
            events: vec![
                crate::StreamEvent::Content("Let me check.".into()),
                crate::StreamEvent::ToolCall(ToolCall {
                    id: "c1".into(),
                    name: "getOrderDetails".into(),
                    arguments: r#"{"orderId":"A1"}"#.into(),
                }),
                crate::StreamEvent::Finish(FinishReason::ToolCalls),
            ],
            error: None,
        },
        Script::text(&["It ", "shipped."]),
    ];
    let (out, _) = run(scripts, cfg(), &exec, &mut sink).await;
    let out = out.unwrap();
    assert_eq!(sink.deltas, ["Let me check.", "\n\nIt ", "shipped."]);
    assert_eq!(out.text, "Let me check.\n\nIt shipped.");
    assert_eq!(out.messages[0].content.as_deref(), Some("Let me check."));
    assert_eq!(out.messages[2].content.as_deref(), Some("\n\nIt shipped."));
}

#[tokio::test]
async fn refused_and_invalid_calls_never_run() {
    let (exec, mut sink) = (Exec::default(), Collect::default());
    let scripts = vec![
        Script::calls(&[("c1", "deleteEverything", "{}")]),
        Script::text(&["Sorry."]),
    ];
    let (out, model) = run(scripts, cfg(), &exec, &mut sink).await;
    let out = out.unwrap();
    assert!(exec.calls.lock().unwrap().is_empty());
    assert_eq!(out.invalid_tool_calls, 1);
    let err = model.requests()[1]
        .messages
        .last()
        .unwrap()
        .content
        .clone()
        .unwrap();
    assert!(err.contains("no tool named `deleteEverything`"), "{err}");
    assert!(sink.notes.iter().any(|n| n.contains("ToolRefused")));

    let (exec, mut sink) = (Exec::default(), Collect::default());
    let scripts = vec![
        Script::calls(&[("c1", "getOrderDetails", r#"{"orderId":7}"#)]),
        Script::calls(&[("c2", "getOrderDetails", r#"{"order":"A1"}"#)]),
    ];
    let (out, model) = run(scripts, cfg(), &exec, &mut sink).await;
    assert_eq!(out.unwrap_err(), TurnError::TooManyInvalidToolCalls(2));
    assert!(exec.calls.lock().unwrap().is_empty());
    let err = model.requests()[1]
        .messages
        .last()
        .unwrap()
        .content
        .clone()
        .unwrap();
    assert!(err.contains("`orderId` must be a string"), "{err}");
}

#[tokio::test]
async fn retries_only_before_content_was_forwarded() {
    let (exec, mut sink) = (Exec::default(), Collect::default());
    let scripts = vec![
        Script::Fail(st(429, Some(Duration::from_millis(5)))),
        Script::broken(&[], ApiError::Timeout(TimeoutKind::Stall)),
        Script::text(&["ok"]),
    ];
    let (out, _) = run(scripts, cfg(), &exec, &mut sink).await;
    let out = out.unwrap();
    assert_eq!((out.retries, out.text.as_str()), (2, "ok"));
    assert_eq!(
        sink.notes.iter().filter(|n| n.contains("Retrying")).count(),
        2
    );

    let (exec, mut sink) = (Exec::default(), Collect::default());
    let scripts = vec![
        Script::broken(&["Half"], ApiError::Truncated),
        Script::text(&["never"]),
    ];
    let (out, model) = run(scripts, cfg(), &exec, &mut sink).await;
    assert_eq!(
        out.unwrap_err(),
        TurnError::Interrupted(ApiError::Truncated)
    );
    assert_eq!(model.requests().len(), 1);
    assert_eq!(sink.deltas, ["Half"]);

    let (exec, mut sink) = (Exec::default(), Collect::default());
    let (out, model) = run(vec![Script::Fail(st(401, None))], cfg(), &exec, &mut sink).await;
    assert_eq!(
        out.unwrap_err(),
        TurnError::Model {
            error: st(401, None),
            attempts: 1
        }
    );
    assert_eq!(model.requests().len(), 1);

    // A Retry-After beyond retry_backoff_max is not waited out.
    let (exec, mut sink) = (Exec::default(), Collect::default());
    let (out, _) = run(
        vec![Script::Fail(st(429, Some(Duration::from_secs(60))))],
        cfg(),
        &exec,
        &mut sink,
    )
    .await;
    assert!(matches!(
        out.unwrap_err(),
        TurnError::Model { attempts: 1, .. }
    ));
}

#[tokio::test]
async fn retries_are_capped() {
    let (exec, mut sink) = (Exec::default(), Collect::default());
    let scripts = (0..5).map(|_| Script::Fail(st(503, None))).collect();
    let (out, model) = run(scripts, cfg(), &exec, &mut sink).await;
    assert_eq!(
        out.unwrap_err(),
        TurnError::Model {
            error: st(503, None),
            attempts: 3
        }
    );
    assert_eq!(model.requests().len(), 3); // max_retries = 2
}

#[tokio::test]
async fn round_cap_ends_the_turn() {
    let (exec, mut sink) = (Exec::default(), Collect::default());
    let call = Script::calls(&[("c", "getOrderDetails", r#"{"orderId":"A1"}"#)]);
    let (out, model) = run(
        vec![call.clone(), call.clone(), call],
        cfg(),
        &exec,
        &mut sink,
    )
    .await;
    assert_eq!(out.unwrap_err(), TurnError::RoundCap(2));
    assert_eq!(model.requests().len(), 3);
    assert_eq!(exec.calls.lock().unwrap().len(), 2);
    // Repeated ids were made unique, so results match their calls.
    let msgs = &model.requests()[2].messages;
    let ids: Vec<&str> = msgs
        .iter()
        .filter_map(|m| m.tool_call_id.as_deref())
        .collect();
    assert_eq!(ids, ["c", "call_r2_0"]);
}

#[tokio::test]
async fn hand_off_ends_the_turn_and_skips_later_calls() {
    let (exec, mut sink) = (Exec::default(), Collect::default());
    let scripts = vec![Script::Events {
        events: vec![
            crate::StreamEvent::Content("Connecting you.".into()),
            crate::StreamEvent::ToolCall(ToolCall {
                id: "h".into(),
                name: HAND_OFF.into(),
                arguments: r#"{"reason":"asked"}"#.into(),
            }),
            crate::StreamEvent::ToolCall(ToolCall {
                id: "o".into(),
                name: "getOrderDetails".into(),
                arguments: r#"{"orderId":"A1"}"#.into(),
            }),
            crate::StreamEvent::Finish(FinishReason::ToolCalls),
        ],
        error: None,
    }];
    let (out, model) = run(scripts, cfg(), &exec, &mut sink).await;
    let out = out.unwrap();
    assert_eq!(
        out.ended_by.as_ref().map(|e| e.tool.as_str()),
        Some(HAND_OFF)
    );
    assert_eq!(out.text, "Connecting you.");
    assert_eq!(model.requests().len(), 1);
    assert_eq!(exec.calls.lock().unwrap().len(), 1);
    assert_eq!(
        out.messages.iter().filter(|m| m.role == Role::Tool).count(),
        2
    );
}

#[tokio::test]
async fn empty_answers_and_sink_failures_are_errors() {
    let (exec, mut sink) = (Exec::default(), Collect::default());
    let (out, _) = run(vec![Script::text(&[])], cfg(), &exec, &mut sink).await;
    assert_eq!(out.unwrap_err(), TurnError::EmptyAnswer);

    let (exec, mut sink) = (
        Exec::default(),
        Collect {
            fail_after: Some(1),
            ..Default::default()
        },
    );
    let (out, _) = run(vec![Script::text(&["a", "b"])], cfg(), &exec, &mut sink).await;
    assert_eq!(out.unwrap_err().code(), "reply_failed");
}

struct Hang;

#[async_trait]
impl Model for Hang {
    async fn start(&self, _: &ChatRequest) -> Result<Box<dyn EventStream>, ApiError> {
        std::future::pending().await
    }
}

#[tokio::test]
async fn a_turn_never_outlives_its_deadline() {
    let mut c = cfg();
    c.turn_timeout = Duration::from_millis(30);
    let engine = TurnEngine::new(Arc::new(Hang), Arc::new(c));
    let history = [ChatMessage::user("hi")];
    let req = TurnRequest {
        history: &history,
        metadata: &[],
        tools: &[],
        instructions: Some("x"),
    };
    let err = engine
        .run(req, &Exec::default(), &mut Collect::default())
        .await
        .unwrap_err();
    assert_eq!(err, TurnError::Deadline(Duration::from_millis(30)));
}

#[tokio::test]
async fn history_is_trimmed_to_the_budget_before_the_call() {
    let mut c = cfg();
    c.context_tokens = 256;
    let model = Arc::new(ScriptedModel::new([Script::text(&["ok"])]));
    let engine = TurnEngine::new(model.clone(), Arc::new(c));
    let mut history: Vec<ChatMessage> = (0..40)
        .map(|i| ChatMessage::user(format!("old message {i} {}", "x".repeat(40))))
        .collect();
    history.push(ChatMessage::user("the question"));
    let mut sink = Collect::default();
    let req = TurnRequest {
        history: &history,
        metadata: &[],
        tools: &[],
        instructions: None,
    };
    let out = engine.run(req, &Exec::default(), &mut sink).await.unwrap();
    let sent = &model.requests()[0].messages;
    assert!(
        out.dropped_messages > 0 && sent.len() < history.len(),
        "{}",
        sent.len()
    );
    assert_eq!(sent.len(), history.len() + 1 - out.dropped_messages);
    assert_eq!(
        sent.last().unwrap().content.as_deref(),
        Some("the question")
    );
    assert!(
        sent.iter()
            .map(crate::context::estimate_message)
            .sum::<usize>()
            <= 256
    );
    assert!(sink.notes[0].starts_with("Trimmed"));
}

/// The server calls `run` from an `async_trait` method: its future must be `Send`.
#[allow(dead_code)]
fn turn_future_is_send(engine: &TurnEngine, exec: &Exec, sink: &mut Collect) {
    fn is_send<T: Send>(_: &T) {}
    let req = TurnRequest {
        history: &[],
        metadata: &[],
        tools: &[],
        instructions: None,
    };
    is_send(&engine.run(req, exec, sink));
    is_send(&crate::classify_binary(
        engine.model().as_ref(),
        engine.config(),
        "p",
        "i",
    ));
}
