//! Each workflow step kind and trigger matching, through the API.

use serde_json::json;

use crate::common::*;

#[tokio::test]
async fn triggers_are_case_and_accent_insensitive_and_fallback_otherwise() {
    let s = TestServer::start().await;
    let t = s.create_thread("t").await;
    assert_eq!(
        replies(&s.turn(&t, "I'd love a CREME BRULEE please").await),
        ["one two three four five six seven eight"]
    );
    assert_eq!(
        replies(&s.turn(&t, "Hèllo, Wörld!").await),
        ["one two three four five six seven eight"]
    );
    // Keywords match whole words only.
    assert_eq!(
        replies(&s.turn(&t, "helloworld").await),
        ["I did not get that."]
    );
    // Regex: case-insensitive.
    assert_eq!(
        replies(&s.turn(&t, "my order STATUS please").await),
        ["Order number?"]
    );
    s.stop().await;
}

#[tokio::test]
async fn ask_validates_reasks_and_gives_up() {
    let s = TestServer::start().await;
    let t = s.create_thread("t").await;
    assert_eq!(
        replies(&s.turn(&t, "order status").await),
        ["Order number?"]
    );
    assert_eq!(
        replies(&s.turn(&t, "no idea").await),
        ["Four digits please.", "Order number?"]
    );
    assert_eq!(replies(&s.turn(&t, "still no").await), ["Giving up."]);
    // The workflow ended: a number now is not an answer.
    assert_eq!(replies(&s.turn(&t, "5555").await), ["I did not get that."]);
    s.stop().await;
}

#[tokio::test]
async fn ask_then_branch_with_templates() {
    let s = TestServer::start().await;
    for (num, expected) in [
        ("5555", "Order 5555 ok, mail to a@b.co."),
        ("9000", "Order 9000 is late."),
        ("4321", "Order 4321 is famous."),
    ] {
        let t = s.create_thread("t").await;
        s.turn(&t, "order status").await;
        assert_eq!(
            replies(&s.turn(&t, &format!("it is #{num} I think")).await),
            [format!("Email for {num}?")]
        );
        assert_eq!(
            replies(&s.turn(&t, "not an email").await),
            ["Bad email.", &format!("Email for {num}?")]
        );
        assert_eq!(replies(&s.turn(&t, "a@b.co").await), [expected]);
    }
    s.stop().await;
}

#[tokio::test]
async fn buttons_with_save_and_branch_default() {
    let s = TestServer::start().await;
    let t = s.create_thread("t").await;
    let evs = s.turn(&t, "colors").await;
    let msg = &evs
        .iter()
        .find(|e| e["type"] == "message.completed")
        .unwrap()["message"];
    assert_eq!(msg["content"][1]["response_type"], "option");
    assert_eq!(
        msg["content"][1]["options"],
        json!([{"label": "Red", "value": "red"}, {"label": "Blue", "value": "blue"}])
    );
    assert_eq!(
        replies(&s.turn(&t, "green").await),
        ["Pick a button.", "Pick one"]
    );
    assert_eq!(replies(&s.turn(&t, "BLUE").await), ["Blue it is."]);
    s.turn(&t, "colors").await;
    assert_eq!(replies(&s.turn(&t, "Red").await), ["Red it is."]);
    s.stop().await;
}

#[tokio::test]
async fn ask_with_choices_shows_buttons() {
    let s = TestServer::start().await;
    let t = s.create_thread("t").await;
    let evs = s.turn(&t, "size").await;
    let msg = &evs
        .iter()
        .find(|e| e["type"] == "message.completed")
        .unwrap()["message"];
    assert_eq!(msg["content"][1]["options"][1]["value"], "Large");
    assert_eq!(replies(&s.turn(&t, "large").await), ["Size Large."]);
    s.stop().await;
}

#[tokio::test]
async fn carousel_and_user_defined() {
    let s = TestServer::start().await;
    let t = s.create_thread("t").await;
    let evs = s.turn(&t, "cards").await;
    let msg = &evs
        .iter()
        .find(|e| e["type"] == "message.completed")
        .unwrap()["message"];
    assert_eq!(msg["content"][0]["text"], "Look:");
    assert_eq!(msg["content"][1]["response_type"], "carousel");
    assert_eq!(
        msg["content"][1]["cards"],
        json!([
            {"title": "A", "description": "first", "image_url": "https://x/a.png", "buttons": [{"label": "Pick A", "value": "a"}]},
            {"title": "B", "buttons": []}
        ])
    );
    let evs = s.turn(&t, "custom").await;
    let msg = &evs
        .iter()
        .find(|e| e["type"] == "message.completed")
        .unwrap()["message"];
    // One item, its text in it (not a text item and then the payload)
    assert_eq!(
        msg["content"],
        json!([{"id": "c0", "response_type": "user_defined", "text": "A map:", "user_defined": {"kind": "map", "lat": 1.5}}])
    );
    s.stop().await;
}

#[tokio::test]
async fn handoff_stops_the_bot_and_interrupts_a_pending_question() {
    let s = TestServer::start().await;
    let t = s.create_thread("t").await;
    s.turn(&t, "order status").await;
    let evs = s.turn(&t, "I want a HUMAN").await;
    assert_eq!(replies(&evs), ["Connecting you."]);
    let ho: Vec<_> = evs
        .iter()
        .filter(|e| e["type"] == "thread.handed_off")
        .collect();
    assert_eq!(ho.len(), 1);
    assert_eq!(ho[0]["reason"], "asked");
    assert_eq!(s.history(&t).await["status"], "handed_off");
    // The bot no longer answers: the message is stored, no run.
    let (st, body) = s.send(&t, "after", "hello world").await;
    assert_eq!(st, 202);
    assert!(body["runId"].is_null(), "{body}");
    let evs = s.turn(&t, "human").await;
    assert_eq!(
        types(&evs),
        ["message.created"],
        "no second handoff, no run"
    );
    s.stop().await;
}

#[tokio::test]
async fn close_step_closes_the_thread() {
    let s = TestServer::start().await;
    let t = s.create_thread("t").await;
    let evs = s.turn(&t, "bye").await;
    assert_eq!(replies(&evs), ["Bye!"]);
    let closed: Vec<_> = evs
        .iter()
        .filter(|e| e["type"] == "thread.closed")
        .collect();
    assert_eq!(closed.len(), 1);
    assert_eq!(closed[0]["by"], "bot");
    assert_eq!(s.send(&t, "x", "hello").await.0, 409);
    s.stop().await;
}

#[tokio::test]
async fn a_goto_loop_fails_the_run_without_leaking_details() {
    let s = TestServer::start().await;
    let t = s.create_thread("t").await;
    let evs = s.turn(&t, "loop forever").await;
    let last = evs.last().unwrap();
    assert_eq!(last["type"], "run.failed");
    assert_eq!(last["error"]["code"], "agent_error");
    assert!(
        !last.to_string().contains("goto"),
        "internal details stay in the log: {last}"
    );
    // The conversation goes on.
    assert_eq!(replies(&s.turn(&t, "hello world").await).len(), 1);
    s.stop().await;
}
