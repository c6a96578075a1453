//! In-process lanes: each conversation's events reach the stand-in in submission order, even
//! when every event fails once first, and lanes run side by side.

mod support;

use std::sync::{Arc, Mutex};
use std::time::Duration;

use natter_crm::wire::{BotMessage, ChatEvent};
use natter_crm::{new_webhook_id, CrmClient, Job, LaneError, Lanes, Outcome, RetryPolicy};
use support::{crm_for, standin};

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn order_per_conversation_with_retries() {
    let s = standin(|c| c.fail_first = 1).await;
    let crm = Arc::new(crm_for(&s, 5_000));
    let fast = RetryPolicy {
        base: Duration::from_millis(5),
        cap: Duration::from_millis(20),
        ..RetryPolicy::default()
    };
    let done: Arc<Mutex<Vec<(String, Outcome)>>> = Arc::default();
    let sink = done.clone();
    let lanes = Lanes::new(
        CrmClient::with_policy(fast).unwrap(),
        10,
        10,
        Arc::new(move |conv: &str, _job: &Job, o: &Outcome| {
            sink.lock().unwrap().push((conv.to_string(), o.clone()))
        }),
    );
    for n in 0..4 {
        for conv in ["a", "b"] {
            let body = crm
                .webhook(ChatEvent::SendMessage(BotMessage::text(
                    conv,
                    format!("{conv}{n}"),
                    format!("{conv}-{n}"),
                )))
                .to_body();
            lanes
                .submit(
                    conv,
                    crm.clone(),
                    Job {
                        id: new_webhook_id(),
                        body,
                        attempt: 1,
                    },
                )
                .unwrap();
        }
    }
    // 8 events, each failed once: 16 requests.
    assert_eq!(s.wait_for(16, Duration::from_secs(30)).await, 16);
    for conv in ["a", "b"] {
        let texts: Vec<String> = s
            .received()
            .iter()
            .filter(|r| r.status == 200)
            .map(|r| r.body.as_ref().unwrap()["data"].clone())
            .filter(|d| d["platformConversationId"] == conv)
            .map(|d| d["text"].as_str().unwrap().to_string())
            .collect();
        assert_eq!(
            texts,
            (0..4).map(|n| format!("{conv}-{n}")).collect::<Vec<_>>()
        );
    }
    // Outcomes are reported after the answer is read; give the last callbacks a moment.
    for _ in 0..100 {
        if done.lock().unwrap().len() == 8 {
            break;
        }
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    let done = done.lock().unwrap();
    assert_eq!(done.len(), 8);
    assert!(done
        .iter()
        .all(|(_, o)| *o == Outcome::Delivered { status: 200 }));
}

#[tokio::test]
async fn bounded() {
    let s = standin(|c| c.delay = Duration::from_secs(30)).await;
    let crm = Arc::new(crm_for(&s, 60_000));
    let lanes = Lanes::new(
        CrmClient::new().unwrap(),
        1,
        1,
        Arc::new(|_: &str, _: &Job, _: &Outcome| {}),
    );
    let job = || Job {
        id: new_webhook_id(),
        body: b"{}".to_vec(),
        attempt: 1,
    };
    lanes.submit("a", crm.clone(), job()).unwrap();
    // The first job may or may not have left the queue yet; one more fits at most.
    let second = lanes.submit("a", crm.clone(), job());
    let third = lanes.submit("a", crm.clone(), job());
    assert!(second.is_err() || third.is_err());
    assert_eq!(
        lanes.submit("b", crm.clone(), job()),
        Err(LaneError::TooManyLanes(1))
    );
    assert_eq!(lanes.active(), 1);
}
