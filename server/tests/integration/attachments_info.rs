//! What a client learns of a bot's files before uploading: thread creation and history carry
//! `attachments` (largest file, accepted types) when the bot accepts files, and nothing when
//! it does not, so a widget shows its attach control only where an upload can succeed.

use serde_json::Value;

use crate::common::*;

const WITH: &str = r#"
name = "Files"
[attachments]
max_file_bytes = 300000
types = ["image/png", "application/pdf"]
"#;

const WITHOUT: &str = r#"
name = "No files"
[attachments]
enabled = false
"#;

async fn created(s: &TestServer, bot: &str) -> Value {
    let r = s
        .client
        .post(s.url(&format!("/v1/bots/{bot}/threads")))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 201);
    r.json().await.unwrap()
}

#[tokio::test]
async fn thread_creation_and_history_tell_whether_and_what_a_visitor_may_upload() {
    let s = TestServer::start_with(&[("f", WITH), ("n", WITHOUT)], |_| {}).await;

    let body = created(&s, "f").await;
    let info = &body["attachments"];
    assert_eq!(info["maxFileBytes"], 300000);
    assert_eq!(
        info["types"],
        serde_json::json!(["image/png", "application/pdf"])
    );
    let thread = body["threadId"].as_str().unwrap();
    assert_eq!(s.history(thread).await["attachments"], *info);

    let body = created(&s, "n").await;
    assert!(body.get("attachments").is_none(), "{body}");
    let thread = body["threadId"].as_str().unwrap();
    assert!(s.history(thread).await.get("attachments").is_none());
}
