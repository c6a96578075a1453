//! Resume: after a cut at any point of a streamed reply, reconnecting with `Last-Event-ID`
//! (or `?after=`) yields exactly the rest: no gap, no repeat. Also restart and shutdown.

use serde_json::Value;

use crate::common::*;

const PACED_BOT: &str = r#"
greeting = "Hi"
[stream]
chunk = "word"
delay_ms = 3
[[workflows]]
name = "long"
triggers = { keywords = ["go"] }
steps = [ { say = "alpha beta gamma delta epsilon zeta eta theta iota kappa" }, { say = "lambda mu nu" } ]
"#;

/// Reference: the full sequence of a turn, read after it completed.
async fn reference(s: &TestServer) -> Vec<(String, String)> {
    let t = s.create_thread("p").await;
    s.turn(&t, "go").await;
    normalize(
        s.all_events(&t)
            .await
            .into_iter()
            .map(|e| (e.id.unwrap(), e.data))
            .collect(),
    )
}

/// Ids and data differ per thread; keep seq + type + the text of deltas/messages.
fn normalize(evs: Vec<(String, String)>) -> Vec<(String, String)> {
    evs.into_iter()
        .map(|(id, data)| {
            let v: Value = serde_json::from_str(&data).unwrap();
            let text = v["delta"]["content"][0]["text"]
                .as_str()
                .or(v["message"]["content"][0]["text"].as_str())
                .unwrap_or("")
                .to_string();
            (id, format!("{}:{}", v["type"].as_str().unwrap(), text))
        })
        .collect()
}

#[tokio::test]
async fn cut_at_every_point_of_a_live_reply_then_resume_with_last_event_id() {
    let s = TestServer::start_with(&[("p", PACED_BOT)], |_| {}).await;
    let full = reference(&s).await;
    assert!(full.len() > 20, "a long streamed turn: {full:?}");
    for cut in 0..full.len() {
        let t = s.create_thread("p").await;
        let mut got: Vec<(String, String)> = Vec::new();
        // First connection: open before sending so the reply is live, read `cut` events, drop.
        let mut sse = s.events(&t, None).await;
        let (st, _) = s.send(&t, "k", "go").await;
        assert_eq!(st, 202);
        for _ in 0..cut {
            let e = sse.next().await.unwrap();
            got.push((e.id.unwrap(), e.data));
        }
        drop(sse);
        // Reconnect with the header the widget sends.
        let last = got
            .last()
            .map(|(id, _)| id.clone())
            .unwrap_or_else(|| "0".into());
        let r = s
            .client
            .get(s.url(&format!("/v1/threads/{t}/events")))
            .header("Last-Event-ID", &last)
            .send()
            .await
            .unwrap();
        let mut sse = SseReader::new(r);
        while got.len() < full.len() {
            let e = sse.next().await.unwrap();
            got.push((e.id.unwrap(), e.data));
        }
        assert_eq!(normalize(got), full, "cut after {cut} events");
    }
    s.stop().await;
}

#[tokio::test]
async fn after_query_from_every_seq_gives_the_exact_tail() {
    let s = TestServer::start_with(&[("p", PACED_BOT)], |_| {}).await;
    let t = s.create_thread("p").await;
    s.turn(&t, "go").await;
    let all = s.all_events(&t).await;
    for after in 0..=all.len() {
        let mut sse = s.events(&t, Some(after as u64)).await;
        for expected in &all[after..] {
            assert_eq!(&sse.next().await.unwrap(), expected, "after={after}");
        }
    }
    // Last-Event-ID wins over ?after= (it is what a reconnecting client knows best).
    let r = s
        .client
        .get(s.url(&format!("/v1/threads/{t}/events?after=0")))
        .header("Last-Event-ID", "3")
        .send()
        .await
        .unwrap();
    assert_eq!(
        SseReader::new(r).next().await.unwrap().id.as_deref(),
        Some("4")
    );
    // An empty Last-Event-ID is "no id yet": ?after= applies.
    let r = s
        .client
        .get(s.url(&format!("/v1/threads/{t}/events?after=5")))
        .header("Last-Event-ID", "")
        .send()
        .await
        .unwrap();
    assert_eq!(
        SseReader::new(r).next().await.unwrap().id.as_deref(),
        Some("6")
    );
    let bad = s
        .client
        .get(s.url(&format!("/v1/threads/{t}/events?after=-1")))
        .send()
        .await
        .unwrap();
    assert_eq!(error_code(bad).await, (400, "invalid_request".into()));
    s.stop().await;
}

#[tokio::test]
async fn restart_finds_everything() {
    let s = TestServer::start_with(&[("p", PACED_BOT)], |_| {}).await;
    let t = s.create_thread("p").await;
    s.turn(&t, "go").await;
    s.turn_with(&t, "again", "unknown words").await;
    let (_, first) = s.send(&t, "again", "unknown words").await;
    s.turn(&t, "go").await;
    let history = s.history(&t).await;
    let events = s.all_events(&t).await;
    let (data, bots) = (s.data.clone(), s.bots.clone());
    let tmp = s.stop().await;

    let s2 = TestServer::launch(test_config(&data, &bots)).await;
    assert_eq!(s2.history(&t).await, history);
    assert_eq!(s2.all_events(&t).await, events);
    // Idempotency survives the restart too.
    let (st, again) = s2.send(&t, "again", "unknown words").await;
    assert_eq!((st, again), (202, first));
    // And the log continues gap-free.
    let evs = s2.turn(&t, "go").await;
    assert_eq!(evs[0]["seq"].as_u64().unwrap(), events.len() as u64 + 1);
    s2.stop().await;
    drop(tmp);
}

#[tokio::test]
async fn shutdown_ends_open_streams() {
    let s = TestServer::start().await;
    let t = s.create_thread("t").await;
    let mut sse = s.events(&t, None).await;
    assert!(sse.next().await.is_some());
    let stopping = tokio::spawn(s.stop());
    assert!(
        sse.next().await.is_none(),
        "the stream ends instead of hanging"
    );
    stopping.await.unwrap();
}
