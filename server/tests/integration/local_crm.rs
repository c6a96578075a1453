//! The built-in local CRM keeps its queue in the store (both engines): an agent console sees
//! the conversations it heard of after a restart, a webhook delivered again changes nothing,
//! `isTeamOnline` follows the consoles that polled, and on PostgreSQL every instance shows the
//! same queue (a console polling one instance makes the team online for the others).

use natter_crm::sign::{signature_header, HEADER_ID, HEADER_SIGNATURE, HEADER_TIMESTAMP};
use natter_crm::SigningSecret;
use serde_json::{json, Value};

use crate::common::*;
use crate::lifecycle_common::{fast, until};

const KEY: &str = "local-crm-key";
const BOT_ID: &str = "LOCAL_BOT";

fn bot(secret: &SigningSecret) -> String {
    format!(
        r#"
name = "Local CRM bot"
greeting = "Hi!"
fallback = "Hm?"
[stream]
delay_ms = 0
[crm]
local = true
bot_id = "{BOT_ID}"
api_key = "{KEY}"
signing_secret = "{}"
[[workflows]]
name = "human"
triggers = {{ keywords = ["human"] }}
steps = [ {{ handoff = "Connecting you.", reason = "asked" }} ]
[[workflows]]
name = "online"
triggers = {{ keywords = ["anyone there"] }}
steps = [
  {{ team_online = "online" }},
  {{ branch = "online", cases = [ {{ equals = "true", goto = "yes" }} ] }},
  {{ say = "Nobody is online." }},
  {{ goto = "end" }},
  {{ id = "yes", say = "Someone is online." }},
]
"#,
        secret.expose_whsec()
    )
}

/// The console's list on `base`, as agent `agent`.
async fn conversations(base: &str, agent: &str) -> Vec<Value> {
    let r = reqwest::Client::new()
        .get(format!("{base}/local-crm/api/conversations?agent={agent}"))
        .header("Authorization", KEY)
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 200);
    r.json::<Value>().await.unwrap()["conversations"]
        .as_array()
        .unwrap()
        .clone()
}

/// The conversation `pcid` once its lines satisfy `ready`.
async fn conversation(base: &str, pcid: &str, ready: impl Fn(&Value) -> bool) -> Value {
    until("the local CRM's view", || async {
        conversations(base, "watcher")
            .await
            .into_iter()
            .find(|c| c["platformConversationId"] == pcid && ready(c))
    })
    .await
}

fn lines(conv: &Value) -> Vec<(String, String)> {
    conv["lines"]
        .as_array()
        .unwrap()
        .iter()
        .map(|l| {
            (
                l["from"].as_str().unwrap().to_string(),
                l["text"].as_str().unwrap().to_string(),
            )
        })
        .collect()
}

async fn agent(base: &str, body: Value) {
    let r = reqwest::Client::new()
        .post(format!("{base}/agent/converse/send-message-to-widget"))
        .header("Authorization", KEY)
        .json(&body)
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 200, "{:?}", r.text().await);
}

/// Posts a signed chat webhook to the local CRM of `base`, as the outbox does.
async fn webhook(base: &str, secret: &SigningSecret, id: &str, data: Value) {
    let body = serde_json::to_vec(&json!({ "botId": BOT_ID, "data": data })).unwrap();
    let ts = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_secs() as i64;
    let r = reqwest::Client::new()
        .post(format!("{base}/local-crm/converse-webhook"))
        .header(HEADER_ID, id)
        .header(HEADER_TIMESTAMP, ts.to_string())
        .header(
            HEADER_SIGNATURE,
            signature_header(std::slice::from_ref(secret), id, ts, &body),
        )
        .header("Content-Type", "application/json")
        .body(body)
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 200, "{:?}", r.text().await);
}

/// The bot's last reply to `text`.
async fn reply(s: &TestServer, thread: &str, text: &str) -> String {
    replies(&s.turn(thread, text).await)
        .pop()
        .unwrap_or_default()
}

#[tokio::test]
async fn the_queue_survives_a_restart_and_a_webhook_delivered_again_changes_nothing() {
    let secret = SigningSecret::generate();
    let s = TestServer::start_with(&[("l", &bot(&secret))], fast).await;
    let thread = s.create_thread("l").await;
    // No console has looked yet: nobody is online.
    assert_eq!(
        reply(&s, &thread, "anyone there").await,
        "Nobody is online."
    );
    conversations(&s.base, "ana").await;
    assert_eq!(
        reply(&s, &thread, "anyone there").await,
        "Someone is online."
    );

    s.turn(&thread, "human").await;
    s.send(&thread, "v1", "My parcel never arrived").await;
    conversation(&s.base, &thread, |c| {
        lines(c).iter().any(|(from, _)| from == "visitor")
    })
    .await;
    agent(
        &s.base,
        json!({"eventType": "escalationSuccess", "platformConversationId": thread, "agent": "Ana"}),
    )
    .await;
    // The same webhook twice (the outbox delivers at least once): one line.
    let data = json!({"eventType": "widgetMessage", "platformConversationId": thread, "text": "Still there?"});
    webhook(&s.base, &secret, "msg_again_1", data.clone()).await;
    webhook(&s.base, &secret, "msg_again_1", data).await;

    let expected = vec![
        (
            "system".to_string(),
            "The visitor asked for a person.".to_string(),
        ),
        ("visitor".into(), "My parcel never arrived".into()),
        ("system".into(), "Ana joined.".into()),
        ("visitor".into(), "Still there?".into()),
    ];
    let before = conversation(&s.base, &thread, |c| lines(c).len() >= 4).await;
    assert_eq!(before["status"], "active");
    assert_eq!(lines(&before), expected);

    // A restart on the same store: the console still sees the conversation as it was.
    let data_dir = s.data.clone();
    let bots_dir = s.bots.clone();
    let tmp = s.stop().await;
    let mut config = test_config(&data_dir, &bots_dir);
    fast(&mut config);
    let s = TestServer::launch(config).await;
    let after = conversations(&s.base, "ana").await;
    let conv = after
        .iter()
        .find(|c| c["platformConversationId"] == thread.as_str())
        .expect("the conversation is still listed after the restart");
    assert_eq!(conv["status"], "active");
    assert_eq!(lines(conv), expected);
    s.stop().await;
    drop(tmp);
}

#[tokio::test]
async fn a_bad_agent_name_is_refused() {
    let secret = SigningSecret::generate();
    let s = TestServer::start_with(&[("l", &bot(&secret))], fast).await;
    let long = "a".repeat(65);
    let r = s
        .client
        .get(s.url(&format!("/local-crm/api/conversations?agent={long}")))
        .header("Authorization", KEY)
        .send()
        .await
        .unwrap();
    let (status, code) = error_code(r).await;
    assert_eq!((status, code.as_str()), (400, "invalid_request"));
    s.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn every_instance_shows_the_same_queue() {
    if !on_postgres() {
        return;
    }
    let secret = SigningSecret::generate();
    let tmp = tempfile::tempdir().unwrap();
    let bots = tmp.path().join("bots");
    write_bot(&bots, "l", &bot(&secret));
    let url = database_url(&tmp.path().join("shared")).unwrap();
    let mut servers = Vec::new();
    for i in 0..2 {
        let mut c = test_config(&tmp.path().join(format!("data{i}")), &bots);
        c.database_url = Some(url.clone());
        fast(&mut c);
        servers.push(TestServer::launch(c).await);
    }
    let (a, b) = (&servers[0], &servers[1]);
    let thread = a.create_thread("l").await;
    assert_eq!(reply(a, &thread, "anyone there").await, "Nobody is online.");
    // A console polling instance B makes the team online for instance A's bot.
    conversations(&b.base, "ana").await;
    assert_eq!(
        reply(a, &thread, "anyone there").await,
        "Someone is online."
    );
    // The hand-off and the visitor's words reach A's local CRM; B's console sees them.
    a.turn(&thread, "human").await;
    a.send(&thread, "v1", "Hello from A").await;
    conversation(&b.base, &thread, |c| {
        lines(c)
            .iter()
            .any(|(from, t)| from == "visitor" && t == "Hello from A")
    })
    .await;
    // An agent answers through A; B's console shows it. A webhook id A took is not taken again
    // by B.
    agent(
        &a.base,
        json!({"eventType": "escalationSuccess", "platformConversationId": thread, "agent": "Ana"}),
    )
    .await;
    let data =
        json!({"eventType": "widgetMessage", "platformConversationId": thread, "text": "Once"});
    webhook(&a.base, &secret, "msg_shared_1", data.clone()).await;
    webhook(&b.base, &secret, "msg_shared_1", data).await;
    let conv = conversation(&b.base, &thread, |c| {
        lines(c).iter().any(|(_, t)| t == "Once")
    })
    .await;
    assert_eq!(conv["status"], "active");
    let once = lines(&conv).iter().filter(|(_, t)| t == "Once").count();
    assert_eq!(once, 1, "{conv}");
    assert_eq!(
        conversations(&a.base, "ana").await,
        conversations(&b.base, "ana").await
    );
    for s in servers {
        s.stop().await;
    }
}
