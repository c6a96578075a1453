//! One outbox attempt at a time against the loopback CRM stand-in: signatures checked by the
//! receiver, failures retried under the same webhook-id, permanent failures and the attempt
//! budget respected. No test waits on the wall clock: a `RetryAt` is checked against the pure
//! schedule, and the "worker" here simply calls again.

mod support;

use std::time::Duration;

use natter_crm::wire::{BotMessage, ChatEvent, EndSession};
use natter_crm::{new_webhook_id, CrmClient, Job, Outcome, RetryPolicy};
use support::{crm_for, standin};

fn policy(max_attempts: u32) -> RetryPolicy {
    RetryPolicy {
        max_attempts,
        ..RetryPolicy::default()
    }
}

#[tokio::test]
async fn retries_keep_the_id_until_delivered() {
    let s = standin(|c| c.fail_first = 2).await;
    let crm = crm_for(&s, 5_000);
    let client = CrmClient::with_policy(policy(5)).unwrap();
    let event = crm.webhook(ChatEvent::SendMessage(BotMessage::text(
        "conv-1", "m1", "Hello",
    )));
    let mut job = Job {
        id: new_webhook_id(),
        body: event.to_body(),
        attempt: 1,
    };

    let mut outcomes = Vec::new();
    loop {
        let o = client.deliver(&crm, &job).await;
        let done = !matches!(o, Outcome::RetryAt { .. });
        if let Outcome::RetryAt { after, cause, .. } = &o {
            assert!(
                *after >= client.retry_policy().backoff(job.attempt, 0.0),
                "{after:?}"
            );
            assert!(
                *after <= client.retry_policy().backoff(job.attempt, 1.0),
                "{after:?}"
            );
            assert!(cause.starts_with("CRM answered 503"), "{cause}");
        }
        outcomes.push(o);
        if done || job.attempt > 10 {
            break;
        }
        job.attempt += 1;
    }
    assert_eq!(outcomes.len(), 3, "{outcomes:?}");
    assert_eq!(outcomes[2], Outcome::Delivered { status: 200 });

    let got = s.received();
    assert_eq!(got.len(), 3);
    for (i, r) in got.iter().enumerate() {
        assert_eq!(r.id, job.id, "same webhook-id on every try");
        assert!(r.signature_ok);
        assert_eq!(r.try_number, i as u32 + 1);
        assert_eq!(
            r.body.as_ref().unwrap(),
            &serde_json::to_value(&event).unwrap()
        );
    }
    assert_eq!(
        got.iter().map(|r| r.status).collect::<Vec<_>>(),
        [503, 503, 200]
    );
}

#[tokio::test]
async fn events_of_a_conversation_arrive_in_order() {
    // The worker's contract: a conversation's next job starts only when the one before ended.
    let s = standin(|c| c.fail_first = 1).await;
    let crm = crm_for(&s, 5_000);
    let client = CrmClient::new().unwrap();
    let texts = ["first", "second", "third"];
    for (n, t) in texts.iter().enumerate() {
        let body = crm
            .webhook(ChatEvent::SendMessage(BotMessage::text(
                "conv-2",
                format!("m{n}"),
                *t,
            )))
            .to_body();
        let mut job = Job {
            id: new_webhook_id(),
            body,
            attempt: 1,
        };
        while let Outcome::RetryAt { .. } = client.deliver(&crm, &job).await {
            job.attempt += 1;
        }
    }
    let delivered: Vec<String> = s
        .received()
        .iter()
        .filter(|r| r.status == 200)
        .map(|r| {
            r.body.as_ref().unwrap()["data"]["text"]
                .as_str()
                .unwrap()
                .to_string()
        })
        .collect();
    assert_eq!(delivered, texts);
    assert_eq!(s.count(), 6, "each event failed once, then arrived");
}

#[tokio::test]
async fn a_wrong_secret_is_a_permanent_failure() {
    let s = standin(|c| c.secret = natter_crm::SigningSecret::generate()).await;
    let crm = crm_for(&s, 5_000);
    let body = crm
        .webhook(ChatEvent::WidgetEndSession(EndSession {
            platform_conversation_id: "c".into(),
            conversation_id: None,
        }))
        .to_body();
    let o = CrmClient::new()
        .unwrap()
        .deliver(
            &crm,
            &Job {
                id: new_webhook_id(),
                body,
                attempt: 1,
            },
        )
        .await;
    assert_eq!(
        o,
        Outcome::Failed {
            cause: "CRM answered 401: bad signature".into()
        }
    );
    assert!(!s.received()[0].signature_ok);
}

#[tokio::test]
async fn the_budget_ends_retries() {
    let s = standin(|c| c.fail_first = 10).await;
    let crm = crm_for(&s, 5_000);
    let client = CrmClient::with_policy(policy(2)).unwrap();
    let body = crm
        .webhook(ChatEvent::SendMessage(BotMessage::text("c", "m", "x")))
        .to_body();
    let mut job = Job {
        id: new_webhook_id(),
        body,
        attempt: 1,
    };
    assert!(matches!(
        client.deliver(&crm, &job).await,
        Outcome::RetryAt { .. }
    ));
    job.attempt = 2;
    match client.deliver(&crm, &job).await {
        Outcome::Failed { cause } => assert_eq!(
            cause,
            "gave up after 2 attempts; last: CRM answered 503: try later"
        ),
        other => panic!("{other:?}"),
    }
}

#[tokio::test]
async fn retry_after_is_honoured() {
    let s = standin(|c| {
        c.fail_first = 1;
        c.retry_after = Some("120".into());
    })
    .await;
    let crm = crm_for(&s, 5_000);
    let body = crm
        .webhook(ChatEvent::SendMessage(BotMessage::text("c", "m", "x")))
        .to_body();
    match CrmClient::new()
        .unwrap()
        .deliver(
            &crm,
            &Job {
                id: new_webhook_id(),
                body,
                attempt: 1,
            },
        )
        .await
    {
        Outcome::RetryAt { after, .. } => assert_eq!(after, Duration::from_secs(120)),
        other => panic!("{other:?}"),
    }
}

#[tokio::test]
async fn timeouts_and_refused_connections_are_retried() {
    let slow = standin(|c| c.delay = Duration::from_secs(30)).await;
    let crm = crm_for(&slow, 200);
    let client = CrmClient::new().unwrap();
    let body = crm
        .webhook(ChatEvent::SendMessage(BotMessage::text("c", "m", "x")))
        .to_body();
    let job = Job {
        id: new_webhook_id(),
        body,
        attempt: 1,
    };
    match client.deliver(&crm, &job).await {
        Outcome::RetryAt { cause, .. } => assert!(cause.starts_with("timed out"), "{cause}"),
        other => panic!("{other:?}"),
    }

    // A port nobody listens on: bind, note it, close it.
    let l = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = l.local_addr().unwrap();
    drop(l);
    let mut closed = crm.clone();
    closed.chat_webhook_url = Some(format!("http://{addr}/converse-webhook").parse().unwrap());
    match client.deliver(&closed, &job).await {
        Outcome::RetryAt { cause, .. } => {
            assert!(cause.starts_with("connection failed"), "{cause}")
        }
        other => panic!("{other:?}"),
    }

    let mut none = crm.clone();
    none.chat_webhook_url = None;
    assert_eq!(
        client.deliver(&none, &job).await,
        Outcome::Failed {
            cause: "bot `BOT_ID` has no crm.chat_webhook_url".into()
        }
    );
}

#[tokio::test]
async fn other_4xx_and_redirects_fail_for_good_without_following() {
    let client = CrmClient::new().unwrap();
    for (status, want) in [
        (404, "CRM answered 404"),
        (422, "CRM answered 422"),
        (
            307,
            "CRM answered 307 (a redirect); configure the final webhook URL",
        ),
    ] {
        let s = standin(|c| c.chat_status = Some(status)).await;
        let crm = crm_for(&s, 5_000);
        let body = crm
            .webhook(ChatEvent::SendMessage(BotMessage::text("c", "m", "x")))
            .to_body();
        let o = client
            .deliver(
                &crm,
                &Job {
                    id: new_webhook_id(),
                    body,
                    attempt: 1,
                },
            )
            .await;
        assert_eq!(o, Outcome::Failed { cause: want.into() });
        assert_eq!(
            s.count(),
            1,
            "{status}: exactly one request, no redirect followed"
        );
    }
}
