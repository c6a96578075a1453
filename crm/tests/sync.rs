//! `escalate` and `isTeamOnline` against the stand-in: answers, refusals, timeouts.

mod support;

use std::time::Duration;

use natter_crm::wire::{Escalate, TeamOnlineQuery};
use natter_crm::{CrmClient, Escalation, SyncError};
use support::{crm_for, standin};

fn query() -> TeamOnlineQuery {
    TeamOnlineQuery {
        platform_conversation_id: "c1".into(),
        conversation_id: None,
        team_id: Some("sales".into()),
    }
}

#[tokio::test]
async fn escalate_accepted_and_refused() {
    let client = CrmClient::new().unwrap();
    let ok = standin(|_| {}).await;
    let e = Escalate {
        escalate_to: Some("tier2".into()),
        ..Escalate::new("c1")
    };
    assert_eq!(
        client.escalate(&crm_for(&ok, 2_000), e.clone()).await,
        Escalation::Accepted
    );
    let r = &ok.received()[0];
    assert!(r.signature_ok);
    assert_eq!(
        r.body.as_ref().unwrap(),
        &serde_json::json!({"botId": "BOT_ID", "channel": "chat",
            "data": {"eventType": "escalate", "platformConversationId": "c1", "escalateTo": "tier2"}})
    );

    let no = standin(|c| c.escalate_status = 409).await;
    assert_eq!(
        client.escalate(&crm_for(&no, 2_000), e.clone()).await,
        Escalation::Refused {
            reason: "CRM answered 409".into()
        }
    );

    let slow = standin(|c| c.delay = Duration::from_secs(30)).await;
    match client.escalate(&crm_for(&slow, 200), e).await {
        Escalation::Refused { reason } => assert_eq!(reason, "no answer within 200ms"),
        other => panic!("{other:?}"),
    }
}

#[tokio::test]
async fn is_team_online_true_false_and_failures() {
    let client = CrmClient::new().unwrap();
    let online = standin(|c| c.team_online = Some(true)).await;
    assert!(
        client
            .is_team_online(&crm_for(&online, 2_000), query())
            .await
    );
    assert_eq!(
        online.received()[0].body.as_ref().unwrap()["data"],
        serde_json::json!({"eventType": "isTeamOnline", "platformConversationId": "c1", "teamId": "sales"})
    );
    let offline = standin(|c| c.team_online = Some(false)).await;
    assert!(
        !client
            .is_team_online(&crm_for(&offline, 2_000), query())
            .await
    );

    let broken = standin(|c| c.team_online = None).await;
    assert!(
        !client
            .is_team_online(&crm_for(&broken, 2_000), query())
            .await
    );
    assert!(matches!(
        client.team_online(&crm_for(&broken, 2_000), query()).await,
        Err(SyncError::Status { status: 500, .. })
    ));

    let slow = standin(|c| c.delay = Duration::from_secs(30)).await;
    assert!(!client.is_team_online(&crm_for(&slow, 200), query()).await);
    assert!(matches!(
        client.team_online(&crm_for(&slow, 200), query()).await,
        Err(SyncError::Transport(_))
    ));

    // An answer that is not {"isOnline": bool}: served by the stand-in's actions path.
    let odd = standin(|c| c.action_answer = r#"{"isOnline": "yes"}"#.into()).await;
    let mut crm = crm_for(&odd, 2_000);
    crm.chat_webhook_url = Some(odd.actions_url().parse().unwrap());
    match client.team_online(&crm, query()).await {
        Err(SyncError::BadAnswer(m)) => assert!(m.contains("expected a boolean"), "{m}"),
        other => panic!("{other:?}"),
    }
    assert!(!client.is_team_online(&crm, query()).await);
}
