//! CRM webhook URLs and LLM base URLs obey the bot's outbound-address policy (`[network]`),
//! exactly as API actions do: a spy listener on 127.0.0.1, named by its address in several
//! spellings (and by `localhost`), gets no connection from a bot that does not allow private
//! addresses; the refusal is a clear, permanent failure. With `allow_cidrs` covering it, the
//! same URL is called.

use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;
use std::time::Duration;

use natter_crm::SigningSecret;

use crate::common::*;
use crate::lifecycle_common::*;

/// A listener that counts the connections made to it (and answers nothing useful).
pub struct Spy {
    pub port: u16,
    hits: Arc<AtomicUsize>,
    pub task: tokio::task::JoinHandle<()>,
}

impl Spy {
    pub async fn start() -> Spy {
        let l = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let port = l.local_addr().unwrap().port();
        let hits = Arc::new(AtomicUsize::new(0));
        let h = hits.clone();
        let task = tokio::spawn(async move {
            while let Ok((mut conn, _)) = l.accept().await {
                h.fetch_add(1, Ordering::SeqCst);
                use tokio::io::{AsyncReadExt, AsyncWriteExt};
                // Read the request head first: closing with it unread would reset the
                // connection, and the client could lose the answer.
                let mut head = Vec::new();
                let mut buf = [0u8; 1024];
                let _ = tokio::time::timeout(Duration::from_secs(2), async {
                    while !head.windows(4).any(|w| w == b"\r\n\r\n") {
                        match conn.read(&mut buf).await {
                            Ok(0) | Err(_) => break,
                            Ok(n) => head.extend_from_slice(&buf[..n]),
                        }
                    }
                })
                .await;
                let _ = conn
                    .write_all(b"HTTP/1.1 200 OK\r\ncontent-length: 0\r\n\r\n")
                    .await;
            }
        });
        Spy { port, hits, task }
    }

    pub fn hits(&self) -> usize {
        self.hits.load(Ordering::SeqCst)
    }
}

fn crm_bot(url: &str, network: &str) -> String {
    format!(
        r#"
name = "CRM bot"
fallback = "?"
[stream]
delay_ms = 0
{network}
[crm]
bot_id = "B"
chat_webhook_url = "{url}"
signing_secret = "{}"
api_key = "k"
escalation_refused = "Nobody can take this now."
[[workflows]]
name = "human"
triggers = {{ keywords = ["human"] }}
steps = [ {{ handoff = "Connecting you.", reason = "asked" }} ]
"#,
        SigningSecret::generate().expose_whsec()
    )
}

#[tokio::test]
async fn crm_webhooks_to_denied_addresses_never_connect() {
    let spy = Spy::start().await;
    let p = spy.port;
    let spellings = [
        format!("http://127.0.0.1:{p}/hook"),
        format!("http://localhost:{p}/hook"),
        format!("http://2130706433:{p}/hook"),
        format!("http://0x7f.0.0.1:{p}/hook"),
        format!("http://127.1:{p}/hook"),
        format!("http://[::ffff:127.0.0.1]:{p}/hook"),
        format!("http://[::1]:{p}/hook"),
        format!("http://0.0.0.0:{p}/hook"),
    ];
    let bots: Vec<(String, String)> = spellings
        .iter()
        .enumerate()
        .map(|(i, u)| (format!("c{i}"), crm_bot(u, "")))
        .collect();
    let refs: Vec<(&str, &str)> = bots.iter().map(|(a, b)| (a.as_str(), b.as_str())).collect();
    let s = TestServer::start_with(&refs, fast).await;
    let mut threads = Vec::new();
    for (slug, _) in &bots {
        let t = s.create_thread(slug).await;
        // The escalation is a synchronous webhook: refused, so the bot says it cannot hand off.
        let evs = s.turn(&t, "human please").await;
        assert!(
            replies(&evs)
                .iter()
                .any(|r| r.contains("Nobody can take this now")),
            "{slug}: {:?}",
            replies(&evs)
        );
        // Closing queues an asynchronous webhook: it fails at once, for good, saying why.
        let r = s
            .client
            .post(s.url(&format!("/v1/threads/{t}/close")))
            .send()
            .await
            .unwrap();
        assert_eq!(r.status(), 200);
        threads.push((slug.clone(), t));
    }
    for (slug, t) in &threads {
        let jobs = until(&format!("{slug}: the close webhook fails"), || async {
            let jobs = outbox(&s.client, &s.base, t).await;
            jobs.iter().all(|j| j["status"] == "failed").then_some(jobs)
        })
        .await;
        for j in &jobs {
            assert_eq!(j["attempts"], 1, "{slug}: a refusal is not retried: {j}");
            let e = j["lastError"].as_str().unwrap();
            assert!(e.contains("outbound-address policy"), "{slug}: {e}");
        }
    }
    tokio::time::sleep(Duration::from_millis(200)).await;
    assert_eq!(spy.hits(), 0, "a denied address was connected to");
    eprintln!(
        "outbound: CRM webhooks to {} spellings of loopback, 0 connections to the spy",
        spellings.len()
    );
    s.stop().await;
    spy.task.abort();
}

#[tokio::test]
async fn a_crm_on_a_private_network_is_reached_when_the_bot_allows_it() {
    let spy = Spy::start().await;
    let url = format!("http://127.0.0.1:{}/hook", spy.port);
    let bot = crm_bot(&url, "[network]\nallow_cidrs = [\"127.0.0.0/8\"]");
    let s = TestServer::start_with(&[("c", &bot)], fast).await;
    let t = s.create_thread("c").await;
    s.turn(&t, "human please").await;
    until("the spy is called", || async {
        (spy.hits() > 0).then_some(())
    })
    .await;
    s.stop().await;
    spy.task.abort();
}

fn llm_bot(base: &str, network: &str) -> String {
    format!(
        r#"
name = "LLM bot"
agent = "llm"
fallback = "Sorry, the assistant is unavailable."
{network}
[llm]
base_url = "{base}"
model = "m"
request_timeout = 2
first_byte_timeout = 1
turn_timeout = 5
retry_backoff = 0.01
retry_backoff_max = 0.05
max_retries = 1
"#
    )
}

#[tokio::test]
async fn llm_base_urls_to_denied_addresses_never_connect() {
    let spy = Spy::start().await;
    let p = spy.port;
    // A literal address the policy refuses stops the start, naming the setting.
    for base in [
        format!("http://127.0.0.1:{p}/v1"),
        format!("http://[::ffff:7f00:1]:{p}/v1"),
        format!("http://169.254.169.254:{p}/v1"),
        "http://metadata.google.internal/v1".to_string(),
    ] {
        let tmp = tempfile::tempdir().unwrap();
        let bots = tmp.path().join("bots");
        write_bot(&bots, "l", &llm_bot(&base, ""));
        let config = test_config(&tmp.path().join("data"), &bots);
        let err = natter_server::server::Server::start(config, Default::default())
            .await
            .err()
            .unwrap_or_else(|| panic!("{base}: the server started"));
        let msg = format!("{err:#}");
        assert!(
            msg.contains("outbound-address policy") && msg.contains("[network]"),
            "{base}: {msg}"
        );
    }
    // A name is judged by its answers: the turn fails, nothing connects.
    let s = TestServer::start_with(
        &[("l", &llm_bot(&format!("http://localhost:{p}/v1"), ""))],
        |_| {},
    )
    .await;
    let r = s
        .client
        .post(s.url("/v1/bots/l/threads"))
        .send()
        .await
        .unwrap();
    let t = r.json::<serde_json::Value>().await.unwrap()["threadId"]
        .as_str()
        .unwrap()
        .to_string();
    let evs = s.turn(&t, "hello").await;
    assert_eq!(types(&evs).last().unwrap(), "run.failed", "{evs:#?}");
    tokio::time::sleep(Duration::from_millis(200)).await;
    assert_eq!(spy.hits(), 0, "a denied address was connected to");
    s.stop().await;
    // Allowed: the same spy is called.
    let s = TestServer::start_with(
        &[(
            "l",
            &llm_bot(
                &format!("http://127.0.0.1:{p}/v1"),
                "[network]\nallow_private_network = true",
            ),
        )],
        |_| {},
    )
    .await;
    let t = s.create_thread("l").await;
    s.turn(&t, "hello").await;
    assert!(spy.hits() > 0);
    s.stop().await;
    spy.task.abort();
}
