//! Files whose bytes live in an S3-compatible object store (moto's server on 127.0.0.1):
//! upload, download, limits and both retentions through it, on the engine the environment
//! selects; two instances on one PostgreSQL database sharing a file; and a wrong object store
//! stopping the server at start with one line.

use std::time::Duration;

use natter_testing::s3;
use serde_json::Value;

use crate::attachments::png;
use crate::common::*;
use crate::lifecycle_common::*;

const BOT: &str = r#"
name = "Files"
[stream]
delay_ms = 0
[attachments]
max_file_bytes = 600000
max_conversation_bytes = 1000000
types = ["image/png", "application/pdf"]
keep_after_close_secs = 1
"#;

/// A bucket of its own per test (and engine, so both runs can share one moto).
fn bucket_name(what: &str) -> String {
    let engine = if on_postgres() { "pg" } else { "lite" };
    format!("{what}-{engine}-{}", uuid_suffix())
}

fn uuid_suffix() -> String {
    let n = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .subsec_nanos();
    format!("{n:08x}{:04x}", std::process::id() & 0xffff)
}

async fn upload(s: &TestServer, thread: &str, name: &str, id: &str, body: Vec<u8>) -> (u16, Value) {
    let r = s
        .client
        .post(s.url(&format!("/v1/threads/{thread}/attachments")))
        .query(&[("name", name), ("clientId", id)])
        .body(body)
        .send()
        .await
        .unwrap();
    (r.status().as_u16(), r.json().await.unwrap_or(Value::Null))
}

fn chunk_rows(s: &TestServer) -> usize {
    store_rows(&s.data, "SELECT attachment_id FROM attachment_chunks").len()
}

#[tokio::test]
async fn files_are_stored_served_limited_and_deleted_through_the_object_store() {
    let moto = s3::server();
    let bucket = bucket_name("files");
    let objects = moto.bucket(&bucket).await;
    // Bot `k` deletes only files after close; bot `d` deletes whole conversations.
    let deleting = format!("{BOT}[lifecycle]\ndelete_after_close_secs = 1\n")
        .replace("keep_after_close_secs = 1\n", "");
    let s = TestServer::start_with(&[("k", BOT), ("d", &deleting)], |c| {
        c.objects = Some(objects.clone());
        c.lifecycle.inactivity_every = Duration::from_millis(100);
    })
    .await;
    let thread = s.create_thread("k").await;

    // Two chunks' worth: two objects under the attachment's prefix, nothing in the store's table.
    let photo = png(300_000, 1);
    let (st, body) = upload(&s, &thread, "parcel.png", "u1", photo.clone()).await;
    assert_eq!(st, 201, "{body}");
    let id = body["attachment"]["id"].as_str().unwrap().to_string();
    let prefix = format!("natter/files/{id}/");
    let keys = moto.keys(&bucket, &prefix).await;
    assert_eq!(keys.len(), 2, "{keys:?}");
    assert_eq!(chunk_rows(&s), 0, "no bytes in the store");
    let url = body["attachment"]["url"].as_str().unwrap().to_string();
    let r = s.client.get(s.url(&url)).send().await.unwrap();
    assert_eq!(r.status(), 200);
    assert_eq!(r.headers()["content-type"], "image/png");
    assert_eq!(r.bytes().await.unwrap().to_vec(), photo);

    // A retry stores nothing more; refused uploads leave no object behind.
    let (st, _) = upload(&s, &thread, "parcel.png", "u1", photo.clone()).await;
    assert_eq!(st, 200);
    let (st, err) = upload(&s, &thread, "big.png", "u2", png(600_001, 2)).await;
    assert_eq!(st, 413, "{err}");
    let html = b"<!DOCTYPE html><script>alert(1)</script>".to_vec();
    let (st, _) = upload(&s, &thread, "page.png", "u3", html).await;
    assert_eq!(st, 415);
    let (st, err) = upload(&s, &thread, "second.png", "u4", png(500_000, 3)).await;
    assert_eq!(st, 201, "{err}");
    let (st, err) = upload(&s, &thread, "third.png", "u5", png(500_000, 4)).await;
    assert_eq!(st, 413, "over the conversation's limit: {err}");
    until("refused uploads' objects are gone", || async {
        (moto.keys(&bucket, "natter/files/").await.len() == 4).then_some(())
    })
    .await;

    // Files of a closed conversation of `k` are deleted, objects included; the thread stays.
    s.close(&thread).await;
    until("the closed conversation's objects are deleted", || async {
        moto.keys(&bucket, "natter/files/")
            .await
            .is_empty()
            .then_some(())
    })
    .await;
    let r = s.client.get(s.url(&url)).send().await.unwrap();
    assert_eq!(r.status(), 404);
    assert_eq!(s.history(&thread).await["status"], "closed");

    // A conversation of `d` is deleted whole, its objects with it.
    let gone = s.create_thread("d").await;
    let (st, body) = upload(&s, &gone, "a.png", "g1", png(1000, 5)).await;
    assert_eq!(st, 201, "{body}");
    let (st, _) = s
        .send_files(&gone, "m1", "the photo", &[&body["attachment"]["id"]])
        .await;
    assert_eq!(st, 202);
    assert_eq!(moto.keys(&bucket, "natter/files/").await.len(), 1);
    s.close(&gone).await;
    until("the conversation is deleted", || async {
        let r = s
            .client
            .get(s.url(&format!("/v1/threads/{gone}/messages")))
            .send()
            .await
            .unwrap();
        (r.status() == 404).then_some(())
    })
    .await;
    assert!(moto.keys(&bucket, "natter/files/").await.is_empty());
    s.stop().await;
}

/// Two instances on one PostgreSQL database and one bucket: a file uploaded through one is
/// served by the other.
#[tokio::test]
async fn two_instances_share_a_file() {
    if !on_postgres() {
        return; // one SQLite file has one server
    }
    let moto = s3::server();
    let objects = moto.bucket(&bucket_name("shared")).await;
    let tmp = tempfile::tempdir().unwrap();
    let bots = tmp.path().join("bots");
    write_bot(&bots, "k", BOT);
    let data = tmp.path().join("data");
    let start = || {
        let mut c = test_config(&data, &bots);
        c.objects = Some(objects.clone());
        TestServer::launch(c)
    };
    let a = start().await;
    let b = start().await;
    let thread = a.create_thread("k").await;
    let photo = png(400_000, 7);
    let (st, body) = upload(&a, &thread, "p.png", "u1", photo.clone()).await;
    assert_eq!(st, 201, "{body}");
    let url = body["attachment"]["url"].as_str().unwrap();
    let r = b.client.get(b.url(url)).send().await.unwrap();
    assert_eq!(r.status(), 200);
    assert_eq!(r.bytes().await.unwrap().to_vec(), photo);
    // And a retry through the other instance finds the first file.
    let (st, again) = upload(&b, &thread, "p.png", "u1", photo).await;
    assert_eq!(st, 200);
    assert_eq!(again["attachment"]["id"], body["attachment"]["id"]);
    b.stop().await;
    a.stop().await;
}

/// A wrong object store is found at start: the server does not start, and the one line it
/// gives names the bucket, where it was looked for and why it failed.
#[tokio::test]
async fn a_wrong_object_store_stops_the_start_with_one_clear_line() {
    let moto = s3::server();
    let closed_port = std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port();
    let mut unreachable = moto.config("files");
    unreachable.endpoint = Some(format!("http://127.0.0.1:{closed_port}"));
    let missing = moto.config(&bucket_name("missing"));
    for (objects, expect) in [(unreachable, ""), (missing, "NoSuchBucket")] {
        let tmp = tempfile::tempdir().unwrap();
        let bots = tmp.path().join("bots");
        write_bot(&bots, "k", BOT);
        let mut c = test_config(&tmp.path().join("data"), &bots);
        c.objects = Some(objects.clone());
        let err = match natter_server::server::Server::start(c, Default::default()).await {
            Ok(_) => panic!("started with a wrong object store {objects:?}"),
            Err(e) => format!("{e:#}"),
        };
        assert!(!err.contains('\n'), "one line: {err}");
        assert!(
            err.contains(&format!("s3://{}/natter/files", objects.bucket)),
            "{err}"
        );
        assert!(err.contains(objects.endpoint.as_deref().unwrap()), "{err}");
        assert!(err.contains(expect), "{err}");
    }
}

/// Python code reads a file's bytes through the same object store (`read_attachment`).
#[tokio::test]
async fn a_python_handler_reads_a_file_from_the_object_store() {
    let objects = s3::server().bucket(&bucket_name("python")).await;
    let tmp = tempfile::tempdir().unwrap();
    let bots = tmp.path().join("bots");
    // Files kept after the close: the handler runs then.
    write_bot(&bots, "k", &BOT.replace("keep_after_close_secs = 1\n", ""));
    write_file(
        &bots,
        "k/handlers/conversation_closed/files.py",
        crate::attachments::READER_PY,
    );
    let mut config = test_config(&tmp.path().join("data"), &bots);
    fast(&mut config);
    config.objects = Some(objects);
    let mut s = TestServer::launch(config).await;
    s._tmp = Some(tmp);
    let thread = s.create_thread("k").await;
    let photo = png(270_000, 9);
    let (st, a) = upload(&s, &thread, "damage.png", "p1", photo).await;
    assert_eq!(st, 201, "{a}");
    let (st, _) = s
        .send_files(&thread, "m1", "see", &[&a["attachment"]["id"]])
        .await;
    assert_eq!(st, 202);
    s.close(&thread).await;
    let runs = handler_runs(&s.client, &s.base, "k", 1).await;
    assert_eq!(runs[0]["status"], "ok", "{}", runs[0]);
    let file = &runs[0]["result"]["files"][0];
    assert_eq!(file["read"], 270_000, "{file}");
    assert_eq!(file["size"], 270_000);
    s.stop().await;
}
