//! Conversation retention (`[lifecycle] delete_after_close_secs`) on the engine the
//! environment selects: a closed conversation is deleted whole (thread, messages, events,
//! search entries, files) once its time has passed, open ones and other bots' are kept, and a
//! conversation whose CRM webhooks have not been delivered yet waits for them.

use std::time::Duration;

use natter_crm::standin::{StandIn, StandInConfig};
use natter_crm::SigningSecret;

use crate::common::*;
use crate::lifecycle_common::*;

const KEEPER: &str = "name = \"Keeper\"\n[stream]\ndelay_ms = 0\n";

fn deleting(extra: &str) -> String {
    format!(
        "name = \"Forgetful\"\n[stream]\ndelay_ms = 0\n[lifecycle]\ndelete_after_close_secs = 1\n{extra}"
    )
}

async fn history_status(s: &TestServer, thread: &str) -> u16 {
    s.client
        .get(s.url(&format!("/v1/threads/{thread}/messages")))
        .send()
        .await
        .unwrap()
        .status()
        .as_u16()
}

/// Rows of the conversation left in every table that keeps any, plus its search entries.
fn rows_of(s: &TestServer, thread: &str) -> Vec<(String, usize)> {
    let mut out = Vec::new();
    for table in natter_server::store::retention::THREAD_TABLES {
        let n = store_rows(
            &s.data,
            &format!("SELECT 1 FROM {table} WHERE thread_id = '{thread}'"),
        )
        .len();
        out.push((table.to_string(), n));
    }
    let n = store_rows(
        &s.data,
        &format!("SELECT 1 FROM threads WHERE id = '{thread}'"),
    )
    .len();
    out.push(("threads".into(), n));
    out.push(("search".into(), search_hits(s, "zebra")));
    out.push((
        "chunks".into(),
        store_rows(&s.data, "SELECT 1 FROM attachment_chunks").len(),
    ));
    out.retain(|(_, n)| *n > 0);
    out
}

/// Messages the full-text index finds for `word` (both engines' indexes).
fn search_hits(s: &TestServer, word: &str) -> usize {
    let sql = if on_postgres() {
        format!("SELECT 1 FROM messages WHERE to_tsvector('simple', search_text) @@ to_tsquery('simple', '{word}')")
    } else {
        format!("SELECT rowid FROM messages_fts WHERE messages_fts MATCH '{word}'")
    };
    store_rows(&s.data, &sql).len()
}

#[tokio::test]
async fn a_closed_conversation_is_deleted_whole_after_its_retention() {
    let s = TestServer::start_with(&[("d", &deleting("")), ("k", KEEPER)], |c| {
        fast(c);
        c.lifecycle.inactivity_every = Duration::from_millis(100);
    })
    .await;
    let open = s.create_thread("d").await;
    let kept = s.create_thread("k").await;
    let gone = s.create_thread("d").await;
    for t in [&open, &kept, &gone] {
        s.turn(t, "hello").await;
    }
    let png = b"\x89PNG\r\n\x1a\n0123456789".to_vec();
    let r = s
        .client
        .post(s.url(&format!("/v1/threads/{gone}/attachments")))
        .query(&[("name", "z.png"), ("clientId", "z")])
        .body(png)
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 201);
    let file: serde_json::Value = r.json().await.unwrap();
    let (st, _) = s
        .send_files(&gone, "z1", "a zebra", &[&file["attachment"]["id"]])
        .await;
    assert_eq!(st, 202);
    until("the message is searchable", || async {
        (search_hits(&s, "zebra") == 1).then_some(())
    })
    .await;
    let before = rows_of(&s, &gone);
    assert!(
        before.len() >= 6,
        "the conversation has rows to delete: {before:?}"
    );

    s.close(&gone).await;
    s.close(&kept).await;
    until("the closed conversation is deleted", || async {
        (history_status(&s, &gone).await == 404).then_some(())
    })
    .await;
    assert_eq!(rows_of(&s, &gone), vec![], "nothing of it is left");
    if !on_postgres() {
        // The contentless full-text index was given back exactly what each message put in.
        store_sql(
            &s.data,
            "INSERT INTO messages_fts (messages_fts) VALUES ('integrity-check')",
        )
        .await;
    }
    let r = s
        .client
        .get(s.url(file["attachment"]["url"].as_str().unwrap()))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 404);
    // An open conversation and another bot's closed one are kept.
    assert_eq!(history_status(&s, &open).await, 200);
    assert_eq!(history_status(&s, &kept).await, 200);
    s.stop().await;
}

#[tokio::test]
async fn a_conversation_waits_for_its_webhooks_before_it_is_deleted() {
    // Conversations handed off to the CRM, then closed: `widgetEscalate` and
    // `widgetEndSession`. Every webhook's first try is answered 503 "retry in an hour", so each
    // conversation's jobs stay pending until the test makes them due.
    let secret = SigningSecret::generate();
    let mut cfg = StandInConfig::new(secret.clone());
    cfg.fail_first = 1;
    cfg.retry_after = Some("3600".into());
    let standin = StandIn::start(cfg).await.unwrap();
    let crm = format!(
        "[network]\nallow_private_network = true\n[crm]\nbot_id = \"B\"\nchat_webhook_url = \"{}\"\nsigning_secret = \"{}\"\napi_key = \"k-123\"\n\
         [[workflows]]\nname = \"human\"\ntriggers = {{ keywords = [\"human\"] }}\nsteps = [ {{ handoff = \"Connecting you.\" }} ]\n",
        standin.chat_url(),
        secret.expose_whsec()
    );
    let s = TestServer::start_with(&[("d", &deleting(&crm))], |c| {
        fast(c);
        c.lifecycle.crm_retry.max_retry_after = Duration::from_secs(7200);
        c.lifecycle.inactivity_every = Duration::from_millis(100);
    })
    .await;
    let waiting = s.create_thread("d").await;
    s.turn(&waiting, "human").await;
    s.close(&waiting).await;
    until("the first webhook was refused", || async {
        (standin.count() >= 1).then_some(())
    })
    .await;
    let released = s.create_thread("d").await;
    s.turn(&released, "human").await;
    s.close(&released).await;
    let pending = |t: String| {
        let data = s.data.clone();
        move || {
            store_rows(
                &data,
                &format!("SELECT 1 FROM outbox WHERE thread_id = '{t}' AND status = 'pending'"),
            )
            .len()
        }
    };
    until("both conversations have pending webhooks", || async {
        (pending(waiting.clone())() > 0 && pending(released.clone())() > 0).then_some(())
    })
    .await;

    // The later conversation's webhooks are delivered (each after its one refused try): it is
    // deleted. Sweeps look at due conversations oldest first, so the earlier one was
    // considered in those sweeps too: its pending webhooks kept it.
    let deliver = |t: &str| {
        store_sql(
            &s.data,
            &format!("UPDATE outbox SET due_at = 0 WHERE thread_id = '{t}' AND status = 'pending'"),
        )
    };
    until("the delivered conversation is deleted", || async {
        deliver(&released).await;
        (history_status(&s, &released).await == 404).then_some(())
    })
    .await;
    assert_eq!(
        history_status(&s, &waiting).await,
        200,
        "pending webhooks keep it"
    );
    assert!(pending(waiting.clone())() > 0);

    until("it is deleted once its webhooks are delivered", || async {
        deliver(&waiting).await;
        (history_status(&s, &waiting).await == 404).then_some(())
    })
    .await;
    // Every refused webhook (escalate and end-session of both) was delivered before its
    // conversation went.
    let received = standin.received();
    let refused: std::collections::HashSet<&str> = received
        .iter()
        .filter(|r| r.status == 503)
        .map(|r| r.id.as_str())
        .collect();
    assert_eq!(refused.len(), 4, "{received:?}");
    for id in refused {
        assert!(
            received.iter().any(|r| r.id == id && r.status == 200),
            "webhook {id} delivered: {received:?}"
        );
    }
    s.stop().await;
}
