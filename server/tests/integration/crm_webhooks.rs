//! The CRM connector end to end against natter-crm's stand-in on 127.0.0.1: every webhook in
//! the seed's JSON, signed, retried under the same id and in order; escalate refused;
//! isTeamOnline branching; the agent API streaming into the widget's SSE; the CRM channel.

use natter_crm::standin::{StandIn, StandInConfig};
use natter_crm::SigningSecret;
use serde_json::{json, Value};

use crate::common::*;
use crate::lifecycle_common::*;

const KEY: &str = "crm-key-123";

fn bot(chat_url: &str, secret: &SigningSecret) -> String {
    format!(
        r#"
name = "CRM bot"
greeting = "Hi!"
fallback = "Hm?"
[stream]
delay_ms = 0
[network]
allow_private_network = true   # the CRM stand-in listens on 127.0.0.1
[crm]
bot_id = "BOT_ID"
chat_webhook_url = "{chat_url}"
signing_secret = "{}"
api_key = "{KEY}"
escalation_refused = "Nobody can take this now, but I'm still here."
[[workflows]]
name = "human"
triggers = {{ keywords = ["human"] }}
steps = [ {{ handoff = "Connecting you.", reason = "asked" }} ]
[[workflows]]
name = "online"
triggers = {{ keywords = ["anyone there"] }}
steps = [
  {{ team_online = "online", team = "sales" }},
  {{ branch = "online", cases = [ {{ equals = "true", goto = "yes" }} ] }},
  {{ say = "Nobody is online." }},
  {{ goto = "end" }},
  {{ id = "yes", say = "Someone is online." }},
]
[[workflows]]
name = "echo"
triggers = {{ keywords = ["hello world"] }}
steps = [ {{ say = "Hello to you." }} ]
[[workflows]]
name = "colors"
triggers = {{ keywords = ["colors"] }}
steps = [ {{ buttons = "Pick one", options = [ {{ label = "Red", value = "red" }}, {{ label = "Blue", value = "blue" }} ] }} ]
[[workflows]]
name = "cards"
triggers = {{ keywords = ["cards"] }}
steps = [ {{ carousel = "Look:", cards = [ {{ title = "A", description = "first", image_url = "https://x/a.png", buttons = [ {{ label = "Pick A", value = "a" }} ] }}, {{ title = "B" }} ] }} ]
"#,
        secret.expose_whsec()
    )
}

async fn setup(cfg: impl FnOnce(&mut StandInConfig)) -> (TestServer, StandIn) {
    let secret = SigningSecret::generate();
    let mut c = StandInConfig::new(secret.clone());
    cfg(&mut c);
    let standin = StandIn::start(c).await.unwrap();
    let s = TestServer::start_with(&[("c", &bot(&standin.chat_url(), &secret))], fast).await;
    (s, standin)
}

/// Statuses answered to each webhook id, try by try.
type Tries = std::collections::HashMap<String, Vec<u16>>;

/// The first delivered body of each webhook id, in arrival order, and the tries per id.
fn deliveries(standin: &StandIn) -> (Vec<(String, Value)>, Tries) {
    let mut first_ok = Vec::new();
    let mut tries: std::collections::HashMap<String, Vec<u16>> = Default::default();
    for r in standin.received() {
        assert!(r.signature_ok, "every webhook is signed: {r:?}");
        tries.entry(r.id.clone()).or_default().push(r.status);
        if (200..300).contains(&r.status) && !first_ok.iter().any(|(id, _)| *id == r.id) {
            first_ok.push((r.id.clone(), r.body.clone().unwrap()));
        }
    }
    (first_ok, tries)
}

async fn agent(s: &TestServer, key: &str, body: Value) -> reqwest::Response {
    s.client
        .post(s.url("/agent/converse/send-message-to-widget"))
        .header("Authorization", key)
        .json(&body)
        .send()
        .await
        .unwrap()
}

#[tokio::test]
async fn widget_handoff_webhooks_in_seed_shape_signed_retried_with_the_same_id_in_order() {
    let (s, standin) = setup(|c| c.fail_first = 2).await;
    let thread = s.create_thread("c").await;
    let evs = s.turn(&thread, "human please").await;
    assert!(types(&evs).contains(&"thread.handed_off".to_string()));
    // After the hand-off the bot is silent: the visitor's words go to the CRM.
    let (st, body) = s.send(&thread, "m1", "Hello, is anyone there?").await;
    assert_eq!(st, 202);
    assert!(
        body["runId"].is_null(),
        "no bot run after a hand-off: {body}"
    );
    s.send(&thread, "m2", "My order is late").await;
    let r = s
        .client
        .post(s.url(&format!("/v1/threads/{thread}/close")))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 200);

    // escalate (sync, 1 try) + 4 async events x 3 tries (2 refused with 503, then 200).
    standin.wait_for(1 + 4 * 3, PATIENCE).await;
    let (ok, tries) = deliveries(&standin);
    let data: Vec<Value> = ok.iter().map(|(_, b)| b["data"].clone()).collect();
    assert_eq!(
        data,
        vec![
            json!({"eventType": "escalate", "platformConversationId": thread, "conversationId": thread}),
            json!({"eventType": "widgetEscalate", "platformConversationId": thread}),
            json!({"eventType": "widgetMessage", "platformConversationId": thread, "conversationId": thread, "type": "text",
                   "buttons": [], "text": "Hello, is anyone there?", "carouselCards": [], "predictedIntents": []}),
            json!({"eventType": "widgetMessage", "platformConversationId": thread, "conversationId": thread, "type": "text",
                   "buttons": [], "text": "My order is late", "carouselCards": [], "predictedIntents": []}),
            json!({"eventType": "widgetEndSession", "platformConversationId": thread}),
        ]
    );
    assert!(ok.iter().all(|(_, b)| b["botId"] == "BOT_ID"));
    for (id, _) in &ok[1..] {
        assert_eq!(
            tries[id],
            vec![503, 503, 200],
            "same webhook-id on every try: {id}"
        );
    }
    // In order: no try of a later event before the previous one was delivered.
    let order: Vec<String> = standin.received().iter().map(|r| r.id.clone()).collect();
    let mut last_seen = 0;
    for (id, _) in &ok[1..] {
        let first = order.iter().position(|x| x == id).unwrap();
        assert!(
            first >= last_seen,
            "event {id} tried before its predecessor was delivered"
        );
        last_seen = order.iter().rposition(|x| x == id).unwrap();
    }
    s.stop().await;
}

#[tokio::test]
async fn escalate_refused_tells_the_visitor_and_the_bot_goes_on() {
    let (s, standin) = setup(|c| c.escalate_status = 503).await;
    let thread = s.create_thread("c").await;
    let evs = s.turn(&thread, "human").await;
    assert!(
        !types(&evs).contains(&"thread.handed_off".to_string()),
        "{evs:?}"
    );
    assert_eq!(
        replies(&evs),
        vec!["Nobody can take this now, but I'm still here."]
    );
    assert_eq!(s.history(&thread).await["status"], "open");
    let evs = s.turn(&thread, "hello world").await;
    assert_eq!(replies(&evs), vec!["Hello to you."]);
    assert_eq!(standin.count(), 1, "only the escalate call");
    s.stop().await;
}

#[tokio::test]
async fn is_team_online_branches_a_workflow() {
    for (online, expect) in [
        (Some(true), "Someone is online."),
        (Some(false), "Nobody is online."),
        (None, "Nobody is online."),
    ] {
        let (s, standin) = setup(|c| c.team_online = online).await;
        let thread = s.create_thread("c").await;
        let evs = s.turn(&thread, "anyone there?").await;
        assert_eq!(replies(&evs), vec![expect], "isOnline {online:?}");
        let q = standin.received()[0].body.clone().unwrap();
        assert_eq!(
            q["data"],
            json!({"eventType": "isTeamOnline", "platformConversationId": thread, "conversationId": thread, "teamId": "sales"})
        );
        s.stop().await;
    }
}

#[tokio::test]
async fn agent_replies_reach_the_widget_stream() {
    let (s, _standin) = setup(|_| {}).await;
    let thread = s.create_thread("c").await;
    // Refusals first: they change nothing.
    let r = agent(
        &s,
        "wrong-key",
        json!({"eventType": "message", "platformConversationId": thread, "text": "x"}),
    )
    .await;
    assert_eq!(r.status(), 401);
    let r = agent(
        &s,
        KEY,
        json!({"eventType": "message", "platformConversationId": "thr_nope", "text": "x"}),
    )
    .await;
    assert_eq!(error_code(r).await, (404, "thread_not_found".to_string()));
    let r = agent(
        &s,
        KEY,
        json!({"eventType": "message", "platformConversationId": thread}),
    )
    .await;
    assert_eq!(r.status(), 400);
    let msg: Value = r.json().await.unwrap();
    assert!(
        msg["error"]["message"]
            .as_str()
            .unwrap()
            .starts_with("text"),
        "{msg}"
    );

    let before = s.last_seq(&thread).await;
    let mut sse = s.events(&thread, Some(before)).await;
    // The CRM takes the conversation (hand-off on its request), then talks.
    let r = agent(&s, KEY, json!({"eventType": "escalationQueueUpdate", "platformConversationId": thread, "queuePosition": 2, "waitingTime": "3 min"})).await;
    assert_eq!(r.status(), 200);
    let ev = until_event(&mut sse, "agent.queue").await;
    assert_eq!(
        (ev["queuePosition"].clone(), ev["waitingTime"].clone()),
        (json!("2"), json!("3 min"))
    );
    assert_eq!(agent(&s, KEY, json!({"eventType": "escalationSuccess", "platformConversationId": thread, "agent": "Ann"})).await.status(), 200);
    until_event(&mut sse, "thread.handed_off").await;
    assert_eq!(until_event(&mut sse, "agent.joined").await["agent"], "Ann");
    assert_eq!(
        agent(
            &s,
            KEY,
            json!({"eventType": "typing", "platformConversationId": thread, "typing": true})
        )
        .await
        .status(),
        200
    );
    assert_eq!(until_event(&mut sse, "agent.typing").await["typing"], true);
    assert_eq!(agent(&s, KEY, json!({"eventType": "message", "platformConversationId": thread, "text": "Hi, Ann here."})).await.status(), 200);
    let m = until_event(&mut sse, "agent.message").await;
    assert_eq!(m["message"]["role"], "agent");
    assert_eq!(m["message"]["content"][0]["text"], "Hi, Ann here.");
    assert_eq!(
        agent(
            &s,
            KEY,
            json!({"eventType": "agentDisconnect", "platformConversationId": thread})
        )
        .await
        .status(),
        200
    );
    until_event(&mut sse, "agent.left").await;
    assert_eq!(until_event(&mut sse, "thread.closed").await["by"], "agent");
    // The agent's message is in the history like any message.
    let h = s.history(&thread).await;
    assert!(h["messages"]
        .as_array()
        .unwrap()
        .iter()
        .any(|m| m["role"] == "agent"));
    s.stop().await;
}

#[tokio::test]
async fn the_crm_as_channel_gets_the_bots_answers_as_send_message() {
    let (s, standin) = setup(|_| {}).await;
    let chat = |body: Value| {
        s.client
            .post(s.url("/converse/chat"))
            .header("Authorization", format!("Bearer {KEY}"))
            .json(&body)
            .send()
    };
    let r = chat(json!({"platformConversationId": "pc-1", "eventType": "message", "text": "hi"}))
        .await
        .unwrap();
    assert_eq!(error_code(r).await, (404, "thread_not_found".to_string()));
    let r = chat(json!({"platformConversationId": "pc-1", "eventType": "startSession", "metaData": [{"key": "plan", "value": "gold"}, {"key": "token", "value": "s3cr3t", "sanitize": true}]})).await.unwrap();
    assert_eq!(r.status(), 200);
    let r =
        chat(json!({"platformConversationId": "pc-1", "eventType": "message", "text": "colors"}))
            .await
            .unwrap();
    assert_eq!(r.status(), 200);
    standin.wait_for(2, PATIENCE).await;
    let r =
        chat(json!({"platformConversationId": "pc-1", "eventType": "message", "text": "cards"}))
            .await
            .unwrap();
    assert_eq!(r.status(), 200);
    standin.wait_for(3, PATIENCE).await;
    let r = chat(json!({"platformConversationId": "pc-1", "eventType": "message", "cardIndex": 0}))
        .await
        .unwrap();
    assert_eq!(r.status(), 200);
    standin.wait_for(4, PATIENCE).await;
    let r = chat(json!({"platformConversationId": "pc-1", "eventType": "oops"}))
        .await
        .unwrap();
    assert_eq!(r.status(), 400);

    let (ok, _) = deliveries(&standin);
    let data: Vec<Value> = ok.iter().map(|(_, b)| b["data"].clone()).collect();
    let strip = |mut d: Value| {
        for k in ["conversationId", "replyId", "messageId"] {
            assert!(d[k].is_string(), "{k} in {d}");
            d.as_object_mut().unwrap().remove(k);
        }
        d
    };
    let data: Vec<Value> = data.into_iter().map(strip).collect();
    let base = |kind: &str, text: &str, buttons: Value, cards: Value| {
        json!({"eventType": "sendMessage", "platformConversationId": "pc-1", "type": kind, "buttons": buttons, "text": text,
               "carouselCards": cards, "predictedIntents": [], "confidence": data[0]["confidence"].clone()})
    };
    assert_eq!(data[0], base("text", "Hi!", json!([]), json!([])));
    assert_eq!(
        data[1],
        base(
            "text",
            "Pick one",
            json!([{"type": "button", "text": "Red"}, {"type": "button", "text": "Blue"}]),
            json!([])
        )
    );
    assert_eq!(
        data[2],
        base(
            "carousel",
            "Look:",
            json!([]),
            json!([
                {"title": "A", "description": "first", "imageUrl": "https://x/a.png", "buttons": [{"type": "button", "text": "Pick A"}]},
                {"title": "B", "buttons": []}
            ])
        )
    );
    assert_eq!(
        data[3]["text"], "Hm?",
        "card 0's value `a` matches no workflow: the fallback"
    );
    // Sanitized metadata is not stored.
    let t = ok[0].1["data"]["conversationId"]
        .as_str()
        .unwrap()
        .to_string();
    let meta = admin_get(&s.client, &s.base, &format!("/threads/{t}")).await["metadata"].clone();
    assert_eq!(meta["plan"], "gold");
    assert!(meta.get("token").is_none(), "{meta}");
    s.stop().await;
}

#[tokio::test]
async fn a_crm_action_posts_the_actions_webhook_and_stores_results_without_sanitized_values() {
    let secret = SigningSecret::generate();
    let mut c = StandInConfig::new(secret.clone());
    c.action_answer = r#"{"results": [{"key": "newBalance", "value": 210}, {"key": "token", "value": "s3cr3t-value", "sanitize": true}]}"#.into();
    let standin = StandIn::start(c).await.unwrap();
    let toml = bot(&standin.chat_url(), &secret).replace(
        "api_key = ",
        &format!(
            "actions_webhook_url = \"{}\"\napi_key = ",
            standin.actions_url()
        ),
    ) + r#"
[[workflows]]
name = "balance"
triggers = { keywords = ["balance"] }
steps = [
  { ask = "uid", prompt = "Your id?" },
  { action = "updateCustomerBalance", args = { userId = "$uid", balance = "100" }, save_as = "r" },
  { say = "New balance {{r.results.newBalance}}, token {{r.results.token}}." },
]
"#;
    let tmp = tempfile::tempdir().unwrap();
    let bots = tmp.path().join("bots");
    write_bot(&bots, "c", &toml);
    write_file(
        &bots,
        "c/actions/updateCustomerBalance.toml",
        "description = \"d\"\nkind = \"crm\"\nworkflows = [\"balance\"]\n[[args]]\nname = \"userId\"\nsave_as = \"customerId\"\n[[args]]\nname = \"balance\"\n",
    );
    let mut config = test_config(&tmp.path().join("data"), &bots);
    fast(&mut config);
    let mut s = TestServer::launch(config).await;
    s._tmp = Some(tmp);
    let thread = s.create_thread("c").await;
    s.turn(&thread, "balance").await;
    let evs = s.turn(&thread, "123345").await;
    assert_eq!(replies(&evs), vec!["New balance 210, token [redacted]."]);
    let req = standin
        .received()
        .into_iter()
        .find(|r| r.path.contains("action"))
        .expect("actions webhook called");
    assert!(req.signature_ok);
    let body = req.body.unwrap();
    assert_eq!(body["name"], "updateCustomerBalance");
    assert_eq!(body["botId"], "BOT_ID");
    assert_eq!(body["platformConversationId"], thread.as_str());
    assert_eq!(
        body["data"],
        json!([{"key": "userId", "value": ["123345"], "saveAs": "customerId"}, {"key": "balance", "value": ["100"]}])
    );
    let t = admin_get(&s.client, &s.base, &format!("/threads/{thread}")).await;
    assert_eq!(t["metadata"]["newBalance"], 210);
    assert!(t["metadata"].get("token").is_none());
    let runs = admin_get(&s.client, &s.base, "/action-runs?bot=c").await;
    assert!(
        !runs.to_string().contains("s3cr3t-value"),
        "a sanitized value in the run log: {runs}"
    );
    s.stop().await;
}

/// A bot with the CRM whose `pyhand` workflow runs a Python action calling
/// `hand_off_conversation` and says what the helper returned.
async fn python_handoff_server(escalate_status: u16) -> (TestServer, StandIn) {
    let secret = SigningSecret::generate();
    let mut c = StandInConfig::new(secret.clone());
    c.escalate_status = escalate_status;
    let standin = StandIn::start(c).await.unwrap();
    let toml = bot(&standin.chat_url(), &secret)
        + r#"
[[workflows]]
name = "pyhand"
triggers = { keywords = ["python handoff"] }
steps = [
  { action = "pyHand", save_as = "r" },
  { say = "Helper said {{r.success}}: {{r.message}}" },
]
"#;
    let tmp = tempfile::tempdir().unwrap();
    let bots = tmp.path().join("bots");
    write_bot(&bots, "c", &toml);
    write_file(
        &bots,
        "c/py/hand.py",
        "def execute_action(context):\n    first = hand_off_conversation(context, \"from python\")\n    second = hand_off_conversation(context, \"again\")\n    return {\"success\": first[\"success\"], \"message\": first[\"message\"], \"second\": second[\"message\"]}\n",
    );
    write_file(
        &bots,
        "c/actions/pyHand.toml",
        "description = \"d\"\nkind = \"python\"\nworkflows = [\"pyhand\"]\n[python]\nfile = \"py/hand.py\"\ntimeout_ms = 20000\n",
    );
    let mut config = test_config(&tmp.path().join("data"), &bots);
    fast(&mut config);
    let mut s = TestServer::launch(config).await;
    s._tmp = Some(tmp);
    (s, standin)
}

#[tokio::test]
async fn python_hand_off_escalates_to_the_crm_like_the_step() {
    let (s, standin) = python_handoff_server(200).await;
    let thread = s.create_thread("c").await;
    let evs = s.turn(&thread, "python handoff").await;
    let handed = |evs: &[Value]| {
        types(evs)
            .iter()
            .filter(|t| t.as_str() == "thread.handed_off")
            .count()
    };
    assert_eq!(handed(&evs), 1, "one transition: {evs:#?}");
    assert_eq!(s.history(&thread).await["status"], "handed_off");
    let runs = admin_get(&s.client, &s.base, "/action-runs?bot=c").await;
    assert!(
        runs.to_string()
            .contains("conversation was already handed off"),
        "the second call is a no-op: {runs}"
    );
    // escalate (sync) once, then the widgetEscalate webhook, as for the step.
    standin.wait_for(2, PATIENCE).await;
    tokio::time::sleep(std::time::Duration::from_millis(300)).await;
    let (ok, _) = deliveries(&standin);
    let kinds: Vec<Value> = ok
        .iter()
        .map(|(_, b)| b["data"]["eventType"].clone())
        .collect();
    assert_eq!(kinds, vec![json!("escalate"), json!("widgetEscalate")]);
    s.stop().await;
}

#[tokio::test]
async fn python_hand_off_refused_by_the_crm_returns_success_false_and_stays_open() {
    let (s, standin) = python_handoff_server(503).await;
    let thread = s.create_thread("c").await;
    let evs = s.turn(&thread, "python handoff").await;
    assert!(
        !types(&evs).contains(&"thread.handed_off".to_string()),
        "{evs:#?}"
    );
    assert_eq!(
        replies(&evs),
        vec!["Helper said false: the CRM refused the hand-off (escalate); the conversation stays open"]
    );
    assert_eq!(s.history(&thread).await["status"], "open");
    // Both calls asked the CRM (still open after the first refusal); nothing else was sent.
    tokio::time::sleep(std::time::Duration::from_millis(300)).await;
    assert_eq!(standin.count(), 2, "only the two escalate calls");
    let evs = s.turn(&thread, "hello world").await;
    assert_eq!(replies(&evs), vec!["Hello to you."]);
    s.stop().await;
}

#[tokio::test]
async fn escalation_failed_after_a_hand_off_reopens_the_thread_once_and_the_bot_replies_again() {
    let (s, _standin) = setup(|_| {}).await;
    let thread = s.create_thread("c").await;
    let evs = s.turn(&thread, "human please").await;
    assert!(types(&evs).contains(&"thread.handed_off".to_string()));
    assert_eq!(s.history(&thread).await["status"], "handed_off");
    for _ in 0..2 {
        let r = agent(
            &s,
            KEY,
            json!({"eventType": "escalationFailed", "platformConversationId": thread}),
        )
        .await;
        assert_eq!(r.status(), 200);
    }
    let h = s.history(&thread).await;
    assert_eq!(h["status"], "open");
    assert!(
        h["messages"]
            .as_array()
            .unwrap()
            .iter()
            .any(|m| m["content"][0]["text"] == "Nobody can take this now, but I'm still here."),
        "the visitor is told: {h}"
    );
    let all: Vec<String> = s
        .all_events(&thread)
        .await
        .iter()
        .map(|e| e.event.clone())
        .collect();
    assert_eq!(
        all.iter()
            .filter(|t| t.as_str() == "thread.reopened")
            .count(),
        1,
        "one handed_off → open transition: {all:?}"
    );
    // The bot answers again.
    let evs = s.turn(&thread, "hello world").await;
    assert_eq!(replies(&evs), vec!["Hello to you."]);
    s.stop().await;
}

#[tokio::test]
async fn a_sanitized_crm_result_reaches_a_later_action_and_nothing_else() {
    let secret = SigningSecret::generate();
    let mut c = StandInConfig::new(secret.clone());
    c.action_answer = r#"{"results": [{"key": "newBalance", "value": 210}, {"key": "token", "value": "s3cr3t-value", "sanitize": true}]}"#.into();
    let standin = StandIn::start(c).await.unwrap();
    let apis = crate::actions_standin::start().await;
    let toml = bot(&standin.chat_url(), &secret).replace(
        "api_key = ",
        &format!(
            "actions_webhook_url = \"{}\"\napi_key = ",
            standin.actions_url()
        ),
    ) + r#"
[[workflows]]
name = "balance"
triggers = { keywords = ["balance"] }
steps = [
  { action = "updateCustomerBalance", args = { userId = "7", balance = "100" }, save_as = "r" },
  { action = "useToken", args = { productId = "$secret.token" }, save_as = "u" },
  { say = "Done {{r.results.token}}." },
]
"#;
    let tmp = tempfile::tempdir().unwrap();
    let bots = tmp.path().join("bots");
    write_bot(&bots, "c", &toml);
    write_file(
        &bots,
        "c/actions/updateCustomerBalance.toml",
        "description = \"d\"\nkind = \"crm\"\nworkflows = [\"balance\"]\n[[args]]\nname = \"userId\"\n[[args]]\nname = \"balance\"\n",
    );
    write_file(
        &bots,
        "c/actions/useToken.toml",
        &format!(
            "description = \"d\"\nkind = \"api\"\nworkflows = [\"balance\"]\n[[args]]\nname = \"productId\"\n[api]\nbase_url = \"{}\"\npath = \"/stock/$productId\"\nmethod = \"GET\"\nheaders = {{ \"x-api-key\" = \"your-api-key\" }}\ntimeout_ms = 5000\n",
            apis.base
        ),
    );
    let mut config = test_config(&tmp.path().join("data"), &bots);
    fast(&mut config);
    let mut s = TestServer::launch(config).await;
    s._tmp = Some(tmp);
    let thread = s.create_thread("c").await;
    let evs = s.turn(&thread, "balance").await;
    assert_eq!(replies(&evs), vec!["Done [redacted]."]);
    // The later action's API (127.0.0.1) received the sanitized value.
    let seen = apis.seen("stock");
    assert_eq!(seen.len(), 1, "{seen:?}");
    assert_eq!(seen[0]["id"], "s3cr3t-value");
    // ... and nothing shows it: admin thread + run log, history, events.
    let t = admin_get(&s.client, &s.base, &format!("/threads/{thread}")).await;
    assert!(!t.to_string().contains("s3cr3t-value"), "{t}");
    assert!(t["metadata"].get("token").is_none());
    let runs = admin_get(&s.client, &s.base, "/action-runs?bot=c").await;
    assert!(!runs.to_string().contains("s3cr3t-value"), "{runs}");
    assert!(
        runs.to_string().contains("$secret.token"),
        "the run log keeps the placeholder: {runs}"
    );
    let h = s.history(&thread).await;
    assert!(!h.to_string().contains("s3cr3t-value"), "{h}");
    for e in s.all_events(&thread).await {
        assert!(!e.data.contains("s3cr3t-value"), "{e:?}");
    }
    s.stop().await;
}
