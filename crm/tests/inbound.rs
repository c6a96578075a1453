//! The Chat API requests a CRM sends (template `ChatApi.dto.ts`): every event parses, and bad
//! payloads are refused with the field path and the cause the server returns as a 400.

use natter_crm::inbound::*;
use natter_crm::{parse_agent_message, parse_converse_chat};

fn chat(json: &str) -> Result<ConverseChat, InboundError> {
    parse_converse_chat(json.as_bytes())
}

fn agent(json: &str) -> Result<AgentMessage, InboundError> {
    parse_agent_message(json.as_bytes())
}

fn err(r: Result<impl std::fmt::Debug, InboundError>) -> String {
    r.unwrap_err().to_string()
}

#[test]
fn converse_events() {
    let c = chat(r#"{"platformConversationId": "p1", "eventType": "startSession",
        "metaData": [{"key": "email", "value": "a@b.c"}, {"key": "token", "value": "s3cret", "sanitize": true}]}"#)
    .unwrap();
    assert_eq!(c.platform_conversation_id, "p1");
    let ChatApiEvent::StartSession { metadata } = &c.event else {
        panic!("{c:?}")
    };
    assert_eq!(metadata[0].key, "email");
    assert_eq!(metadata[0].value.expose(), "a@b.c");
    assert!(metadata[1].value.is_sanitized());
    assert_eq!(metadata[1].value.expose(), "s3cret");
    assert!(!format!("{c:?}").contains("s3cret"));

    let c =
        chat(r#"{"platformConversationId": "p1", "eventType": "message", "text": "YES"}"#).unwrap();
    assert_eq!(
        c.event,
        ChatApiEvent::Message {
            input: UserInput::Text("YES".into()),
            metadata: vec![]
        }
    );
    let c = chat(
        r#"{"platformConversationId": "p1", "eventType": "message", "cardIndex": 1, "text": null}"#,
    )
    .unwrap();
    assert_eq!(
        c.event,
        ChatApiEvent::Message {
            input: UserInput::CardIndex(1),
            metadata: vec![]
        }
    );
    let c = chat(r#"{"platformConversationId": "p1", "eventType": "endSession"}"#).unwrap();
    assert_eq!(c.event, ChatApiEvent::EndSession);
    let c = chat(r#"{"platformConversationId": "p1", "eventType": "metadata", "metaData": [{"key": "k", "value": ""}], "extra": 1}"#)
        .unwrap();
    let ChatApiEvent::Metadata { metadata } = c.event else {
        panic!()
    };
    assert_eq!(metadata[0].value.expose(), "");
}

#[test]
fn converse_refusals_name_the_field() {
    let cases = [
        (
            "",
            "invalid JSON: EOF while parsing a value at line 1 column 0",
        ),
        ("[1]", "body must be a JSON object, got an array"),
        (
            r#"{"eventType": "message", "text": "hi"}"#,
            "platformConversationId: is required",
        ),
        (
            r#"{"platformConversationId": "", "eventType": "message", "text": "hi"}"#,
            "platformConversationId: must not be empty",
        ),
        (
            r#"{"platformConversationId": 7, "eventType": "message", "text": "hi"}"#,
            "platformConversationId: expected a string, got a number",
        ),
        (
            r#"{"platformConversationId": "p"}"#,
            "eventType: is required",
        ),
        (
            r#"{"platformConversationId": "p", "eventType": "close"}"#,
            "eventType: `close` is not one of startSession, message, endSession, metadata",
        ),
        (
            r#"{"platformConversationId": "p", "eventType": "message"}"#,
            "text: a message needs `text` or `cardIndex`",
        ),
        (
            r#"{"platformConversationId": "p", "eventType": "message", "text": ""}"#,
            "text: must not be empty",
        ),
        (
            r#"{"platformConversationId": "p", "eventType": "message", "text": "a", "cardIndex": 0}"#,
            "cardIndex: give either `text` or `cardIndex`, not both",
        ),
        (
            r#"{"platformConversationId": "p", "eventType": "message", "cardIndex": -1}"#,
            "cardIndex: expected a card index (0 or more), got -1",
        ),
        (
            r#"{"platformConversationId": "p", "eventType": "message", "cardIndex": 1.5}"#,
            "cardIndex: expected a card index (0 or more), got 1.5",
        ),
        (
            r#"{"platformConversationId": "p", "eventType": "message", "cardIndex": "1"}"#,
            "cardIndex: expected a number, got a string",
        ),
        (
            r#"{"platformConversationId": "p", "eventType": "startSession", "text": "hi"}"#,
            "text: only allowed when eventType is `message`",
        ),
        (
            r#"{"platformConversationId": "p", "eventType": "endSession", "metaData": []}"#,
            "metaData: not allowed when eventType is `endSession`",
        ),
        (
            r#"{"platformConversationId": "p", "eventType": "metadata"}"#,
            "metaData: a non-empty array is required when eventType is `metadata`",
        ),
        (
            r#"{"platformConversationId": "p", "eventType": "metadata", "metaData": {"k": "v"}}"#,
            "metaData: expected an array, got an object",
        ),
        (
            r#"{"platformConversationId": "p", "eventType": "metadata", "metaData": ["k"]}"#,
            "metaData[0]: value must be a JSON object, got a string",
        ),
        (
            r#"{"platformConversationId": "p", "eventType": "metadata", "metaData": [{"key": "a", "value": "1"}, {"key": "b", "value": 2}]}"#,
            "metaData[1].value: expected a string, got a number",
        ),
        (
            r#"{"platformConversationId": "p", "eventType": "metadata", "metaData": [{"value": "1"}]}"#,
            "metaData[0].key: is required",
        ),
        (
            r#"{"platformConversationId": "p", "eventType": "metadata", "metaData": [{"key": "a", "value": "1", "sanitize": "yes"}]}"#,
            "metaData[0].sanitize: expected a boolean, got a string",
        ),
    ];
    for (body, want) in cases {
        assert_eq!(err(chat(body)), want, "{body}");
    }
    let e = chat(r#"{"platformConversationId": "p", "eventType": "metadata", "metaData": [{"key": "a", "value": 2}]}"#).unwrap_err();
    assert_eq!(
        (e.path.as_str(), e.cause.as_str()),
        ("metaData[0].value", "expected a string, got a number")
    );
    assert_eq!(chat("{").unwrap_err().kind, InboundErrorKind::Json);
    assert_eq!(chat("{}").unwrap_err().kind, InboundErrorKind::Field);
    let huge = format!(
        r#"{{"platformConversationId": "p", "eventType": "message", "text": "{}"}}"#,
        "x".repeat(300_000)
    );
    assert_eq!(err(chat(&huge)), "body is larger than 262144 bytes");
    assert_eq!(chat(&huge).unwrap_err().kind, InboundErrorKind::TooLarge);
}

#[test]
fn agent_events() {
    let a =
        agent(r#"{"eventType": "message", "platformConversationId": "p", "text": "Hi, Ana here"}"#)
            .unwrap();
    assert_eq!(
        a,
        AgentMessage {
            platform_conversation_id: "p".into(),
            event: AgentEvent::Message {
                text: "Hi, Ana here".into(),
                attachments: vec![],
            }
        }
    );
    let a = agent(r#"{"eventType": "escalationSuccess", "platformConversationId": "p", "agent": "Ana", "agentAvatar": "https://x/a.png"}"#).unwrap();
    assert_eq!(
        a.event,
        AgentEvent::EscalationSuccess {
            agent: Some("Ana".into()),
            agent_avatar: Some("https://x/a.png".into())
        }
    );
    let a = agent(
        r#"{"eventType": "escalationSuccess", "platformConversationId": "p", "agentAvatar": ""}"#,
    )
    .unwrap();
    assert_eq!(
        a.event,
        AgentEvent::EscalationSuccess {
            agent: None,
            agent_avatar: None
        }
    );
    let a = agent(r#"{"eventType": "escalationFailed", "platformConversationId": "p"}"#).unwrap();
    assert_eq!(a.event, AgentEvent::EscalationFailed);
    let a = agent(r#"{"eventType": "escalationQueueUpdate", "platformConversationId": "p", "queuePosition": "3", "waitingTime": "5 minutes"}"#).unwrap();
    assert_eq!(
        a.event,
        AgentEvent::EscalationQueueUpdate {
            queue_position: Some("3".into()),
            waiting_time: Some("5 minutes".into())
        }
    );
    let a = agent(r#"{"eventType": "escalationQueueUpdate", "platformConversationId": "p", "queuePosition": 2}"#).unwrap();
    assert_eq!(
        a.event,
        AgentEvent::EscalationQueueUpdate {
            queue_position: Some("2".into()),
            waiting_time: None
        }
    );
    let a = agent(r#"{"eventType": "agentDisconnect", "platformConversationId": "p"}"#).unwrap();
    assert_eq!(a.event, AgentEvent::AgentDisconnect);
}

#[test]
fn agent_refusals_name_the_field() {
    let cases = [
        (r#"{"platformConversationId": "p", "text": "x"}"#, "eventType: is required"),
        (r#"{"eventType": "typing", "platformConversationId": "p"}"#, "eventType: `typing` is not one of message, escalationSuccess, escalationFailed, escalationQueueUpdate, agentDisconnect"),
        (r#"{"eventType": "message", "text": "x"}"#, "platformConversationId: is required"),
        (r#"{"eventType": "message", "platformConversationId": "p"}"#, "text: is required"),
        (r#"{"eventType": "message", "platformConversationId": "p", "text": ""}"#, "text: must not be empty"),
        (r#"{"eventType": "message", "platformConversationId": "p", "text": ["x"]}"#, "text: expected a string, got an array"),
        (r#"{"eventType": "escalationSuccess", "platformConversationId": "p", "agent": ""}"#, "agent: must not be empty"),
        (r#"{"eventType": "escalationQueueUpdate", "platformConversationId": "p", "waitingTime": true}"#, "waitingTime: expected a string, got a boolean"),
        ("{\"eventType\": \"message\",", "invalid JSON: EOF while parsing a value at line 1 column 24"),
    ];
    for (body, want) in cases {
        assert_eq!(err(agent(body)), want, "{body}");
    }
}

#[test]
fn action_answers() {
    assert!(parse_action_response(b"").unwrap().is_empty());
    assert!(parse_action_response(b" {} ").unwrap().is_empty());
    let r = parse_action_response(br#"{"results": [{"key": "n", "value": 2.5}, {"key": "ok", "value": false, "sanitize": "true"}]}"#).unwrap();
    assert_eq!(r[0].value.expose().to_json(), serde_json::json!(2.5));
    assert!(r[1].sanitize());
    let cases: [(&[u8], &str); 5] = [
        (
            br#"{"results": {}}"#,
            "results: expected an array, got an object",
        ),
        (
            br#"{"results": [{"value": "1"}]}"#,
            "results[0].key: is required",
        ),
        (
            br#"{"results": [{"key": "a", "value": "1"}, {"key": "b", "value": {"x": 1}}]}"#,
            "results[1].value: expected a string, number or boolean, got an object",
        ),
        (
            br#"{"results": [{"key": "a"}]}"#,
            "results[0].value: is required",
        ),
        (
            br#"{"results": [{"key": "a", "value": 1, "sanitize": 1}]}"#,
            "results[0].sanitize: expected a boolean, got a number",
        ),
    ];
    for (body, want) in cases {
        assert_eq!(parse_action_response(body).unwrap_err().to_string(), want);
    }
}
