//! A thread created with `greeting: false` starts without the bot's greeting (the client opens
//! with a message of its own, as IBM's welcome request does): its first message is the
//! visitor's and the first reply answers it. Without the field (or with `true`) the greeting is
//! the first message, as before; a `greeting` that is not a boolean is a 400 that
//! creates nothing.

use serde_json::{json, Value};

use crate::common::*;

const BOT: &str = r#"
name = "Greeter"
greeting = "Hello from the greeter!"
fallback = "Hm?"
[stream]
delay_ms = 0
[[workflows]]
name = "hours"
triggers = { keywords = ["hours"] }
steps = [ { say = "We are open 9 to 5." } ]
"#;

async fn create(s: &TestServer, body: Value) -> reqwest::Response {
    s.client
        .post(s.url("/v1/bots/g/threads"))
        .json(&body)
        .send()
        .await
        .unwrap()
}

async fn thread(s: &TestServer, body: Value) -> String {
    let r = create(s, body).await;
    assert_eq!(r.status(), 201);
    r.json::<Value>().await.unwrap()["threadId"]
        .as_str()
        .unwrap()
        .to_string()
}

/// The texts of the thread's messages, as `role: text`.
async fn transcript(s: &TestServer, thread: &str) -> Vec<String> {
    let h = s.history(thread).await;
    h["messages"]
        .as_array()
        .unwrap()
        .iter()
        .map(|m| {
            let text: Vec<&str> = m["content"]
                .as_array()
                .unwrap()
                .iter()
                .filter_map(|c| c["text"].as_str())
                .collect();
            format!("{}: {}", m["role"].as_str().unwrap(), text.join(" "))
        })
        .collect()
}

#[tokio::test]
async fn greeting_false_starts_the_thread_with_the_visitors_message() {
    let s = TestServer::start_with(&[("g", BOT)], |_| {}).await;

    // As before: the greeting is the first message (seq 1).
    for body in [json!({}), json!({"greeting": true})] {
        let t = thread(&s, body.clone()).await;
        assert_eq!(
            transcript(&s, &t).await,
            ["assistant: Hello from the greeter!"],
            "{body}"
        );
        assert_eq!(s.last_seq(&t).await, 1, "{body}");
    }

    // Without the greeting: nothing until the visitor writes, then only the answer to it.
    let t = thread(&s, json!({"channel": "ibm_web_chat", "greeting": false})).await;
    assert!(transcript(&s, &t).await.is_empty());
    assert_eq!(s.last_seq(&t).await, 0);
    let evs = s.turn(&t, "opening hours?").await;
    assert_eq!(replies(&evs), ["We are open 9 to 5."], "{evs:?}");
    assert_eq!(
        transcript(&s, &t).await,
        ["user: opening hours?", "assistant: We are open 9 to 5."]
    );

    // Not a boolean: a 400 saying so; no thread is created.
    for bad in [json!({"greeting": "no"}), json!({"greeting": 0})] {
        let r = create(&s, bad.clone()).await;
        assert_eq!(r.status(), 400, "{bad}");
        let e: Value = r.json().await.unwrap();
        assert_eq!(e["error"]["code"], "invalid_request", "{e}");
        assert!(
            e["error"]["message"]
                .as_str()
                .unwrap()
                .contains("expected a boolean"),
            "{e}"
        );
    }
    let n = store_rows(&s.data, "SELECT COUNT(*) FROM threads WHERE bot = 'g'");
    assert_eq!(n, [["3"]], "only the three good creations made threads");
    s.stop().await;
}
