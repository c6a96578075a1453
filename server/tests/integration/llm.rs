//! The LLM agent end to end through the real server: an `agent = "llm"` bot talks to natter-llm's
//! stand-in OpenAI-compatible server on 127.0.0.1 (streams framed exactly as OpenAI's: role
//! chunk, content chunks, tool-call chunks with split arguments, finish_reason, usage, [DONE];
//! failures on demand), its API actions call a request-counting stand-in API on 127.0.0.1, its
//! Python action runs in the Python runtime. Failure cases are in `llm_failures`.

#[path = "../../../llm/tests/support/standin.rs"]
pub mod standin;

use std::sync::{Arc, Mutex};

use axum::body::Bytes;
use axum::http::{Method, Uri};
use axum::Router;
use serde_json::{json, Value};
use standin::{chunks, Reply, StandIn};

use crate::common::*;

/// A stand-in for the bot owner's API: answers by path and counts every request.
#[derive(Clone, Default)]
pub struct Api {
    pub base: String,
    hits: Arc<Mutex<Vec<(String, String, String)>>>,
}

impl Api {
    pub async fn start() -> Api {
        let mut api = Api::default();
        let hits = api.hits.clone();
        let app = Router::new().fallback(move |method: Method, uri: Uri, body: Bytes| {
            let hits = hits.clone();
            async move {
                let path = uri.path().to_string();
                hits.lock().unwrap().push((
                    method.to_string(),
                    path.clone(),
                    String::from_utf8_lossy(&body).into_owned(),
                ));
                let v = match path.as_str() {
                    "/orders/42" => {
                        json!({"orderId": "42", "status": "shipped", "trackingNumber": "TRK9"})
                    }
                    "/tracking/TRK9" => json!({"events": ["left the depot", "out for delivery"]}),
                    "/refund" => json!({"refunded": true}),
                    _ => json!({"error": "not found"}),
                };
                axum::Json(v)
            }
        });
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        api.base = format!("http://{}", listener.local_addr().unwrap());
        tokio::spawn(async move { axum::serve(listener, app).await.unwrap() });
        api
    }

    /// Requests received for `path`.
    pub fn hits(&self, path: &str) -> usize {
        self.hits
            .lock()
            .unwrap()
            .iter()
            .filter(|h| h.1 == path)
            .count()
    }
}

pub fn bot_toml(model_base: &str) -> String {
    format!(
        r#"
name = "Acme LLM"
agent = "llm"
greeting = "Hi! Ask me about your order."
fallback = "Sorry, I can't answer right now."

[network]
allow_private_network = true

[llm]
base_url = "{model_base}"
model = "gpt-test"
instructions = "You are Acme's shop assistant."
visible_metadata = ["plan"]
workflow = "orders"
request_timeout = 5
first_byte_timeout = 2
stall_timeout = 0.3
turn_timeout = 10
retry_backoff = 0.01
retry_backoff_max = 0.5
max_retries = 2

[[workflows]]
name = "orders"
instructions = "Step 1: ask for the order ID. Step 2: call getOrderDetails."

[[workflows]]
name = "refunds"
triggers = {{ keywords = ["refund"] }}
instructions = "Call refundOrder when the customer wants a refund."
"#
    )
}

pub fn write_actions(bot_dir: &std::path::Path, api: &str) {
    let actions = bot_dir.join("actions");
    std::fs::create_dir_all(&actions).unwrap();
    let api_action = |name: &str, wf: &str, method: &str, path: &str, body: &str| {
        let toml = format!(
            "description = \"{name} for the AI\"\nkind = \"api\"\nworkflows = [\"{wf}\"]\n[api]\nbase_url = \"{api}\"\npath = \"{path}\"\nmethod = \"{method}\"\ntimeout_ms = 3000\n{body}"
        );
        std::fs::write(actions.join(format!("{name}.toml")), toml).unwrap();
    };
    api_action("getOrderDetails", "orders", "GET", "/orders/$orderId", "");
    api_action(
        "getTracking",
        "orders",
        "GET",
        "/tracking/$trackingNumber",
        "",
    );
    api_action(
        "refundOrder",
        "refunds",
        "POST",
        "/refund",
        "body = { orderId = \"$orderId\" }\n",
    );
    std::fs::write(
        actions.join("checkLoyalty.toml"),
        "description = \"Loyalty tier of a customer\"\nkind = \"python\"\nworkflows = [\"orders\"]\n[python]\nfile = \"loyalty.py\"\ntimeout_ms = 20000\n[[args]]\nname = \"customerId\"\n",
    )
    .unwrap();
    std::fs::write(
        actions.join("classifyRequest.toml"),
        "description = \"Classifies the request\"\nkind = \"python\"\nworkflows = [\"orders\"]\n[python]\nfile = \"classify.py\"\ntimeout_ms = 20000\n[[args]]\nname = \"text\"\n",
    )
    .unwrap();
    std::fs::write(
        bot_dir.join("classify.py"),
        "def execute_action(context):\n    t = context[\"args\"][\"text\"]\n    c = llm_classify_category(\"What is it about?\", t, [\"billing\", \"shipping\"])\n    u = llm_classify_binary(\"Is the customer upset?\", t, fallback=False)\n    return {\"category\": c, \"upset\": u}\n",
    )
    .unwrap();
    std::fs::write(
        bot_dir.join("loyalty.py"),
        "def execute_action(context):\n    cid = context[\"args\"][\"customerId\"]\n    return {\"customerId\": cid, \"tier\": \"gold\", \"points\": 1200}\n",
    )
    .unwrap();
}

pub struct Llm {
    pub server: TestServer,
    pub model: StandIn,
    pub api: Api,
}

/// A server with the LLM bot `shop` and its actions, the model stand-in and the API stand-in.
pub async fn start() -> Llm {
    let model = StandIn::start(true).await;
    let api = Api::start().await;
    let tmp = tempfile::tempdir().unwrap();
    let bots = tmp.path().join("bots");
    write_bot(&bots, "shop", &bot_toml(&model.base_url));
    write_actions(&bots.join("shop"), &api.base);
    let config = test_config(&tmp.path().join("data"), &bots);
    let mut server = TestServer::launch(config).await;
    server._tmp = Some(tmp);
    Llm { server, model, api }
}

impl Llm {
    pub async fn thread(&self) -> String {
        let r = self
            .server
            .client
            .post(self.server.url("/v1/bots/shop/threads"))
            .json(&json!({"metadata": {"plan": "gold", "internalNote": "do not show"}}))
            .send()
            .await
            .unwrap();
        assert_eq!(r.status(), 201);
        r.json::<Value>().await.unwrap()["threadId"]
            .as_str()
            .unwrap()
            .to_string()
    }
}

/// The `messages` of the `n`th request the model received.
pub fn request_messages(model: &StandIn, n: usize) -> Vec<Value> {
    model.seen()[n].body["messages"].as_array().unwrap().clone()
}

pub fn tool_names(model: &StandIn, n: usize) -> Vec<String> {
    model.seen()[n].body["tools"]
        .as_array()
        .map_or(vec![], |t| {
            t.iter()
                .map(|t| t["function"]["name"].as_str().unwrap().to_string())
                .collect()
        })
}

pub fn deltas(events: &[Value]) -> String {
    events
        .iter()
        .filter(|e| e["type"] == "message.delta")
        .map(|e| e["delta"]["content"][0]["text"].as_str().unwrap())
        .collect()
}

#[tokio::test]
async fn llm_streams_an_answer_as_deltas_into_a_completed_message_and_history() {
    let t = start().await;
    t.model.push(Reply::stream(chunks::text(&[
        "Hello",
        ", how can",
        " I help?",
    ])));
    let thread = t.thread().await;
    let events = t.server.turn(&thread, "hi there").await;
    assert_eq!(
        types(&events)[..3],
        ["message.created", "run.started", "message.started"],
        "{events:#?}"
    );
    assert_eq!(types(&events).last().unwrap(), "run.completed");
    assert_eq!(deltas(&events), "Hello, how can I help?");
    assert_eq!(replies(&events), ["Hello, how can I help?"]);
    let history = t.server.history(&thread).await;
    let texts: Vec<&str> = history["messages"]
        .as_array()
        .unwrap()
        .iter()
        .map(|m| m["content"][0]["text"].as_str().unwrap())
        .collect();
    assert_eq!(
        texts,
        [
            "Hi! Ask me about your order.",
            "hi there",
            "Hello, how can I help?"
        ]
    );
    // The prompt: bot + workflow instructions and only the visible metadata; the history;
    // the default workflow's actions and the built-ins as tools.
    let msgs = request_messages(&t.model, 0);
    let system = msgs[0]["content"].as_str().unwrap();
    assert!(
        system.starts_with("You are Acme's shop assistant.\n\nStep 1:"),
        "{system}"
    );
    assert!(
        system.contains("- plan: gold") && !system.contains("internalNote"),
        "{system}"
    );
    assert_eq!(msgs.last().unwrap()["content"], "hi there");
    let mut tools = tool_names(&t.model, 0);
    tools.sort();
    assert_eq!(
        tools,
        [
            "checkLoyalty",
            "classifyRequest",
            "closeConversation",
            "getOrderDetails",
            "getTracking",
            "handOffConversation"
        ]
    );
    // The next turn sees the earlier exchange.
    t.model.push(Reply::fast(chunks::text(&["Sure."])));
    t.server.turn(&thread, "thanks").await;
    let msgs = request_messages(&t.model, 1);
    let roles: Vec<&str> = msgs.iter().map(|m| m["role"].as_str().unwrap()).collect();
    assert_eq!(roles, ["system", "assistant", "user", "assistant", "user"]);
    t.server.stop().await;
}

#[tokio::test]
async fn llm_calls_an_api_action_and_answers_with_its_result() {
    let t = start().await;
    t.model.push(Reply::stream(chunks::tool_calls(&[(
        "call_1",
        "getOrderDetails",
        r#"{"orderId": "42"}"#,
    )])));
    t.model.push(Reply::stream(chunks::text(&[
        "Order 42 has ",
        "shipped (TRK9).",
    ])));
    let thread = t.thread().await;
    let events = t.server.turn(&thread, "where is order 42?").await;
    assert_eq!(
        types(&events).last().unwrap(),
        "run.completed",
        "{events:#?}"
    );
    assert_eq!(t.api.hits("/orders/42"), 1);
    assert!(
        types(&events).contains(&"action.completed".to_string()),
        "{:?}",
        types(&events)
    );
    // The action's result went back to the model, with the call it answers.
    let msgs = request_messages(&t.model, 1);
    let n = msgs.len();
    assert_eq!(
        msgs[n - 2]["tool_calls"][0]["function"]["name"],
        "getOrderDetails"
    );
    assert_eq!(msgs[n - 1]["role"], "tool");
    assert_eq!(msgs[n - 1]["tool_call_id"], "call_1");
    let result: Value = serde_json::from_str(msgs[n - 1]["content"].as_str().unwrap()).unwrap();
    assert_eq!(result["status"], "shipped");
    assert_eq!(replies(&events), ["Order 42 has shipped (TRK9)."]);
    // Next turn: the model still sees the call and its result before the answer.
    t.model
        .push(Reply::fast(chunks::text(&["You're welcome."])));
    t.server.turn(&thread, "thanks").await;
    let roles: Vec<String> = request_messages(&t.model, 2)
        .iter()
        .map(|m| m["role"].as_str().unwrap().to_string())
        .collect();
    assert_eq!(
        roles,
        [
            "system",
            "assistant",
            "user",
            "assistant",
            "tool",
            "assistant",
            "user"
        ]
    );
    t.server.stop().await;
}

#[tokio::test]
async fn llm_calls_a_python_action_and_answers_with_its_result() {
    let t = start().await;
    t.model.push(Reply::stream(chunks::tool_calls(&[(
        "call_py",
        "checkLoyalty",
        r#"{"customerId": "c-7"}"#,
    )])));
    t.model
        .push(Reply::stream(chunks::text(&["You are a gold member."])));
    let thread = t.thread().await;
    let events = t.server.turn(&thread, "what is my tier? I am c-7").await;
    assert_eq!(
        types(&events).last().unwrap(),
        "run.completed",
        "{events:#?}"
    );
    let msgs = request_messages(&t.model, 1);
    let result: Value =
        serde_json::from_str(msgs.last().unwrap()["content"].as_str().unwrap()).unwrap();
    assert_eq!(
        result,
        json!({"customerId": "c-7", "tier": "gold", "points": 1200})
    );
    assert_eq!(replies(&events), ["You are a gold member."]);
    t.server.stop().await;
}

#[tokio::test]
async fn llm_runs_two_tool_rounds_in_one_turn() {
    let t = start().await;
    t.model.push(Reply::stream(chunks::tool_calls(&[(
        "c1",
        "getOrderDetails",
        r#"{"orderId":"42"}"#,
    )])));
    t.model.push(Reply::stream(chunks::tool_calls(&[(
        "c2",
        "getTracking",
        r#"{"trackingNumber":"TRK9"}"#,
    )])));
    t.model
        .push(Reply::stream(chunks::text(&["It is out for delivery."])));
    let thread = t.thread().await;
    let events = t.server.turn(&thread, "track order 42").await;
    assert_eq!(
        types(&events).last().unwrap(),
        "run.completed",
        "{events:#?}"
    );
    assert_eq!(
        (t.api.hits("/orders/42"), t.api.hits("/tracking/TRK9")),
        (1, 1)
    );
    assert_eq!(t.model.seen().len(), 3);
    let last = request_messages(&t.model, 2);
    let tool_results: Vec<&Value> = last.iter().filter(|m| m["role"] == "tool").collect();
    assert_eq!(tool_results.len(), 2);
    assert!(tool_results[1]["content"]
        .as_str()
        .unwrap()
        .contains("out for delivery"));
    assert_eq!(replies(&events), ["It is out for delivery."]);
    t.server.stop().await;
}

#[tokio::test]
async fn llm_hand_off_chosen_by_the_model_hands_the_thread_off() {
    let t = start().await;
    let mut datas = chunks::partial(&["Connecting you to a colleague."]);
    datas.extend(chunks::tool_calls(&[(
        "h1",
        "handOffConversation",
        r#"{"reason":"customer asked for a human"}"#,
    )]));
    t.model.push(Reply::stream(datas));
    let thread = t.thread().await;
    let events = t.server.turn(&thread, "I want a human").await;
    let ty = types(&events);
    let done = ty
        .iter()
        .position(|t| t == "message.completed")
        .expect("the text is stored");
    let handed = ty
        .iter()
        .position(|t| t == "thread.handed_off")
        .expect("handed off");
    assert!(done < handed, "{ty:?}");
    assert_eq!(events[handed]["reason"], "customer asked for a human");
    assert_eq!(ty.last().unwrap(), "run.completed");
    assert_eq!(
        t.model.seen().len(),
        1,
        "the model is not asked again after the hand-off"
    );
    // The bot no longer answers.
    let (status, body) = t.server.send(&thread, "hello?", "hello?").await;
    assert_eq!(status, 202);
    assert!(body["runId"].is_null(), "{body}");
    t.server.stop().await;
}

#[tokio::test]
async fn llm_classify_helpers_in_a_python_action_use_the_bots_model() {
    let t = start().await;
    t.model.push(Reply::stream(chunks::tool_calls(&[(
        "k1",
        "classifyRequest",
        r#"{"text": "you charged me twice!"}"#,
    )])));
    t.model.push(Reply::fast(chunks::text(&["Billing."])));
    t.model.push(Reply::fast(chunks::text(&["yes"])));
    t.model.push(Reply::fast(chunks::text(&[
        "Sorry about the double charge.",
    ])));
    let thread = t.thread().await;
    let events = t.server.turn(&thread, "you charged me twice!").await;
    assert_eq!(
        types(&events).last().unwrap(),
        "run.completed",
        "{events:#?}"
    );
    let seen = t.model.seen();
    assert_eq!(seen.len(), 4);
    // The classification requests: no tools, temperature 0, the options in the prompt.
    assert!(
        seen[1]
            .body
            .get("tools")
            .is_none_or(|t| t.as_array().is_some_and(|a| a.is_empty())),
        "{}",
        seen[1].body
    );
    assert_eq!(seen[1].body["temperature"], 0.0);
    assert!(seen[1].body["messages"][0]["content"]
        .as_str()
        .unwrap()
        .contains("- billing"));
    let result: Value = serde_json::from_str(
        request_messages(&t.model, 3).last().unwrap()["content"]
            .as_str()
            .unwrap(),
    )
    .unwrap();
    assert_eq!(result, json!({"category": "billing", "upset": true}));
    t.server.stop().await;
}

#[tokio::test]
async fn llm_close_chosen_by_the_model_closes_the_thread_after_its_message() {
    let t = start().await;
    let mut datas = chunks::partial(&["Glad I could help. Goodbye!"]);
    datas.extend(chunks::tool_calls(&[(
        "x1",
        "closeConversation",
        r#"{"reason":"resolved"}"#,
    )]));
    t.model.push(Reply::stream(datas));
    let thread = t.thread().await;
    let events = t.server.turn(&thread, "that's all, thanks").await;
    let ty = types(&events);
    let done = ty
        .iter()
        .position(|t| t == "message.completed")
        .expect("the goodbye is stored");
    let closed = ty
        .iter()
        .position(|t| t == "thread.closed")
        .expect("closed");
    assert!(done < closed, "{ty:?}");
    assert_eq!(
        (
            events[closed]["by"].as_str(),
            events[closed]["reason"].as_str()
        ),
        (Some("bot"), Some("resolved"))
    );
    assert_eq!(ty.last().unwrap(), "run.completed");
    assert_eq!(replies(&events), ["Glad I could help. Goodbye!"]);
    t.server.stop().await;
}
