//! natter-crm delivery benchmark: signed chat webhooks delivered to the loopback CRM stand-in
//! (which verifies every signature), `CONCURRENCY` deliveries in flight at once.
//!
//! Run: `cargo bench -p natter-crm --bench crm` (env `CRM_BENCH_TOTAL`, default 20000;
//! `CRM_BENCH_CONCURRENCY`, default 1000; `CRM_BENCH_THREADS`, default 2).
//! Latency is per delivery: sign, POST, answer read, outcome classified — what one outbox
//! attempt costs; it does not include a store commit.

use std::sync::Arc;
use std::time::{Duration, Instant};

use natter_crm::standin::{StandIn, StandInConfig};
use natter_crm::wire::{BotMessage, Button, ChatEvent, PredictedIntent};
use natter_crm::{new_webhook_id, CrmClient, CrmSettings, Job, Outcome, SigningSecret};
use natter_testing::env_or;
use natter_testing::stats::pct;

fn main() {
    let total = env_or("CRM_BENCH_TOTAL", 20_000);
    let concurrency = env_or("CRM_BENCH_CONCURRENCY", 1_000).max(1);
    let threads = env_or("CRM_BENCH_THREADS", 2).max(1);
    let rt = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(threads)
        .enable_all()
        .build()
        .unwrap();
    rt.block_on(run(total, concurrency, threads));
}

async fn run(total: usize, concurrency: usize, threads: usize) {
    let secret = SigningSecret::generate();
    let mut cfg = StandInConfig::new(secret.clone());
    cfg.keep_bodies = false;
    let standin = StandIn::start(cfg).await.unwrap();
    let crm = Arc::new(
        CrmSettings {
            chat_webhook_url: Some(standin.chat_url()),
            signing_secret: Some(secret.expose_whsec()),
            delivery_timeout_ms: Some(30_000),
            ..Default::default()
        }
        .resolve("bench", &|_| None)
        .unwrap(),
    );
    let client = CrmClient::new().unwrap();

    // A realistic body: a text with two buttons and an intent, about 500 bytes.
    let body = |n: usize| {
        crm.webhook(ChatEvent::SendMessage(
            BotMessage::text(
                format!("conv-{n}"),
                format!("msg-{n}"),
                "Your order #12345 ships tomorrow. Anything else?",
            )
            .with_conversation_id(format!("thread-{n}"))
            .with_reply_id("order-status")
            .with_buttons(vec![Button::new("Yes"), Button::new("No, thanks")])
            .with_predicted_intents(vec![PredictedIntent {
                value: "42".into(),
                name: "order_status".into(),
                confidence: 0.93,
            }]),
        ))
        .to_body()
    };
    let body_len = body(0).len();

    // Warm-up: open the connections once.
    deliver_all(&client, &crm, concurrency, concurrency, &body).await;
    let before = standin.count();

    let started = Instant::now();
    let mut lat = deliver_all(&client, &crm, total, concurrency, &body).await;
    let elapsed = started.elapsed();
    let arrived = standin.count() - before;
    let bad_sig = standin
        .received()
        .iter()
        .filter(|r| !r.signature_ok)
        .count();

    lat.sort();
    println!("natter-crm delivery benchmark");
    println!("  webhooks: {total} signed sendMessage bodies of {body_len} bytes, {concurrency} in flight, {threads} runtime threads (client and receiver share them)");
    println!("  receiver: loopback stand-in, verifies every signature; arrived {arrived}, bad signatures {bad_sig}");
    println!(
        "  throughput: {:.0} webhooks/s ({:.2} s)",
        total as f64 / elapsed.as_secs_f64(),
        elapsed.as_secs_f64()
    );
    println!(
        "  latency per delivery: p50 {:.2} ms, p99 {:.2} ms, max {:.2} ms",
        pct(&lat, 0.50).as_secs_f64() * 1e3,
        pct(&lat, 0.99).as_secs_f64() * 1e3,
        lat.last().unwrap().as_secs_f64() * 1e3
    );
    assert_eq!(arrived, total, "every webhook arrived");
    assert_eq!(bad_sig, 0);
}

async fn deliver_all(
    client: &CrmClient,
    crm: &Arc<natter_crm::Crm>,
    total: usize,
    concurrency: usize,
    body: &dyn Fn(usize) -> Vec<u8>,
) -> Vec<Duration> {
    let jobs: Vec<Job> = (0..total)
        .map(|n| Job {
            id: new_webhook_id(),
            body: body(n),
            attempt: 1,
        })
        .collect();
    let jobs = Arc::new(std::sync::Mutex::new(jobs));
    let mut tasks = Vec::new();
    for _ in 0..concurrency.min(total) {
        let (client, crm, jobs) = (client.clone(), crm.clone(), jobs.clone());
        tasks.push(tokio::spawn(async move {
            let mut lat = Vec::new();
            loop {
                let Some(job) = jobs.lock().unwrap().pop() else {
                    break;
                };
                let t = Instant::now();
                let o = client.deliver(&crm, &job).await;
                lat.push(t.elapsed());
                assert_eq!(o, Outcome::Delivered { status: 200 });
            }
            lat
        }));
    }
    let mut all = Vec::with_capacity(total);
    for t in tasks {
        all.extend(t.await.unwrap());
    }
    all
}
