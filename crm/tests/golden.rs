//! Golden JSON for every outbound payload, checked two ways against the seed's examples:
//! byte-exact against `examples/natter/<name>.json`, and structurally — every field of
//! `examples/seed/<name>.json` present with the same value and nesting, and nothing added but
//! the fields the template's DTOs require. `UPDATE_GOLDEN=1` rewrites the natter files (then
//! read the diff: the structural check still has to pass).

use std::path::PathBuf;

use natter_crm::inbound::parse_action_response;
use natter_crm::wire::*;
use serde_json::Value;

const PCID: &str = "13427e90-f76a-47c2-a26d-ea0b4f1836c5";

fn dir() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("tests/examples")
}

/// Paths (`data.buttons[0].text`) present in `ours` and absent from `seed`; panics on any seed
/// field that is missing or different.
fn compare(seed: &Value, ours: &Value, path: &str, extra: &mut Vec<String>) {
    match (seed, ours) {
        (Value::Object(s), Value::Object(o)) => {
            for (k, sv) in s {
                let p = if path.is_empty() {
                    k.clone()
                } else {
                    format!("{path}.{k}")
                };
                let ov = o
                    .get(k)
                    .unwrap_or_else(|| panic!("seed field `{p}` missing from ours"));
                compare(sv, ov, &p, extra);
            }
            for k in o.keys().filter(|k| !s.contains_key(*k)) {
                extra.push(if path.is_empty() {
                    k.clone()
                } else {
                    format!("{path}.{k}")
                });
            }
        }
        (Value::Array(s), Value::Array(o)) => {
            assert_eq!(s.len(), o.len(), "`{path}` length");
            for (i, (sv, ov)) in s.iter().zip(o).enumerate() {
                compare(sv, ov, &format!("{path}[{i}]"), extra);
            }
        }
        _ => assert_eq!(seed, ours, "`{path}` differs"),
    }
}

fn check(name: &str, ours: &impl serde::Serialize, additions: &[&str]) {
    let text = serde_json::to_string_pretty(ours).unwrap() + "\n";
    let golden = dir().join("natter").join(format!("{name}.json"));
    if std::env::var_os("UPDATE_GOLDEN").is_some() {
        // Atomic, so a test reading the file meanwhile never sees it half written.
        let tmp = golden.with_extension("json.tmp");
        std::fs::write(&tmp, &text).unwrap();
        std::fs::rename(&tmp, &golden).unwrap();
    }
    let want =
        std::fs::read_to_string(&golden).unwrap_or_else(|e| panic!("{}: {e}", golden.display()));
    assert_eq!(
        text,
        want,
        "{name}: output differs from {}",
        golden.display()
    );

    let seed: Value = serde_json::from_str(
        &std::fs::read_to_string(dir().join("seed").join(format!("{name}.json"))).unwrap(),
    )
    .unwrap();
    let ours: Value = serde_json::from_str(&text).unwrap();
    let mut extra = Vec::new();
    compare(&seed, &ours, "", &mut extra);
    extra.sort();
    let mut additions: Vec<String> = additions.iter().map(|s| s.to_string()).collect();
    additions.sort();
    assert_eq!(extra, additions, "{name}: fields beyond the seed's example");
}

fn intent() -> Vec<PredictedIntent> {
    vec![PredictedIntent {
        value: "1234".into(),
        name: "intent name".into(),
        confidence: 1.0,
    }]
}

const MESSAGE_ADDITIONS: &[&str] = &["channel", "data.confidence", "data.messageId"];

#[test]
fn send_message_text() {
    let m = BotMessage::text(PCID, "msg-1", "Hello, this is a bot text message")
        .with_conversation_id("CONVERSATION_ID")
        .with_reply_id("REPLY_ID")
        .with_predicted_intents(intent());
    check(
        "sendMessage-text",
        &ChatWebhook::new("BOT_ID", ChatEvent::SendMessage(m)),
        MESSAGE_ADDITIONS,
    );
}

#[test]
fn send_message_buttons() {
    let m = BotMessage::text(PCID, "msg-2", "its a bot text message with 2 buttons")
        .with_buttons(vec![Button::new("YES"), Button::new("NO")])
        .with_conversation_id("CONVERSATION_ID")
        .with_reply_id("REPLY_ID")
        .with_predicted_intents(intent());
    check(
        "sendMessage-buttons",
        &ChatWebhook::new("BOT_ID", ChatEvent::SendMessage(m)),
        MESSAGE_ADDITIONS,
    );
}

#[test]
fn send_message_carousel() {
    let card = |n: u32| CarouselCard {
        title: format!("card {n}"),
        description: Some(format!("card {n} description")),
        image_url: Some("URL".into()),
        buttons: vec![Button::new("button 1"), Button::new("button 2")],
    };
    let m = BotMessage::carousel(PCID, "msg-3", "", vec![card(1), card(2)])
        .with_conversation_id("CONVERSATION_ID")
        .with_reply_id("REPLY_ID")
        .with_predicted_intents(intent());
    check(
        "sendMessage-carousel",
        &ChatWebhook::new("BOT_ID", ChatEvent::SendMessage(m)),
        MESSAGE_ADDITIONS,
    );
}

#[test]
fn escalate_and_widget_escalate() {
    let e = Escalate {
        escalate_to: Some("string".into()),
        ..Escalate::new(PCID)
    };
    check(
        "escalate",
        &ChatWebhook::new("BOT_ID", ChatEvent::Escalate(e.clone())),
        &["channel"],
    );
    check(
        "widgetEscalate",
        &ChatWebhook::new("BOT_ID", ChatEvent::WidgetEscalate(e)),
        &["channel"],
    );
}

#[test]
fn is_team_online() {
    let q = TeamOnlineQuery {
        platform_conversation_id: PCID.into(),
        conversation_id: None,
        team_id: Some("string".into()),
    };
    check(
        "isTeamOnline",
        &ChatWebhook::new("BOT_ID", ChatEvent::IsTeamOnline(q)),
        &["channel", "data.platformConversationId"],
    );
    let a: TeamOnlineAnswer = serde_json::from_str(r#"{"isOnline": true}"#).unwrap();
    assert!(a.is_online);
    assert_eq!(
        serde_json::to_string(&TeamOnlineAnswer { is_online: false }).unwrap(),
        r#"{"isOnline":false}"#
    );
}

#[test]
fn widget_message_and_end_session() {
    let mut m = WidgetMessage::new(
        PCID,
        "Hello, this is a customer message in an escalated conversation",
    );
    m.conversation_id = Some("CONVERSATION_ID".into());
    check(
        "widgetMessage",
        &ChatWebhook::new("BOT_ID", ChatEvent::WidgetMessage(m)),
        &["channel"],
    );
    let e = EndSession {
        platform_conversation_id: PCID.into(),
        conversation_id: None,
    };
    check(
        "widgetEndSession",
        &ChatWebhook::new("BOT_ID", ChatEvent::WidgetEndSession(e)),
        &["channel"],
    );
}

#[test]
fn actions_request_from_natter_actions_data() {
    // What natter-actions' `Action::crm_data()` returns for the seed's example.
    let data = ActionData::from_crm_data(vec![
        serde_json::json!({"key": "userId", "value": ["123345"], "saveAs": "customerId"}),
        serde_json::json!({"key": "balance", "value": ["100"]}),
    ])
    .unwrap();
    let r = ActionRequest::new(
        "BOT_ID",
        "CONVERSATION_ID",
        PCID,
        "updateCustomerBalance",
        data,
    );
    check("actions-request", &r, &["channel"]);
}

#[test]
fn actions_response_of_the_seed() {
    let body = std::fs::read(dir().join("seed/actions-response.json")).unwrap();
    let results = parse_action_response(&body).unwrap();
    assert_eq!(results.len(), 2);
    assert_eq!(results[0].key, "userId");
    assert_eq!(
        results[0].value.expose(),
        &ResultValue::String("123345".into())
    );
    assert!(!results[0].sanitize());
    assert_eq!(results[1].key, "newBalance");
    assert!(results[1].sanitize());
    assert_eq!(results[1].value.expose().to_string(), "210");
    // Every way a result reaches a log redacts the sanitized value.
    let logged = format!(
        "{results:?} {} {}",
        results[1].value,
        serde_json::to_string(&results).unwrap()
    );
    assert!(!logged.contains("210"), "{logged}");
    assert!(logged.contains("123345"));
}

#[test]
fn round_trip_through_the_standin_view() {
    // The stand-in (and a CRM) reads what Natter writes; the seed's examples parse too.
    for name in [
        "sendMessage-text",
        "sendMessage-carousel",
        "escalate",
        "isTeamOnline",
        "widgetMessage",
        "widgetEndSession",
    ] {
        for sub in ["seed", "natter"] {
            let t = std::fs::read_to_string(dir().join(sub).join(format!("{name}.json"))).unwrap();
            let w: ChatWebhook =
                serde_json::from_str(&t).unwrap_or_else(|e| panic!("{sub}/{name}: {e}"));
            assert_eq!(w.channel, "chat");
        }
    }
}
