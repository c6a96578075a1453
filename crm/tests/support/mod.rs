//! Shared test setup: a bot's resolved CRM config pointing at a loopback stand-in.

#![allow(dead_code)]

use natter_crm::standin::{StandIn, StandInConfig};
use natter_crm::{Crm, CrmSettings, SigningSecret};

pub const SECRET: &str = "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw";

pub fn secret() -> SigningSecret {
    SigningSecret::parse(SECRET).unwrap()
}

pub fn crm_for(standin: &StandIn, timeout_ms: u64) -> Crm {
    CrmSettings {
        bot_id: Some("BOT_ID".into()),
        chat_webhook_url: Some(standin.chat_url()),
        actions_webhook_url: Some(standin.actions_url()),
        signing_secret: Some(SECRET.into()),
        api_key: Some("crm-key".into()),
        delivery_timeout_ms: Some(timeout_ms),
        sync_timeout_ms: Some(timeout_ms),
        ..Default::default()
    }
    .resolve("acme", &|_| None)
    .unwrap()
}

pub async fn standin(edit: impl FnOnce(&mut StandInConfig)) -> StandIn {
    let mut cfg = StandInConfig::new(secret());
    edit(&mut cfg);
    StandIn::start(cfg).await.unwrap()
}
