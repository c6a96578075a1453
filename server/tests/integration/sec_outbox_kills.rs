//! The outbox under kill -9: conversations are handed off (by the CRM) and closed while
//! `natter serve` is SIGKILLed again and again at random moments. Afterwards, against a real
//! signature-checking HTTP receiver on 127.0.0.1 (natter-crm's stand-in):
//!
//! - every webhook of every conversation was delivered (widgetEscalate, widgetEndSession);
//! - a webhook delivered more than once came every time with the same `webhook-id` (the
//!   outbox job's id), and no other id carried the same event;
//! - per conversation, no try of widgetEndSession came before the last try of widgetEscalate;
//! - every event handler ran to `ok`, and every outbox job is `done`.
//!
//! CI runs `NATTER_OUTBOX_CONVERSATIONS` (default 40) with `NATTER_OUTBOX_KILLS` kills
//! (default 6); the full size is `NATTER_OUTBOX_CONVERSATIONS=500 NATTER_OUTBOX_KILLS=50`.
//! The kill schedule is random; `NATTER_SEED` replays one.
//!
//! Last full-size run (2-core box, SQLite, `nice -n 10`, 2026-12-07): 500 conversations, 50
//! kills (all 50 during the drive), 1,000 webhooks delivered (10 repeated tries, each with its
//! job's webhook-id; none out of order), 1,000 handler runs ok, every outbox job done; 26.5 s.

use std::collections::{HashMap, HashSet};
use std::path::Path;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::time::Duration;

use natter_crm::standin::{StandIn, StandInConfig};
use natter_crm::SigningSecret;
use natter_testing::env_or;
use natter_testing::rand::Rng;
use natter_testing::wait::until_within;
use serde_json::{json, Value};
use tokio::sync::watch;

use crate::common::*;

use crate::process::*;

const KEY: &str = "crm-key-outbox-kills";

/// How long one step may keep failing while the server is down and restarting.
const STEP_PATIENCE: Duration = Duration::from_secs(120);

fn bot(chat_url: &str, secret: &SigningSecret) -> String {
    format!(
        "name = \"Outbox\"\nfallback = \"?\"\n[stream]\ndelay_ms = 0\n[network]\nallow_private_network = true\n\
         [crm]\nchat_webhook_url = \"{chat_url}\"\nsigning_secret = \"{}\"\napi_key = \"{KEY}\"\n",
        secret.expose_whsec()
    )
}

/// A handler that returns at once; its runs are logged in handler_runs.
const HANDLER_PY: &str = r#"
def handle_event(context):
    return {"ok": True}
"#;

/// Retries `f` against the current server until it answers `Some`, for at most
/// [`STEP_PATIENCE`] (the server may be down or restarting at any moment).
async fn step<T, F, Fut>(what: &str, base: &watch::Receiver<String>, f: F) -> T
where
    F: Fn(String) -> Fut,
    Fut: std::future::Future<Output = Option<T>>,
{
    until_within(what, STEP_PATIENCE, || f(base.borrow().clone())).await
}

/// One conversation from the visitor's and the CRM's side: create, handed off by the CRM,
/// closed by the visitor. Each request is retried until it is answered; all are idempotent
/// except the creation, whose lost answers leave an unused thread.
async fn conversation(client: reqwest::Client, base: watch::Receiver<String>) -> String {
    let thread = step("thread created", &base, |b| {
        let c = client.clone();
        async move {
            let r = c.post(format!("{b}/v1/bots/o/threads")).send().await.ok()?;
            (r.status() == 201).then_some(())?;
            let v: Value = r.json().await.ok()?;
            Some(v["threadId"].as_str()?.to_string())
        }
    })
    .await;
    step("handed off", &base, |b| {
        let (c, t) = (client.clone(), thread.clone());
        async move {
            let r = c
                .post(format!("{b}/agent/converse/send-message-to-widget"))
                .header("Authorization", KEY)
                .json(&json!({"eventType": "escalationSuccess", "platformConversationId": t}))
                .send()
                .await
                .ok()?;
            (r.status() == 200).then_some(())
        }
    })
    .await;
    step("closed", &base, |b| {
        let (c, t) = (client.clone(), thread.clone());
        async move {
            let r = c
                .post(format!("{b}/v1/threads/{t}/close"))
                .send()
                .await
                .ok()?;
            (r.status() == 200).then_some(())
        }
    })
    .await;
    thread
}

/// (thread, eventType) → every try's (index in arrival order, webhook-id, status).
type Tries = HashMap<(String, String), Vec<(usize, String, u16)>>;

/// (thread, outbox job id, kind, target, status) of every outbox job.
type Jobs = Vec<(String, String, String, String, String)>;

fn outbox_rows(data: &Path) -> Jobs {
    store_rows(
        data,
        "SELECT thread_id, id, kind, target, status FROM outbox ORDER BY thread_id",
    )
    .into_iter()
    .map(|r| {
        (
            r[0].clone(),
            r[1].clone(),
            r[2].clone(),
            r[3].clone(),
            r[4].clone(),
        )
    })
    .collect()
}

#[tokio::test]
async fn outbox_delivers_every_webhook_and_runs_every_handler_across_kill_9() {
    let conversations = env_or("NATTER_OUTBOX_CONVERSATIONS", 40usize);
    let kills = env_or("NATTER_OUTBOX_KILLS", 6usize);
    let workers = env_or("NATTER_OUTBOX_WORKERS", 8usize);
    let mut rng = Rng::from_env("outbox under kill -9");

    let secret = SigningSecret::generate();
    let standin = StandIn::start(StandInConfig::new(secret.clone()))
        .await
        .unwrap();
    let tmp = tempfile::tempdir().unwrap();
    let (data, bots) = (tmp.path().join("data"), tmp.path().join("bots"));
    write_bot(&bots, "o", &bot(&standin.chat_url(), &secret));
    for event in ["conversation_handed_off", "conversation_closed"] {
        write_file(&bots, &format!("o/handlers/{event}/mark.py"), HANDLER_PY);
    }
    let (mut proc, first) = spawn_natter(&data, &bots, &[]).await;
    let (base_tx, base_rx) = watch::channel(first);

    // The drive: `workers` tasks take conversations from a shared counter.
    let client = reqwest::Client::builder()
        .timeout(Duration::from_secs(10))
        .build()
        .unwrap();
    let next = Arc::new(std::sync::atomic::AtomicUsize::new(0));
    let driving = Arc::new(AtomicBool::new(true));
    let mut tasks = Vec::new();
    for _ in 0..workers {
        let (client, base, next) = (client.clone(), base_rx.clone(), next.clone());
        tasks.push(tokio::spawn(async move {
            let mut done = Vec::new();
            while next.fetch_add(1, Ordering::SeqCst) < conversations {
                done.push(conversation(client.clone(), base.clone()).await);
            }
            done
        }));
    }
    let drive = {
        let driving = driving.clone();
        tokio::spawn(async move {
            let mut threads = Vec::new();
            for t in tasks {
                threads.extend(t.await.unwrap());
            }
            driving.store(false, Ordering::SeqCst);
            threads
        })
    };

    // The kills, spread over the drive: the k-th lands when a random conversation of the k-th
    // slice has started, then a random few milliseconds into its steps. (Spaced by time
    // instead, most kills of a long run came after the drive had ended.)
    let mut during_drive = 0;
    let slice = (conversations as f64 / kills.max(1) as f64).max(1.0);
    for k in 0..kills {
        let at = ((k as f64 + rng.range(0, 1000) as f64 / 1000.0) * slice) as usize;
        while next.load(Ordering::SeqCst) <= at && driving.load(Ordering::SeqCst) {
            tokio::time::sleep(Duration::from_millis(2)).await;
        }
        tokio::time::sleep(Duration::from_millis(rng.range(0, 60))).await;
        if driving.load(Ordering::SeqCst) {
            during_drive += 1;
        }
        proc.kill9();
        let (p, base) = spawn_natter(&data, &bots, &[]).await;
        proc = p;
        base_tx.send(base).unwrap();
    }
    let threads = tokio::time::timeout(STEP_PATIENCE * 4, drive)
        .await
        .expect("the drive ends")
        .unwrap();
    assert_eq!(threads.len(), conversations);

    // Every job of every conversation done (the last server drains the outbox).
    let ours: HashSet<&String> = threads.iter().collect();
    let jobs = until_within("every outbox job done", STEP_PATIENCE, || {
        let jobs = outbox_rows(&data);
        let per_thread = jobs.iter().filter(|j| ours.contains(&j.0)).count();
        let all_done = jobs.iter().all(|j| j.4 == "done");
        std::future::ready((all_done && per_thread == 4 * conversations).then_some(jobs))
    })
    .await;

    // Every handler ran to `ok` for every conversation.
    let runs = store_rows(
        &data,
        "SELECT thread_id, handler, event_type, status FROM handler_runs",
    );
    for t in &threads {
        for event in ["conversation_handed_off", "conversation_closed"] {
            assert!(
                runs.iter()
                    .any(|r| &r[0] == t && r[2] == event && r[3] == "ok"),
                "{t}: the {event} handler did not run to ok: {:?}",
                runs.iter().filter(|r| &r[0] == t).collect::<Vec<_>>()
            );
        }
    }

    // The receiver's view: signed, complete, the same id for the same event, in order.
    let received = standin.received();
    assert!(received.iter().all(|r| r.signature_ok), "unsigned webhook");
    let job_id: HashMap<(String, String), String> = jobs
        .iter()
        .filter(|j| j.2 == "webhook")
        .map(|j| ((j.0.clone(), j.3.clone()), j.1.clone()))
        .collect();
    let mut tries: Tries = HashMap::new();
    for (i, r) in received.iter().enumerate() {
        let body = r.body.as_ref().expect("a JSON body");
        let key = (
            body["data"]["platformConversationId"]
                .as_str()
                .unwrap()
                .to_string(),
            body["data"]["eventType"].as_str().unwrap().to_string(),
        );
        tries
            .entry(key)
            .or_default()
            .push((i, r.id.clone(), r.status));
    }
    let mut delivered = 0;
    let mut repeats = 0;
    for t in &threads {
        for event in ["widgetEscalate", "widgetEndSession"] {
            let key = (t.clone(), event.to_string());
            let ts = tries
                .get(&key)
                .unwrap_or_else(|| panic!("{t}: {event} never arrived"));
            assert!(
                ts.iter().any(|x| (200..300).contains(&x.2)),
                "{t}: {event} not delivered: {ts:?}"
            );
            let id = &job_id[&key];
            assert!(
                ts.iter().all(|x| &x.1 == id),
                "{t}: {event} came with another webhook-id than its job's {id}: {ts:?}"
            );
            delivered += 1;
            repeats += ts.len() - 1;
        }
        let escalate = &tries[&(t.clone(), "widgetEscalate".into())];
        let end = &tries[&(t.clone(), "widgetEndSession".into())];
        assert!(
            escalate.last().unwrap().0 < end.first().unwrap().0,
            "{t}: widgetEndSession tried before widgetEscalate was done: {escalate:?} {end:?}"
        );
    }
    eprintln!(
        "outbox under kill -9: {conversations} conversations, {kills} kills ({during_drive} during the drive), \
         {delivered} webhooks delivered ({repeats} repeated tries, each with its job's webhook-id), \
         {} handler runs ok, order kept",
        runs.iter().filter(|r| r[3] == "ok").count()
    );
    drop(proc);
}
