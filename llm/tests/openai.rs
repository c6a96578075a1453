//! The client and the turn engine against a stand-in OpenAI-compatible server on 127.0.0.1
//! that frames streams exactly as OpenAI does and can be told to fail.

#[path = "support/standin.rs"]
mod standin;

use std::sync::{Arc, Mutex};
use std::time::Duration;

use async_trait::async_trait;
use natter_llm::*;
use serde_json::{json, Map, Value};
use standin::{chunks, Reply, StandIn};

// ---- harness ----

fn config(s: &StandIn) -> LlmConfig {
    let mut c = LlmConfig::new(&s.base_url, "gpt-test");
    c.instructions = "You are the Acme shop assistant. Step 1: call getOrderDetails.".into();
    c.request_timeout = Duration::from_secs(5);
    c.first_byte_timeout = Duration::from_secs(2);
    // Generous for ordinary tests (a loaded CI machine must not trip it); the stall test
    // sets its own.
    c.stall_timeout = Duration::from_secs(2);
    c.turn_timeout = Duration::from_secs(10);
    c.retry_backoff = Duration::from_millis(1);
    c.retry_backoff_max = Duration::from_millis(200);
    c.max_tool_rounds = 3;
    c
}

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
            "getOrderDetails" => ToolOutput::json(
                &json!({"orderId": args["orderId"], "status": "shipped", "trackingNumber": "TRK9"}),
            ),
            "getTracking" => ToolOutput::json(&json!({"events": ["left depot"]})),
            HAND_OFF => {
                ToolOutput::json(&json!({"success": true, "message": "handed off"})).ending()
            }
            other => ToolOutput::error(format!("no such action {other}")),
        }
    }
}

#[derive(Default)]
struct Collect {
    deltas: Vec<String>,
    notes: Vec<String>,
}

#[async_trait]
impl Sink for Collect {
    async fn delta(&mut self, text: &str) -> Result<(), SinkError> {
        self.deltas.push(text.into());
        Ok(())
    }
    fn note(&mut self, note: TurnNote<'_>) {
        self.notes.push(format!("{note:?}"));
    }
}

fn tools() -> Vec<ToolSpec> {
    let obj = |props: Value, req: Value| json!({"type": "object", "properties": props, "required": req, "additionalProperties": false});
    let mut t = vec![
        ToolSpec {
            name: "getOrderDetails".into(),
            description: "Retrieves the customer's order status given an order ID.".into(),
            parameters: obj(json!({"orderId": {"type": "string"}}), json!(["orderId"])),
        },
        ToolSpec {
            name: "getTracking".into(),
            description: "Tracking events for a tracking number.".into(),
            parameters: obj(
                json!({"trackingNumber": {"type": "string"}}),
                json!(["trackingNumber"]),
            ),
        },
    ];
    t.extend(builtin_tools());
    t
}

struct Run {
    result: Result<TurnOutcome, TurnError>,
    sink: Collect,
    exec: Exec,
}

async fn turn(cfg: LlmConfig) -> Run {
    let client = ChatClient::with_key(&cfg, Some(ApiKey::new("sk-test-123"))).unwrap();
    let engine = TurnEngine::new(Arc::new(client), Arc::new(cfg));
    let history = [
        ChatMessage::user("hi"),
        ChatMessage::assistant("Hello! How can I help?"),
        ChatMessage::user("Where is my order A1?"),
    ];
    let tools = tools();
    let metadata = [("customerTier".to_string(), json!("gold"))];
    let (exec, mut sink) = (Exec::default(), Collect::default());
    let req = TurnRequest {
        history: &history,
        metadata: &metadata,
        tools: &tools,
        instructions: None,
    };
    let result = engine.run(req, &exec, &mut sink).await;
    Run { result, sink, exec }
}

fn tool_messages(seen: &standin::Seen) -> Vec<Value> {
    seen.body["messages"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|m| m["role"] == "tool")
        .cloned()
        .collect()
}

// ---- turns ----

#[tokio::test]
async fn plain_streamed_answer() {
    let s = StandIn::start(true).await;
    s.push(Reply::stream(chunks::text(&[
        "Your ", "order ", "is on ", "its way.",
    ])));
    let r = turn(config(&s)).await;
    let out = r.result.unwrap();
    assert_eq!(r.sink.deltas, ["Your ", "order ", "is on ", "its way."]);
    assert_eq!(out.text, "Your order is on its way.");
    assert_eq!(
        out.usage,
        Usage {
            prompt_tokens: 20,
            completion_tokens: 10,
            total_tokens: 30
        }
    );
    let seen = &s.seen()[0];
    assert_eq!(seen.body["stream"], true);
    assert_eq!(seen.body["stream_options"], json!({"include_usage": true}));
    assert_eq!(seen.body["model"], "gpt-test");
    assert_eq!(seen.headers["authorization"], "Bearer sk-test-123");
    let msgs = seen.body["messages"].as_array().unwrap();
    assert_eq!(msgs.len(), 4);
    assert_eq!(msgs[0]["role"], "system");
    assert!(msgs[0]["content"]
        .as_str()
        .unwrap()
        .contains("- customerTier: gold"));
    let names: Vec<&str> = seen.body["tools"]
        .as_array()
        .unwrap()
        .iter()
        .map(|t| t["function"]["name"].as_str().unwrap())
        .collect();
    assert_eq!(names, ["getOrderDetails", "getTracking", HAND_OFF, CLOSE]);
}

#[tokio::test]
async fn tool_call_result_is_used_in_the_answer() {
    let s = StandIn::start(true).await;
    s.push(Reply::stream(chunks::tool_calls(&[(
        "call_1",
        "getOrderDetails",
        r#"{"orderId": "A1"}"#,
    )])));
    s.push(Reply::stream(chunks::text(&[
        "Order A1 has shipped (TRK9).",
    ])));
    let r = turn(config(&s)).await;
    let out = r.result.unwrap();
    assert_eq!(
        r.exec.calls.lock().unwrap().clone(),
        vec![("getOrderDetails".to_string(), json!({"orderId": "A1"}))]
    );
    assert_eq!((out.rounds, out.tool_calls), (2, 1));
    let second = &s.seen()[1];
    let msgs = second.body["messages"].as_array().unwrap();
    let call_msg = &msgs[msgs.len() - 2];
    assert_eq!(
        call_msg["tool_calls"][0]["function"],
        json!({"name": "getOrderDetails", "arguments": r#"{"orderId": "A1"}"#})
    );
    let results = tool_messages(second);
    assert_eq!(results.len(), 1);
    assert_eq!(results[0]["tool_call_id"], "call_1");
    let result: Value = serde_json::from_str(results[0]["content"].as_str().unwrap()).unwrap();
    assert_eq!(result["trackingNumber"], "TRK9");
    assert_eq!(out.text, "Order A1 has shipped (TRK9).");
}

#[tokio::test]
async fn two_tool_rounds_with_parallel_calls() {
    let s = StandIn::start(true).await;
    s.push(Reply::stream(chunks::tool_calls(&[(
        "call_1",
        "getOrderDetails",
        r#"{"orderId":"A1"}"#,
    )])));
    s.push(Reply::stream(chunks::tool_calls(&[
        ("call_2", "getTracking", r#"{"trackingNumber":"TRK9"}"#),
        ("call_3", "getOrderDetails", r#"{"orderId":"A1"}"#),
    ])));
    s.push(Reply::stream(chunks::text(&["It left the depot."])));
    let r = turn(config(&s)).await;
    let out = r.result.unwrap();
    assert_eq!((out.rounds, out.tool_calls), (3, 3));
    let names: Vec<String> = r
        .exec
        .calls
        .lock()
        .unwrap()
        .iter()
        .map(|c| c.0.clone())
        .collect();
    assert_eq!(names, ["getOrderDetails", "getTracking", "getOrderDetails"]);
    let ids: Vec<Value> = tool_messages(&s.seen()[2])
        .iter()
        .map(|m| m["tool_call_id"].clone())
        .collect();
    assert_eq!(ids, [json!("call_1"), json!("call_2"), json!("call_3")]);
    // What the turn adds to history: 2 call messages, 3 results, the answer.
    assert_eq!(out.messages.len(), 6);
}

#[tokio::test]
async fn call_to_a_tool_not_offered_is_refused() {
    let s = StandIn::start(true).await;
    s.push(Reply::stream(chunks::tool_calls(&[(
        "call_1",
        "refundEverything",
        r#"{"orderId":"A1"}"#,
    )])));
    s.push(Reply::stream(chunks::text(&["I can't do that."])));
    let r = turn(config(&s)).await;
    let out = r.result.unwrap();
    assert!(
        r.exec.calls.lock().unwrap().is_empty(),
        "a refused call must never run"
    );
    assert_eq!((out.tool_calls, out.invalid_tool_calls), (0, 1));
    let err = tool_messages(&s.seen()[1])[0]["content"]
        .as_str()
        .unwrap()
        .to_string();
    assert!(err.contains("no tool named `refundEverything`"), "{err}");
}

#[tokio::test]
async fn invalid_arguments_go_back_to_the_model() {
    let s = StandIn::start(true).await;
    s.push(Reply::stream(chunks::tool_calls(&[(
        "call_1",
        "getOrderDetails",
        r#"{"orderId": 42, "x": 1}"#,
    )])));
    s.push(Reply::stream(chunks::tool_calls(&[(
        "call_2",
        "getOrderDetails",
        r#"{"orderId": "42"}"#,
    )])));
    s.push(Reply::stream(chunks::text(&["Found it."])));
    let r = turn(config(&s)).await;
    let out = r.result.unwrap();
    assert_eq!(
        r.exec.calls.lock().unwrap().clone(),
        vec![("getOrderDetails".to_string(), json!({"orderId": "42"}))]
    );
    assert_eq!((out.tool_calls, out.invalid_tool_calls), (1, 1));
    let err = tool_messages(&s.seen()[1])[0]["content"]
        .as_str()
        .unwrap()
        .to_string();
    assert!(
        err.contains("`orderId` must be a string") && err.contains("unknown argument `x`"),
        "{err}"
    );

    // Past max_invalid_tool_calls the turn fails.
    let s = StandIn::start(false).await;
    s.set_default(Reply::fast(chunks::tool_calls(&[(
        "c",
        "getOrderDetails",
        "not json",
    )])));
    let mut c = config(&s);
    c.max_invalid_tool_calls = 1;
    c.max_tool_rounds = 10;
    let r = turn(c).await;
    assert_eq!(r.result.unwrap_err(), TurnError::TooManyInvalidToolCalls(2));
    assert!(r.exec.calls.lock().unwrap().is_empty());
}

#[tokio::test]
async fn rate_limit_honours_retry_after_then_succeeds() {
    let s = StandIn::start(true).await;
    s.push(Reply::status(429, Some("0.05")));
    s.push(Reply::stream(chunks::text(&["ok"])));
    let r = turn(config(&s)).await;
    let out = r.result.unwrap();
    assert_eq!((out.retries, out.text.as_str()), (1, "ok"));
    assert_eq!(s.seen().len(), 2);
    // The backoff alone would be ≤ 1 ms: the 50 ms came from Retry-After.
    assert!(
        r.sink.notes[0].contains("delay: 50ms") && r.sink.notes[0].contains("status: 429"),
        "{:?}",
        r.sink.notes
    );
}

#[tokio::test]
async fn server_error_then_success() {
    let s = StandIn::start(true).await;
    s.push(Reply::status(500, None));
    s.push(Reply::status(503, None));
    s.push(Reply::stream(chunks::text(&["fine"])));
    let r = turn(config(&s)).await;
    assert_eq!(r.result.unwrap().retries, 2);

    // Not retryable: 401 fails at once, with the body's message.
    let s = StandIn::start(true).await;
    s.push(Reply::status(401, None));
    let r = turn(config(&s)).await;
    match r.result.unwrap_err() {
        TurnError::Model {
            error: ApiError::Status {
                status: 401, body, ..
            },
            attempts: 1,
        } => assert!(body.contains("stand-in 401")),
        e => panic!("{e:?}"),
    }
    assert_eq!(s.seen().len(), 1);
}

#[test]
fn a_key_that_cannot_be_a_header_is_refused_up_front() {
    let cfg = LlmConfig::new("http://127.0.0.1:9/v1", "m");
    let err = ChatClient::with_key(&cfg, Some(ApiKey::new("sk-abc\r\nX-Injected: 1"))).unwrap_err();
    assert!(
        matches!(err, ClientError::Build(_)) && !err.to_string().contains("sk-abc"),
        "{err}"
    );
}

#[tokio::test]
async fn stream_that_stops_mid_answer() {
    // Content was already shown: no retry, the turn fails.
    let s = StandIn::start(true).await;
    s.push(Reply::stopping(chunks::partial(&["Your order ", "is"]), 3));
    s.push(Reply::stream(chunks::text(&["never sent"])));
    let r = turn(config(&s)).await;
    assert_eq!(
        r.result.unwrap_err(),
        TurnError::Interrupted(ApiError::Truncated)
    );
    assert_eq!(r.sink.deltas, ["Your order ", "is"]);
    assert_eq!(s.seen().len(), 1);

    // Stopped before any content: retried.
    let s = StandIn::start(true).await;
    s.push(Reply::stopping(chunks::partial(&[]), 1));
    s.push(Reply::stream(chunks::text(&["complete"])));
    let r = turn(config(&s)).await;
    assert_eq!(r.result.unwrap().text, "complete");
}

#[tokio::test]
async fn stalled_stream_hits_the_stall_timeout() {
    let s = StandIn::start(true).await;
    s.push(Reply::stalling(chunks::partial(&["Let me "]), 2));
    let mut c = config(&s);
    c.stall_timeout = Duration::from_millis(150);
    let r = turn(c).await;
    assert_eq!(
        r.result.unwrap_err(),
        TurnError::Interrupted(ApiError::Timeout(TimeoutKind::Stall))
    );

    // No byte at all after the headers: first-byte timeout, retried, then given up.
    let s = StandIn::start(true).await;
    s.set_default(Reply::stalling(chunks::partial(&[]), 0));
    let mut c = config(&s);
    c.first_byte_timeout = Duration::from_millis(100);
    c.max_retries = 1;
    let r = turn(c).await;
    assert_eq!(
        r.result.unwrap_err(),
        TurnError::Model {
            error: ApiError::Timeout(TimeoutKind::FirstByte),
            attempts: 2
        }
    );
    assert_eq!(s.seen().len(), 2);
}

#[tokio::test]
async fn round_cap_ends_a_tool_loop() {
    let s = StandIn::start(true).await;
    s.set_default(Reply::fast(chunks::tool_calls(&[(
        "c",
        "getOrderDetails",
        r#"{"orderId":"A1"}"#,
    )])));
    let mut c = config(&s);
    c.max_tool_rounds = 2;
    let r = turn(c).await;
    assert_eq!(r.result.unwrap_err(), TurnError::RoundCap(2));
    assert_eq!(s.seen().len(), 3);
    assert_eq!(r.exec.calls.lock().unwrap().len(), 2);
}

#[tokio::test]
async fn hand_off_chosen_by_the_model() {
    let s = StandIn::start(true).await;
    s.push(Reply::stream(chunks::tool_calls(&[(
        "call_h",
        HAND_OFF,
        r#"{"reason":"customer asked for a human"}"#,
    )])));
    let r = turn(config(&s)).await;
    let out = r.result.unwrap();
    assert_eq!(
        out.ended_by.as_ref().map(|e| e.tool.as_str()),
        Some(HAND_OFF)
    );
    assert_eq!(
        r.exec.calls.lock().unwrap()[0].1,
        json!({"reason": "customer asked for a human"})
    );
    assert_eq!(
        Value::Object(out.ended_by.unwrap().args),
        json!({"reason": "customer asked for a human"})
    );
    assert_eq!(s.seen().len(), 1);
}

// ---- client ----

#[tokio::test]
async fn client_yields_events_and_types_failures() {
    let s = StandIn::start(true).await;
    let cfg = config(&s);
    let client = ChatClient::with_key(&cfg, None).unwrap();
    let req = ChatRequest {
        model: "m".into(),
        messages: vec![ChatMessage::user("x")],
        tools: vec![],
        temperature: None,
        max_tokens: None,
    };
    s.push(Reply::stream(chunks::tool_calls(&[(
        "a",
        "f",
        r#"{"k":"a long value to split"}"#,
    )])));
    let mut st = client.stream(&req).await.unwrap();
    let mut events = Vec::new();
    while let Some(ev) = st.next_event().await {
        events.push(ev.unwrap());
    }
    assert_eq!(
        events,
        vec![
            StreamEvent::ToolCall(ToolCall {
                id: "a".into(),
                name: "f".into(),
                arguments: r#"{"k":"a long value to split"}"#.into()
            }),
            StreamEvent::Finish(FinishReason::ToolCalls),
            StreamEvent::Usage(Usage {
                prompt_tokens: 20,
                completion_tokens: 10,
                total_tokens: 30
            }),
        ]
    );
    assert!(s.seen()[0].headers.get("authorization").is_none());

    s.push(Reply::fast(vec!["{\"choices\": [oops".into()]));
    let mut st = client.stream(&req).await.unwrap();
    assert!(matches!(
        st.next_event().await,
        Some(Err(ApiError::Malformed(_)))
    ));
    assert_eq!(st.next_event().await, None);

    // The same as a futures Stream.
    s.push(Reply::stream(chunks::text(&["x", "y"])));
    let evs: Vec<_> = futures_util::StreamExt::collect::<Vec<_>>(
        client.stream(&req).await.unwrap().into_stream(),
    )
    .await;
    assert_eq!(evs.len(), 4, "{evs:?}"); // x, y, finish, usage
    assert!(evs.iter().all(|e| e.is_ok()));

    // A server that ignores `stream: true` and answers with one JSON completion.
    s.push(Reply::Json(
        json!({"id": "x", "object": "chat.completion", "choices": [{"index": 0, "message": {"role": "assistant", "content": "whole"}, "finish_reason": "stop"}]})
            .to_string(),
    ));
    let evs: Vec<_> = futures_util::StreamExt::collect::<Vec<_>>(
        client.stream(&req).await.unwrap().into_stream(),
    )
    .await;
    assert_eq!(
        evs,
        vec![
            Ok(StreamEvent::Content("whole".into())),
            Ok(StreamEvent::Finish(FinishReason::Stop))
        ]
    );

    // A runaway body is cut off at the cap.
    let small = ChatClient::with_key(&cfg, None)
        .unwrap()
        .with_max_body(2000);
    s.push(Reply::fast(chunks::text(&["many tokens "; 40])));
    let evs: Vec<_> =
        futures_util::StreamExt::collect::<Vec<_>>(small.stream(&req).await.unwrap().into_stream())
            .await;
    assert!(
        matches!(evs.last(), Some(Err(ApiError::Malformed(m))) if m.contains("exceeded 2000 bytes")),
        "{evs:?}"
    );

    // [DONE] without a finish_reason is truncated, not a short answer.
    s.push(Reply::fast(chunks::partial(&["a"])));
    let mut st = client.stream(&req).await.unwrap();
    assert_eq!(
        st.next_event().await,
        Some(Ok(StreamEvent::Content("a".into())))
    );
    assert_eq!(st.next_event().await, Some(Err(ApiError::Truncated)));

    // Nothing listening: a connect error, retryable.
    let mut dead = LlmConfig::new("http://127.0.0.1:9/v1", "m");
    dead.connect_timeout = Duration::from_millis(200);
    let err = ChatClient::with_key(&dead, None)
        .unwrap()
        .stream(&req)
        .await
        .err()
        .unwrap();
    assert!(
        matches!(
            err,
            ApiError::Connect(_) | ApiError::Timeout(TimeoutKind::Connect)
        ),
        "{err:?}"
    );
    assert!(err.is_retryable());
}

#[tokio::test]
async fn connections_are_reused_across_calls() {
    let s = StandIn::start(false).await;
    let cfg = config(&s);
    s.set_default(Reply::stream(chunks::text(&["a", "b"])));
    let engine = TurnEngine::new(
        Arc::new(ChatClient::with_key(&cfg, None).unwrap()),
        Arc::new(cfg),
    );
    let history = [ChatMessage::user("x")];
    for _ in 0..5 {
        let req = TurnRequest {
            history: &history,
            metadata: &[],
            tools: &[],
            instructions: None,
        };
        engine
            .run(req, &Exec::default(), &mut Collect::default())
            .await
            .unwrap();
    }
    assert_eq!(s.connections(), 1);
}

#[tokio::test]
async fn azure_style_endpoint_gets_api_key_header_and_version() {
    let s = StandIn::start(true).await;
    let mut cfg = config(&s);
    cfg.base_url = s.base_url.replace("/v1", "/openai/deployments/gpt4o");
    cfg.api_version = Some("2024-10-21".into());
    cfg.stream_usage = false;
    // (Reading the key from the environment is tested in config.rs; setting variables here,
    // beside threads that may read the environment, is not safe.)
    let client = ChatClient::with_key(&cfg, Some(ApiKey::new("azure-secret"))).unwrap();
    assert!(!format!("{client:?}").contains("azure-secret"));
    s.push(Reply::stream(chunks::text(&["hi"])));
    let req = ChatRequest {
        model: "m".into(),
        messages: vec![ChatMessage::user("x")],
        tools: vec![],
        temperature: Some(0.2),
        max_tokens: Some(5),
    };
    let mut st = client.stream(&req).await.unwrap();
    while st.next_event().await.is_some() {}
    let seen = &s.seen()[0];
    assert_eq!(seen.headers["api-key"], "azure-secret");
    assert!(seen.headers.get("authorization").is_none());
    assert!(seen.body.get("stream_options").is_none());
    assert_eq!(seen.query.as_deref(), Some("api-version=2024-10-21"));
    assert_eq!(
        (
            seen.body["temperature"]
                .as_f64()
                .map(|t| (t * 10.0).round()),
            seen.body["max_tokens"].clone()
        ),
        (Some(2.0), json!(5))
    );
}

// ---- classification ----

#[tokio::test]
async fn classification_parses_answers_and_falls_back() {
    let s = StandIn::start(true).await;
    let cfg = config(&s);
    let client = ChatClient::with_key(&cfg, None).unwrap();
    let opts = vec!["shipping".to_string(), "billing".to_string()];

    s.push(Reply::stream(chunks::text(&["Bill", "ing."])));
    assert_eq!(
        classify_category(&client, &cfg, "Topic?", "I was charged twice", &opts)
            .await
            .unwrap(),
        "billing"
    );
    let seen = &s.seen()[0];
    assert_eq!(seen.body["temperature"], json!(0.0));
    assert!(seen.body["messages"][0]["content"]
        .as_str()
        .unwrap()
        .contains("- shipping\n- billing"));
    assert!(seen.body["messages"][1]["content"]
        .as_str()
        .unwrap()
        .contains("I was charged twice"));

    s.push(Reply::stream(chunks::text(&["Yes"])));
    assert!(
        classify_binary(&client, &cfg, "Is this a complaint?", "I am angry")
            .await
            .unwrap()
    );

    // An answer that is not an option: an error, or the fallback.
    s.push(Reply::stream(chunks::text(&["refunds"])));
    assert_eq!(
        classify_category(&client, &cfg, "Topic?", "x", &opts)
            .await
            .unwrap_err(),
        ClassifyError::Unrecognized("refunds".into())
    );
    s.push(Reply::stream(chunks::text(&["maybe"])));
    assert!(
        !classify_binary_or(&client, &cfg, "Complaint?", "x", Some(false))
            .await
            .unwrap()
    );

    // The endpoint failing (retries exhausted): the fallback.
    let mut c = cfg.clone();
    c.max_retries = 1;
    s.push(Reply::status(500, None));
    s.push(Reply::status(500, None));
    assert_eq!(
        classify_category_or(&client, &c, "Topic?", "x", &opts, Some("shipping"))
            .await
            .unwrap(),
        "shipping"
    );
    s.push(Reply::status(500, None));
    s.push(Reply::status(500, None));
    assert!(matches!(
        classify_category_or(&client, &c, "Topic?", "x", &opts, None).await,
        Err(ClassifyError::Model(_))
    ));
}
