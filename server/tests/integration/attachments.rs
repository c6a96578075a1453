//! Files in conversations over real HTTP: sniffing, limits, idempotent retries, a cut upload,
//! authorization of downloads, the safe download headers, messages naming files (history and
//! events), a real Python handler reading one, the CRM's `widgetMessage` carrying a signed URL
//! and an agent sending a file back, and the retention sweep. Runs on the engine the
//! environment selects (SQLite, or PostgreSQL with `NATTER_TEST_STORE=postgres`).

use std::time::Duration;

use natter_crm::standin::{StandIn, StandInConfig};
use natter_crm::SigningSecret;
use serde_json::{json, Value};
use tokio::io::AsyncWriteExt;

use crate::common::*;
use crate::lifecycle_common::*;

/// 300 KB per file (more than one 256 KiB chunk), 700 KB per conversation.
const LIMITS: &str = r#"
[attachments]
max_file_bytes = 300000
max_conversation_bytes = 700000
types = ["image/png", "application/pdf", "text/plain", "image/svg+xml"]
"#;

fn bot(extra: &str) -> String {
    format!(
        r#"
name = "Files"
greeting = "Hi!"
[stream]
delay_ms = 0
{LIMITS}
[[workflows]]
name = "human"
triggers = {{ keywords = ["human"] }}
steps = [ {{ handoff = "Connecting you." }} ]
{extra}
"#
    )
}

/// A PNG signature followed by `len - 8` pseudo-random bytes (the sniffer reads the magic).
pub(crate) fn png(len: usize, seed: u8) -> Vec<u8> {
    let mut v = b"\x89PNG\r\n\x1a\n".to_vec();
    let mut x = seed as u32 | 1;
    while v.len() < len {
        x = x.wrapping_mul(1_103_515_245).wrapping_add(12_345);
        v.push((x >> 16) as u8);
    }
    v
}

fn pdf() -> Vec<u8> {
    b"%PDF-1.4\n1 0 obj <<>> endobj\ntrailer <<>>\n%%EOF\n".to_vec()
}

async fn upload(
    s: &TestServer,
    thread: &str,
    name: &str,
    client_id: &str,
    bytes: Vec<u8>,
    auth: Option<&str>,
) -> (u16, Value) {
    let mut req = s
        .client
        .post(s.url(&format!("/v1/threads/{thread}/attachments")))
        .query(&[("name", name), ("clientId", client_id)])
        // The claimed type is never trusted: every upload here claims PNG.
        .header("Content-Type", "image/png")
        .body(bytes);
    if let Some(t) = auth {
        req = req.bearer_auth(t);
    }
    let r = req.send().await.unwrap();
    let status = r.status().as_u16();
    (status, r.json().await.unwrap_or(Value::Null))
}

async fn download(s: &TestServer, path: &str, auth: Option<&str>) -> reqwest::Response {
    let mut req = s.client.get(s.url(path));
    if let Some(t) = auth {
        req = req.bearer_auth(t);
    }
    req.send().await.unwrap()
}

fn header<'a>(r: &'a reqwest::Response, name: &str) -> &'a str {
    r.headers()
        .get(name)
        .map(|v| v.to_str().unwrap())
        .unwrap_or("")
}

/// Rows of attachments and chunks in the store (both engines).
fn stored_counts(s: &TestServer) -> (u64, u64) {
    let sql_a = "SELECT COUNT(*) FROM attachments";
    let sql_c = "SELECT COUNT(*) FROM attachment_chunks";
    if on_postgres() {
        let cluster = crate::pg_cluster::cluster();
        let db = crate::pg_cluster::database_name(&s.data);
        (
            cluster.psql(&db, sql_a).trim().parse().unwrap(),
            cluster.psql(&db, sql_c).trim().parse().unwrap(),
        )
    } else {
        let c = rusqlite::Connection::open(s.data.join("natter.db")).unwrap();
        let n = |q: &str| c.query_row(q, [], |r| r.get::<_, i64>(0)).unwrap() as u64;
        (n(sql_a), n(sql_c))
    }
}

/// The visitor's messages in a history (`GET …/messages`).
fn user_messages(h: &Value) -> Vec<Value> {
    h["messages"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|m| m["role"] == "user")
        .cloned()
        .collect()
}

#[tokio::test]
async fn uploads_are_sniffed_limited_idempotent_and_served_safely() {
    let s = TestServer::start_with(&[("f", &bot(""))], |_| {}).await;
    let thread = s.create_thread("f").await;

    // A PNG over one chunk: stored, typed from its bytes, read back whole.
    let photo = png(280_000, 1);
    let (st, body) = upload(&s, &thread, "parcel.png", "u1", photo.clone(), None).await;
    assert_eq!(st, 201, "{body}");
    let a = &body["attachment"];
    assert_eq!(a["type"], "image/png");
    assert_eq!(a["size"], 280_000);
    assert_eq!(a["name"], "parcel.png");
    let url = a["url"].as_str().unwrap().to_string();
    let r = download(&s, &url, None).await;
    assert_eq!(r.status(), 200);
    assert_eq!(header(&r, "content-type"), "image/png");
    assert_eq!(header(&r, "x-content-type-options"), "nosniff");
    assert!(header(&r, "content-security-policy").contains("sandbox"));
    assert!(header(&r, "content-disposition").starts_with("inline"));
    assert_eq!(r.bytes().await.unwrap().to_vec(), photo);

    // A retry with the same client id answers the first file and stores nothing more.
    let before = stored_counts(&s);
    let (st, again) = upload(&s, &thread, "parcel.png", "u1", photo.clone(), None).await;
    assert_eq!(st, 200, "{again}");
    assert_eq!(again["attachment"]["id"], a["id"]);
    assert_eq!(stored_counts(&s), before);

    // HTML claimed as PNG (by name and header): refused from its bytes, nothing stored.
    let html = b"<!DOCTYPE html><html><script>alert(1)</script></html>".to_vec();
    let (st, err) = upload(&s, &thread, "innocent.png", "u2", html, None).await;
    assert_eq!(st, 415, "{err}");
    assert_eq!(err["error"]["code"], "unsupported_media_type");
    assert!(err["error"]["message"]
        .as_str()
        .unwrap()
        .contains("text/html"));
    // Unknown binary: refused too.
    let (st, _) = upload(&s, &thread, "x.bin", "u3", vec![0, 1, 2, 3, 0xff], None).await;
    assert_eq!(st, 415);

    // Too large for one file: a JSON 413.
    let (st, err) = upload(&s, &thread, "big.png", "u4", png(300_001, 2), None).await;
    assert_eq!(st, 413, "{err}");
    assert_eq!(err["error"]["code"], "payload_too_large");

    // Names with a path or control characters, and an empty file: 400.
    for (name, cid) in [
        ("../etc/passwd", "u5"),
        ("a\\b.png", "u6"),
        ("bell\u{7}.png", "u7"),
    ] {
        let (st, err) = upload(&s, &thread, name, cid, png(100, 3), None).await;
        assert_eq!(st, 400, "{name}: {err}");
        assert_eq!(err["error"]["code"], "invalid_attachment_name");
    }
    let (st, err) = upload(&s, &thread, "empty.txt", "u8", vec![], None).await;
    assert_eq!(st, 400);
    assert_eq!(err["error"]["code"], "invalid_request");
    assert_eq!(stored_counts(&s), before, "refused uploads leave nothing");

    // The conversation's limit: 280 KB + 280 KB fit in 700 KB, a third does not.
    let (st, _) = upload(&s, &thread, "second.png", "u9", png(280_000, 4), None).await;
    assert_eq!(st, 201);
    let (st, err) = upload(&s, &thread, "third.png", "u10", png(280_000, 5), None).await;
    assert_eq!(st, 413, "{err}");
    assert_eq!(err["error"]["code"], "conversation_quota_exceeded");
    // a small file too: the conversation is full, whatever the file's size
    let (st, err) = upload(&s, &thread, "small.png", "u10b", png(150_000, 6), None).await;
    assert_eq!(st, 413, "{err}");
    assert_eq!(err["error"]["code"], "conversation_quota_exceeded");
    assert!(err["error"]["message"]
        .as_str()
        .unwrap()
        .contains("conversation"));

    // A PDF and an SVG download as attachments, never inline.
    let (st, p) = upload(&s, &thread, "invoice.pdf", "u11", pdf(), None).await;
    assert_eq!(st, 201);
    let r = download(&s, p["attachment"]["url"].as_str().unwrap(), None).await;
    assert_eq!(header(&r, "content-type"), "application/pdf");
    assert!(header(&r, "content-disposition").starts_with("attachment"));
    let svg = br#"<svg xmlns="http://www.w3.org/2000/svg"><script>alert(1)</script></svg>"#;
    let (st, v) = upload(&s, &thread, "logo.svg", "u12", svg.to_vec(), None).await;
    assert_eq!(st, 201, "{v}");
    assert_eq!(v["attachment"]["type"], "image/svg+xml");
    let r = download(&s, v["attachment"]["url"].as_str().unwrap(), None).await;
    assert!(header(&r, "content-disposition").starts_with("attachment"));
    assert!(header(&r, "content-security-policy").contains("default-src 'none'"));

    // A message names its files: history and the event stream carry them as `file` items.
    let ids = json!([a["id"], p["attachment"]["id"]]);
    let r = s
        .client
        .post(s.url(&format!("/v1/threads/{thread}/messages")))
        .json(&json!({"clientMessageId": "m1", "content": "", "attachments": ids}))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 202, "{:?}", r.text().await);
    let user = user_messages(&s.history(&thread).await).remove(0);
    let files: Vec<&Value> = user["content"].as_array().unwrap().iter().collect();
    assert_eq!(files.len(), 2, "{user}");
    assert_eq!(files[0]["response_type"], "file");
    assert_eq!(files[0]["file"]["name"], "parcel.png");
    assert_eq!(files[1]["file"]["type"], "application/pdf");
    let evs = s.all_events(&thread).await;
    let created = evs
        .iter()
        .map(|e| serde_json::from_str::<Value>(&e.data).unwrap())
        .find(|e| e["type"] == "message.created")
        .unwrap();
    assert_eq!(created["message"]["content"], user["content"]);

    // Unknown ids are refused, and so is another thread's file.
    let other = s.create_thread("f").await;
    let r = s
        .client
        .post(s.url(&format!("/v1/threads/{other}/messages")))
        .json(&json!({"clientMessageId": "m1", "content": "hi", "attachments": [a["id"]]}))
        .send()
        .await
        .unwrap();
    let (st, c) = error_code(r).await;
    assert_eq!((st, c.as_str()), (404, "attachment_not_found"));
    let r = download(
        &s,
        &format!(
            "/v1/threads/{other}/attachments/{}",
            a["id"].as_str().unwrap()
        ),
        None,
    )
    .await;
    assert_eq!(r.status(), 404);
    s.stop().await;
}

/// An upload cut in the middle stores nothing; its retry stores the file once.
#[tokio::test]
async fn a_cut_upload_stores_nothing_and_its_retry_stores_once() {
    let s = TestServer::start_with(&[("f", &bot(""))], |_| {}).await;
    let thread = s.create_thread("f").await;
    let before = stored_counts(&s);
    let photo = png(200_000, 7);
    let addr = s.base.trim_start_matches("http://").to_string();
    let mut sock = tokio::net::TcpStream::connect(&addr).await.unwrap();
    let head = format!(
        "POST /v1/threads/{thread}/attachments?name=cut.png&clientId=c1 HTTP/1.1\r\nHost: {addr}\r\nContent-Type: image/png\r\nContent-Length: {}\r\n\r\n",
        photo.len()
    );
    sock.write_all(head.as_bytes()).await.unwrap();
    sock.write_all(&photo[..120_000]).await.unwrap();
    sock.flush().await.unwrap();
    // Cut only once the server has begun the upload (its pending row), so the cleanup below
    // is the server's and not a look taken before it started.
    until("the upload is begun", || async {
        (stored_counts(&s).0 == before.0 + 1).then_some(())
    })
    .await;
    drop(sock);
    // The server notices the cut and removes what it wrote (bounded wait, no timing assert).
    until("the cut upload is cleaned up", || async {
        (stored_counts(&s) == before).then_some(())
    })
    .await;
    let (st, body) = upload(&s, &thread, "cut.png", "c1", photo.clone(), None).await;
    assert_eq!(st, 201, "{body}");
    let (st, again) = upload(&s, &thread, "cut.png", "c1", photo, None).await;
    assert_eq!(st, 200);
    assert_eq!(again["attachment"]["id"], body["attachment"]["id"]);
    let (files, _) = stored_counts(&s);
    assert_eq!(files, before.0 + 1);
    s.stop().await;
}

const JWT_SECRET: &str = "attachments-test-secret-0123456789";

fn token(sub: &str) -> String {
    let exp = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_secs()
        + 600;
    jsonwebtoken::encode(
        &jsonwebtoken::Header::new(jsonwebtoken::Algorithm::HS256),
        &json!({"sub": sub, "exp": exp}),
        &jsonwebtoken::EncodingKey::from_secret(JWT_SECRET.as_bytes()),
    )
    .unwrap()
}

#[tokio::test]
async fn only_the_visitor_agents_and_the_admin_may_download() {
    let toml = bot(&format!(
        "[auth]\nmode = \"jwt\"\nalgorithm = \"HS256\"\nsecret = \"{JWT_SECRET}\"\n"
    ));
    let s = TestServer::start_with(&[("f", &toml)], fast).await;
    let (alice, mallory) = (token("alice"), token("mallory"));
    let r = s
        .client
        .post(s.url("/v1/bots/f/threads"))
        .bearer_auth(&alice)
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 201);
    let thread = r.json::<Value>().await.unwrap()["threadId"]
        .as_str()
        .unwrap()
        .to_string();
    // Another visitor can't upload to it either.
    let (st, _) = upload(&s, &thread, "a.pdf", "x", pdf(), Some(&mallory)).await;
    assert_eq!(st, 404);
    let (st, body) = upload(&s, &thread, "a.pdf", "x", pdf(), Some(&alice)).await;
    assert_eq!(st, 201, "{body}");
    // The visitor is given a signed URL: a page's `<img src>` (no Authorization header) loads it.
    let signed = body["attachment"]["url"].as_str().unwrap().to_string();
    assert!(signed.contains("&sig="), "{signed}");
    assert_eq!(download(&s, &signed, None).await.status(), 200);
    let url = signed.split('?').next().unwrap().to_string();

    assert_eq!(download(&s, &url, Some(&alice)).await.status(), 200);
    let r = download(&s, &url, Some(&mallory)).await;
    assert_eq!(r.status(), 404, "another visitor's token gets 404");
    assert_eq!(download(&s, &url, None).await.status(), 401);
    assert_eq!(download(&s, &url, Some(ADMIN)).await.status(), 200);
    // A forged or expired signature is no credential.
    let forged = format!("{url}?exp=99999999999&sig={}", "0".repeat(64));
    assert_eq!(download(&s, &forged, None).await.status(), 401);

    // History and the event stream give the visitor signed URLs too, valid for a page session.
    let r = s
        .client
        .post(s.url(&format!("/v1/threads/{thread}/messages")))
        .bearer_auth(&alice)
        .json(&json!({"clientMessageId": "m1", "content": "", "attachments": [body["attachment"]["id"]]}))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 202);
    let h: Value = s
        .client
        .get(s.url(&format!("/v1/threads/{thread}/messages")))
        .bearer_auth(&alice)
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    let item = user_messages(&h)[0]["content"][0]["file"].clone();
    let from_history = item["url"].as_str().unwrap();
    let exp: u64 = from_history
        .split("exp=")
        .nth(1)
        .unwrap()
        .split('&')
        .next()
        .unwrap()
        .parse()
        .unwrap();
    let now = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_secs();
    assert!(
        exp >= now + 12 * 3600,
        "valid for at least 12 h: {from_history}"
    );
    assert_eq!(download(&s, from_history, None).await.status(), 200);
    let evs = s
        .client
        .get(s.url(&format!("/v1/threads/{thread}/events")))
        .bearer_auth(&alice)
        .send()
        .await
        .unwrap();
    let mut sse = SseReader::new(evs);
    let created = loop {
        let e = sse
            .next_json()
            .await
            .expect("the stream has message.created");
        if e["type"] == "message.created" {
            break e;
        }
    };
    let from_stream = created["message"]["content"][0]["file"]["url"]
        .as_str()
        .unwrap();
    assert!(from_stream.contains("&sig="), "{created}");
    assert_eq!(download(&s, from_stream, None).await.status(), 200);

    // HEAD: the same headers, no body.
    let r = s.client.head(s.url(from_history)).send().await.unwrap();
    assert_eq!(r.status(), 200);
    assert_eq!(header(&r, "content-type"), "application/pdf");
    assert_eq!(header(&r, "content-length"), pdf().len().to_string());
    assert_eq!(header(&r, "x-content-type-options"), "nosniff");
    assert!(header(&r, "content-disposition").starts_with("attachment"));
    assert!(r.bytes().await.unwrap().is_empty());
    let r = s
        .client
        .head(s.url(&url))
        .bearer_auth(&mallory)
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 404);
    s.stop().await;
}

pub(crate) const READER_PY: &str = r#"
import hashlib

def handle_event(context):
    out = []
    for m in context["conversation"]["messages"]:
        for a in m["attachments"]:
            data = read_attachment(context, a)
            out.append({"sender": m["sender"], "name": a["name"], "type": a["type"], "size": a["size"],
                        "read": len(data), "sha256": hashlib.sha256(data).hexdigest(),
                        "signed": "sig=" in a["url"] and a["url"].startswith("/v1/threads/")})
    return {"files": out}
"#;

#[tokio::test]
async fn a_python_handler_reads_the_files_of_the_conversation() {
    let s = TestServer::start_with_files(
        &[("f", &bot(""))],
        &[("f/handlers/conversation_closed/files.py", READER_PY)],
        fast,
    )
    .await;

    let thread = s.create_thread("f").await;
    let photo = png(270_000, 9);
    let (_, a) = upload(&s, &thread, "damage.png", "p1", photo.clone(), None).await;
    let (st, _) = s
        .send_files(&thread, "m1", "see photo", &[&a["attachment"]["id"]])
        .await;
    assert_eq!(st, 202);
    s.close(&thread).await;
    let runs = handler_runs(&s.client, &s.base, "f", 1).await;
    let run = &runs[0];
    assert_eq!(run["status"], "ok", "{run}");
    let sha = {
        use sha2::Digest;
        sha2::Sha256::digest(&photo)
            .iter()
            .map(|b| format!("{b:02x}"))
            .collect::<String>()
    };
    assert_eq!(
        run["result"]["files"],
        json!([{"sender": "customer", "name": "damage.png", "type": "image/png", "size": 270000,
                "read": 270000, "sha256": sha, "signed": true}])
    );
    s.stop().await;
}

const CRM_KEY: &str = "crm-key-files";

#[tokio::test]
async fn the_crm_gets_signed_files_and_an_agent_sends_one_back() {
    let secret = SigningSecret::generate();
    let standin = StandIn::start(StandInConfig::new(secret.clone()))
        .await
        .unwrap();
    let crm = format!(
        "[network]\nallow_private_network = true\n[crm]\nbot_id = \"B\"\nchat_webhook_url = \"{}\"\nsigning_secret = \"{}\"\napi_key = \"{CRM_KEY}\"\n",
        standin.chat_url(),
        secret.expose_whsec()
    );
    let s = TestServer::start_with(&[("f", &bot(&crm))], fast).await;
    let thread = s.create_thread("f").await;
    let evs = s.turn(&thread, "human").await;
    assert!(types(&evs).contains(&"thread.handed_off".to_string()));
    let photo = png(5_000, 11);
    let (_, a) = upload(&s, &thread, "broken.png", "p1", photo.clone(), None).await;
    let (st, _) = s
        .send_files(&thread, "m1", "look", &[&a["attachment"]["id"]])
        .await;
    assert_eq!(st, 202);

    let msg = until("widgetMessage reaches the CRM", || async {
        standin
            .received()
            .into_iter()
            .filter_map(|r| r.body)
            .find(|b| b["data"]["eventType"] == "widgetMessage")
    })
    .await;
    let files = msg["data"]["attachments"].as_array().unwrap().clone();
    assert_eq!(files.len(), 1, "{msg}");
    assert_eq!(files[0]["name"], "broken.png");
    assert_eq!(files[0]["type"], "image/png");
    assert_eq!(files[0]["size"], 5000);
    assert_eq!(msg["data"]["text"], "look");
    // The signed URL needs no other credential.
    let r = download(&s, files[0]["url"].as_str().unwrap(), None).await;
    assert_eq!(r.status(), 200);
    assert_eq!(r.bytes().await.unwrap().to_vec(), photo);

    // The agent uploads a PDF with the CRM's key and sends it; the visitor sees it.
    let r = s
        .client
        .post(s.url("/agent/converse/attachments"))
        .query(&[
            ("platformConversationId", thread.as_str()),
            ("name", "label.pdf"),
            ("clientId", "a1"),
        ])
        .header("Authorization", CRM_KEY)
        .body(pdf())
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 201);
    let up: Value = r.json().await.unwrap();
    let mut sse = s.events(&thread, Some(s.last_seq(&thread).await)).await;
    let r = s
        .client
        .post(s.url("/agent/converse/send-message-to-widget"))
        .header("Authorization", CRM_KEY)
        .json(
            &json!({"eventType": "message", "platformConversationId": thread,
                      "attachments": [up["attachment"]["id"]]}),
        )
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 200, "{:?}", r.text().await);
    let ev = until_event(&mut sse, "agent.message").await;
    let item = &ev["message"]["content"][0];
    assert_eq!(item["response_type"], "file");
    assert_eq!(item["file"]["name"], "label.pdf");
    let r = download(&s, item["file"]["url"].as_str().unwrap(), None).await;
    assert_eq!(r.bytes().await.unwrap().to_vec(), pdf());
    s.stop().await;
}

#[tokio::test]
async fn retention_deletes_the_files_of_closed_conversations() {
    let toml = bot("").replace(
        "[attachments]\n",
        "[attachments]\nkeep_after_close_secs = 1\n",
    );
    let s = TestServer::start_with(&[("f", &toml)], |c| {
        c.lifecycle.inactivity_every = Duration::from_millis(100);
    })
    .await;
    let open = s.create_thread("f").await;
    let closed = s.create_thread("f").await;
    let (_, kept) = upload(&s, &open, "a.pdf", "k", pdf(), None).await;
    let (_, gone) = upload(&s, &closed, "b.pdf", "g", pdf(), None).await;
    s.close(&closed).await;
    let gone_url = gone["attachment"]["url"].as_str().unwrap().to_string();
    until("the closed conversation's file is deleted", || async {
        (download(&s, &gone_url, None).await.status() == 404).then_some(())
    })
    .await;
    let r = download(&s, kept["attachment"]["url"].as_str().unwrap(), None).await;
    assert_eq!(r.status(), 200, "an open conversation keeps its files");
    let (files, _) = stored_counts(&s);
    assert_eq!(files, 1);
    s.stop().await;
}

/// Posts a message naming `files` and waits for its run to end; returns the run's events.
async fn send_files(s: &TestServer, thread: &str, text: &str, files: &[&Value]) -> Vec<Value> {
    let mut sse = s.events(thread, Some(s.last_seq(thread).await)).await;
    let r = s
        .client
        .post(s.url(&format!("/v1/threads/{thread}/messages")))
        .json(&json!({"clientMessageId": "m1", "content": text, "attachments": files}))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 202, "{:?}", r.text().await);
    let mut out = Vec::new();
    loop {
        let e = tokio::time::timeout(PATIENCE, sse.next_json())
            .await
            .expect("the run ends")
            .expect("stream open");
        let done = e["type"] == "run.completed" || e["type"] == "run.failed";
        out.push(e);
        if done {
            return out;
        }
    }
}

#[tokio::test]
async fn the_llm_agent_sees_images_as_image_url_parts_and_other_files_by_name() {
    use crate::llm::standin::{chunks, Reply, StandIn};
    let model = StandIn::start(true).await;
    let seeing = crate::llm::bot_toml(&model.base_url).replace(
        "model = \"gpt-test\"",
        "model = \"gpt-test\"\naccepts_images = true",
    );
    let blind = crate::llm::bot_toml(&model.base_url);
    let s = TestServer::start_with(&[("seeing", &seeing), ("blind", &blind)], |_| {}).await;
    let photo = png(3_000, 13);
    for (bot, n) in [("seeing", 0), ("blind", 1)] {
        model.push(Reply::fast(chunks::text(&["A dented box."])));
        let thread = s.create_thread(bot).await;
        let (_, img) = upload(&s, &thread, "box.png", "i", photo.clone(), None).await;
        let (_, doc) = upload(&s, &thread, "receipt.pdf", "d", pdf(), None).await;
        let evs = send_files(
            &s,
            &thread,
            "What is wrong?",
            &[&img["attachment"]["id"], &doc["attachment"]["id"]],
        )
        .await;
        assert_eq!(evs.last().unwrap()["type"], "run.completed", "{evs:?}");
        let messages = crate::llm::request_messages(&model, n);
        let user = messages.last().unwrap();
        assert_eq!(user["role"], "user");
        let pdf_named = format!(
            "[file: receipt.pdf (application/pdf, {} bytes)]",
            pdf().len()
        );
        if bot == "seeing" {
            let parts = user["content"].as_array().expect("content parts");
            assert_eq!(parts[0]["type"], "text");
            let text = parts[0]["text"].as_str().unwrap();
            assert!(
                text.contains("What is wrong?") && text.contains(&pdf_named),
                "{text}"
            );
            assert_eq!(parts.len(), 2, "one image part: {user}");
            assert_eq!(parts[1]["type"], "image_url");
            let url = parts[1]["image_url"]["url"].as_str().unwrap();
            use base64::Engine as _;
            let b64 = url
                .strip_prefix("data:image/png;base64,")
                .expect("a data URL");
            let bytes = base64::engine::general_purpose::STANDARD
                .decode(b64)
                .unwrap();
            assert_eq!(bytes, photo);
        } else {
            let text = user["content"]
                .as_str()
                .expect("plain text for a model without images");
            assert!(
                text.contains("[file: box.png (image/png, 3000 bytes)]"),
                "{text}"
            );
            assert!(text.contains(&pdf_named), "{text}");
        }
    }
    s.stop().await;
}

/// More than [`MAX_PER_MESSAGE`](natter_server::attachments::MAX_PER_MESSAGE) files in one
/// message: 400 naming the limit, nothing stored; ten are fine.
#[tokio::test]
async fn a_message_names_at_most_ten_files() {
    let s = TestServer::start_with(&[("f", &bot(""))], |_| {}).await;
    let thread = s.create_thread("f").await;
    let mut ids = Vec::new();
    for i in 0..11u8 {
        let (st, a) = upload(
            &s,
            &thread,
            &format!("p{i}.png"),
            &format!("c{i}"),
            png(100, i),
            None,
        )
        .await;
        assert_eq!(st, 201, "{a}");
        ids.push(a["attachment"]["id"].clone());
    }
    let all: Vec<&Value> = ids.iter().collect();
    let (st, err) = s.send_files(&thread, "m11", "eleven", &all).await;
    assert_eq!(st, 400, "{err}");
    assert_eq!(err["error"]["code"], "invalid_request");
    assert!(
        err["error"]["message"]
            .as_str()
            .unwrap()
            .contains("at most 10"),
        "{err}"
    );
    assert_eq!(
        user_messages(&s.history(&thread).await).len(),
        0,
        "the refused message is not stored"
    );
    let (st, body) = s.send_files(&thread, "m10", "ten", &all[..10]).await;
    assert_eq!(st, 202, "{body}");
    let user = user_messages(&s.history(&thread).await).remove(0);
    let files = user["content"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|c| c["response_type"] == "file")
        .count();
    assert_eq!(files, 10);
    s.stop().await;
}

/// A bot with `[attachments] enabled = false`: an upload is a JSON 403 `attachments_disabled`,
/// and nothing is stored.
#[tokio::test]
async fn an_upload_to_a_bot_that_takes_no_files_is_refused() {
    let off = "name = \"Text only\"\ngreeting = \"Hi!\"\n[attachments]\nenabled = false\n";
    let s = TestServer::start_with(&[("n", off)], |_| {}).await;
    let thread = s.create_thread("n").await;
    let before = stored_counts(&s);
    let (st, err) = upload(&s, &thread, "photo.png", "x1", png(5_000, 1), None).await;
    assert_eq!(st, 403, "{err}");
    assert_eq!(err["error"]["code"], "attachments_disabled");
    assert_eq!(err["error"]["message"], "this bot does not accept files");
    assert_eq!(stored_counts(&s), before);
    s.stop().await;
}

const INSPECT_TOML: &str = r#"description = "What files did the visitor send?"
kind = "python"
workflows = ["inspect"]
[python]
file = "actions/inspect.py"
timeout_ms = 20000
"#;

/// A Python action run by the visitor's message: it gets that message's files and reads them.
const INSPECT_PY: &str = r#"
import hashlib

def execute_action(context):
    mine = [m for m in context["conversation"]["messages"] if m["sender"] == "customer"]
    parts = []
    for a in mine[-1]["attachments"]:
        data = read_attachment(context, a)
        parts.append("%s %s %d %d %s" % (a["name"], a["type"], a["size"], len(data), hashlib.sha256(data).hexdigest()[:16]))
    return {"summary": "; ".join(parts) or "none"}
"#;

#[tokio::test]
async fn a_python_action_reads_the_files_of_the_message_that_ran_it() {
    let flow = r#"
[[workflows]]
name = "inspect"
triggers = { keywords = ["inspect"] }
steps = [ { action = "inspect", save_as = "r" }, { say = "{{r.summary}}" } ]
"#;
    let s = TestServer::start_with_files(
        &[("f", &bot(flow))],
        &[
            ("f/actions/inspect.toml", INSPECT_TOML),
            ("f/actions/inspect.py", INSPECT_PY),
        ],
        fast,
    )
    .await;

    let thread = s.create_thread("f").await;
    let photo = png(260_000, 11);
    let (_, a) = upload(&s, &thread, "dent.png", "i1", photo.clone(), None).await;
    let (_, b) = upload(&s, &thread, "receipt.pdf", "i2", pdf(), None).await;
    let before = s.last_seq(&thread).await;
    let (st, sent) = s
        .send_files(
            &thread,
            "m1",
            "inspect these",
            &[&a["attachment"]["id"], &b["attachment"]["id"]],
        )
        .await;
    assert_eq!(st, 202, "{sent}");
    let mut sse = s.events(&thread, Some(before)).await;
    let mut evs = Vec::new();
    loop {
        let e = sse.next_json().await.expect("stream continues");
        let end = (e["type"] == "run.completed" || e["type"] == "run.failed")
            && e["runId"] == sent["runId"];
        evs.push(e);
        if end {
            break;
        }
    }
    let sha = |d: &[u8]| {
        use sha2::Digest;
        sha2::Sha256::digest(d)
            .iter()
            .take(8)
            .map(|b| format!("{b:02x}"))
            .collect::<String>()
    };
    assert_eq!(
        replies(&evs),
        [format!(
            "dent.png image/png 260000 260000 {}; receipt.pdf application/pdf {n} {n} {}",
            sha(&photo),
            sha(&pdf()),
            n = pdf().len()
        )],
        "{evs:?}"
    );
    s.stop().await;
}
