//! CRM webhooks of several `natter` instances on one PostgreSQL (run under
//! `NATTER_TEST_STORE=postgres`; skipped on SQLite): an instance killed with -9 in the middle
//! of delivering them leaves nothing undelivered, and each conversation's webhooks still reach
//! the CRM in the order they were caused, under the ids they were first sent with.
//!
//! Instance A alone queues every conversation's webhooks (a hand-off, the visitor's messages,
//! the close) and starts delivering them to a CRM stand-in that answers slowly; A is killed
//! while its deliveries are under way; instance B, started on the same database, takes the
//! jobs over once A's heartbeat is stale.

use natter_crm::standin::{StandIn, StandInConfig};
use natter_crm::SigningSecret;
use serde_json::{json, Value};

use crate::common::*;
use crate::lifecycle_common::until;
use crate::pg_cluster::cluster;
use crate::process::spawn_natter;

fn bot(chat_url: &str, secret: &SigningSecret) -> String {
    format!(
        r#"
name = "CRM bot"
fallback = "Hm?"
[stream]
delay_ms = 0
[network]
allow_private_network = true   # the CRM stand-in listens on 127.0.0.1
[crm]
bot_id = "BOT_ID"
chat_webhook_url = "{chat_url}"
signing_secret = "{}"
api_key = "crm-key-order"
[[workflows]]
name = "human"
triggers = {{ keywords = ["human"] }}
steps = [ {{ handoff = "Connecting you.", reason = "asked" }} ]
"#,
        secret.expose_whsec()
    )
}

const CONVERSATIONS: usize = 5;
const MESSAGES: usize = 3;

async fn post(client: &reqwest::Client, url: String, body: Value) -> Value {
    let r = client.post(url).json(&body).send().await.unwrap();
    assert!(r.status().is_success(), "{}", r.status());
    r.json().await.unwrap_or(Value::Null)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn kill_9_mid_delivery_every_webhook_arrives_in_order_per_conversation() {
    if !on_postgres() {
        return;
    }
    let secret = SigningSecret::generate();
    let mut c = StandInConfig::new(secret.clone());
    c.delay = std::time::Duration::from_millis(250);
    c.keep_bodies = true;
    let standin = StandIn::start(c).await.unwrap();
    let url = cluster().database(&format!("o_{}", uuid::Uuid::new_v4().simple()));
    let tmp = tempfile::tempdir().unwrap();
    let bots = tmp.path().join("bots");
    write_bot(&bots, "c", &bot(&standin.chat_url(), &secret));
    let env = [("DATABASE_URL", url.as_str())];
    let (mut a, base_a) = spawn_natter(&tmp.path().join("a"), &bots, &env).await;
    let client = reqwest::Client::new();

    let mut threads = Vec::new();
    for _ in 0..CONVERSATIONS {
        let t = post(&client, format!("{base_a}/v1/bots/c/threads"), json!({})).await;
        let thread = t["threadId"].as_str().unwrap().to_string();
        let url = format!("{base_a}/v1/threads/{thread}/messages");
        post(
            &client,
            url.clone(),
            json!({"clientMessageId": "h", "content": "human"}),
        )
        .await;
        threads.push(thread);
    }
    for thread in &threads {
        // The hand-off is committed once the run that made it completed.
        until("the hand-off", || async {
            let h: Value = client
                .get(format!("{base_a}/v1/threads/{thread}/messages"))
                .send()
                .await
                .ok()?
                .json()
                .await
                .ok()?;
            (h["status"] == "handed_off").then_some(())
        })
        .await;
        for i in 0..MESSAGES {
            let url = format!("{base_a}/v1/threads/{thread}/messages");
            post(
                &client,
                url,
                json!({"clientMessageId": format!("m{i}"), "content": format!("words {i}")}),
            )
            .await;
        }
        post(
            &client,
            format!("{base_a}/v1/threads/{thread}/close"),
            json!({}),
        )
        .await;
    }
    // Kill A while it delivers (each delivery takes the stand-in's 250 ms).
    let per = 2 + MESSAGES; // widgetEscalate, the messages, widgetEndSession
    let escalates = CONVERSATIONS; // the synchronous `escalate` of each hand-off
    standin.wait_for(escalates + 3, PATIENCE).await;
    a.kill9();
    let (_b, _base_b) = spawn_natter(&tmp.path().join("b"), &bots, &env).await;

    let db = url.rsplit('/').next().unwrap().to_string();
    let total = CONVERSATIONS * per;
    until("every webhook delivered", || async {
        let out = cluster().psql(
            &db,
            "SELECT count(*) FROM outbox WHERE kind = 'webhook' AND status = 'done'",
        );
        (out.trim().parse::<usize>().unwrap() == total).then_some(())
    })
    .await;

    let received = standin.received();
    assert!(
        received.iter().all(|r| r.signature_ok),
        "every webhook signed"
    );
    for thread in &threads {
        // The jobs as the database holds them, in the order they were caused.
        let jobs: Vec<String> = cluster()
            .psql(&db, &format!("SELECT id FROM outbox WHERE thread_id = '{thread}' AND kind = 'webhook' ORDER BY seq"))
            .lines()
            .map(str::to_string)
            .collect();
        assert_eq!(jobs.len(), per);
        // What reached the CRM for this conversation: ids in order of first success.
        let mut first: Vec<(String, Value)> = Vec::new();
        for r in &received {
            let body = r.body.clone().unwrap_or(Value::Null);
            let data = &body["data"];
            if data["platformConversationId"] != thread.as_str() || data["eventType"] == "escalate"
            {
                continue;
            }
            assert!(jobs.contains(&r.id), "a webhook id no job has: {}", r.id);
            if (200..300).contains(&r.status) && !first.iter().any(|(id, _)| *id == r.id) {
                first.push((r.id.clone(), data.clone()));
            }
        }
        let ids: Vec<String> = first.iter().map(|(id, _)| id.clone()).collect();
        assert_eq!(
            ids, jobs,
            "thread {thread}: delivered in the order caused, each once at least"
        );
        let kinds: Vec<String> = first
            .iter()
            .map(|(_, d)| match d["eventType"].as_str().unwrap() {
                "widgetMessage" => format!("widgetMessage {}", d["text"].as_str().unwrap()),
                other => other.to_string(),
            })
            .collect();
        let mut expected = vec!["widgetEscalate".to_string()];
        expected.extend((0..MESSAGES).map(|i| format!("widgetMessage words {i}")));
        expected.push("widgetEndSession".into());
        assert_eq!(kinds, expected, "thread {thread}");
    }
}
