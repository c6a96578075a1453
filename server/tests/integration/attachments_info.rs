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

const JWT_FILES: &str = r#"
name = "Signed-in files"
[auth]
mode = "jwt"
algorithm = "HS256"
secret = "bot-info-test-secret-bot-info-test-secret"
[cors]
allowed_origins = ["https://shop.example"]
[attachments]
types = ["image/jpeg"]
"#;

async fn bot_info(s: &TestServer, bot: &str, origin: Option<&str>) -> (u16, Value, Option<String>) {
    let mut r = s.client.get(s.url(&format!("/v1/bots/{bot}")));
    if let Some(o) = origin {
        r = r.header("origin", o);
    }
    let r = r.send().await.unwrap();
    let status = r.status().as_u16();
    let allow = r
        .headers()
        .get("access-control-allow-origin")
        .map(|v| v.to_str().unwrap().to_string());
    (status, r.json().await.unwrap(), allow)
}

#[tokio::test]
async fn the_public_bot_info_says_whether_and_what_a_visitor_may_upload_before_any_thread() {
    let s = TestServer::start_with(&[("f", WITH), ("n", WITHOUT), ("j", JWT_FILES)], |_| {}).await;

    let (status, body, _) = bot_info(&s, "f", None).await;
    assert_eq!(status, 200);
    assert_eq!(
        body["attachments"],
        created(&s, "f").await["attachments"],
        "{body}"
    );
    assert_eq!(body["attachments"]["maxFileBytes"], 300000);

    let (status, body, _) = bot_info(&s, "n", None).await;
    assert_eq!(status, 200);
    assert_eq!(body, serde_json::json!({"attachments": null}));

    // A bot requiring a token tells it without one (nothing in it is secret), to the origins
    // it lists only.
    let (status, body, allow) = bot_info(&s, "j", Some("https://shop.example")).await;
    assert_eq!(status, 200, "{body}");
    assert_eq!(
        body["attachments"]["types"],
        serde_json::json!(["image/jpeg"])
    );
    assert_eq!(allow.as_deref(), Some("https://shop.example"));
    let (status, body, allow) = bot_info(&s, "j", Some("https://evil.example")).await;
    assert_eq!(
        (status, body["error"]["code"].as_str()),
        (403, Some("origin_not_allowed"))
    );
    assert_eq!(allow, None);

    let (status, body, _) = bot_info(&s, "nope", None).await;
    assert_eq!(status, 404);
    assert_eq!(body["error"]["code"], "bot_not_found");
}
