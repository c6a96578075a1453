//! The actions webhook against the stand-in: the request as posted, `results` parsed,
//! sanitized values wrapped, failures typed.

mod support;

use std::time::Duration;

use natter_crm::wire::{ActionData, ActionRequest, ResultValue};
use natter_crm::{ActionCallError, CrmClient};
use support::{crm_for, standin};

fn request() -> ActionRequest {
    ActionRequest::new(
        "BOT_ID",
        "t-1",
        "c-1",
        "updateCustomerBalance",
        vec![ActionData {
            save_as: Some("customerId".into()),
            ..ActionData::new("userId", "123345")
        }],
    )
}

#[tokio::test]
async fn posts_and_reads_results() {
    let s = standin(|c| {
        c.action_answer = r#"{"results": [{"key": "userId", "value": "123345"},
            {"key": "newBalance", "value": "210", "sanitize": true}, {"key": "vip", "value": true}]}"#
            .into()
    })
    .await;
    let client = CrmClient::new().unwrap();
    let results = client
        .call_action(&crm_for(&s, 2_000), &request(), Duration::from_secs(2))
        .await
        .unwrap();
    assert_eq!(results.len(), 3);
    assert_eq!(
        results[1].value.expose(),
        &ResultValue::String("210".into())
    );
    assert!(results[1].sanitize());
    assert_eq!(results[2].value.expose(), &ResultValue::Bool(true));
    assert!(!format!("{results:?}").contains("210"));

    let r = &s.received()[0];
    assert!(r.signature_ok);
    assert_eq!(r.path, "/action-webhook");
    assert_eq!(
        r.body.as_ref().unwrap(),
        &serde_json::json!({"botId": "BOT_ID", "channel": "chat", "conversationId": "t-1", "platformConversationId": "c-1",
            "name": "updateCustomerBalance", "data": [{"key": "userId", "value": ["123345"], "saveAs": "customerId"}]})
    );
}

#[tokio::test]
async fn failures_are_typed() {
    let client = CrmClient::new().unwrap();
    let down = standin(|c| {
        c.action_status = 500;
        c.action_answer = "boom".into();
    })
    .await;
    match client
        .call_action(&crm_for(&down, 2_000), &request(), Duration::from_secs(2))
        .await
    {
        Err(ActionCallError::Status { status: 500, body }) => assert_eq!(body, "boom"),
        other => panic!("{other:?}"),
    }
    let bad =
        standin(|c| c.action_answer = r#"{"results": [{"key": "a", "value": null}]}"#.into()).await;
    match client
        .call_action(&crm_for(&bad, 2_000), &request(), Duration::from_secs(2))
        .await
    {
        Err(e @ ActionCallError::BadAnswer(_)) => {
            assert_eq!(
                e.to_string(),
                "CRM action answer is invalid: results[0].value: is required"
            )
        }
        other => panic!("{other:?}"),
    }
    let slow = standin(|c| c.delay = Duration::from_secs(30)).await;
    assert!(matches!(
        client
            .call_action(
                &crm_for(&slow, 2_000),
                &request(),
                Duration::from_millis(200)
            )
            .await,
        Err(ActionCallError::Timeout(_))
    ));
    let empty = standin(|c| c.action_answer = String::new()).await;
    assert!(client
        .call_action(&crm_for(&empty, 2_000), &request(), Duration::from_secs(2))
        .await
        .unwrap()
        .is_empty());
}
