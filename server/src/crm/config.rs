//! A bot's `[crm]` table: natter-crm's [`CrmSettings`] plus the server's own keys, checked at
//! bot load (so `natter check` reports problems with file and line).
//!
//! Server keys: `local = true` points the chat webhook at Natter's built-in local CRM (the
//! agent console's back end, see [`super::local`]) instead of `chat_webhook_url`; the signing
//! secret is then generated at start unless given. `escalation_refused` is what the bot says
//! when the CRM refuses an `escalate`.

use natter_crm::{Crm, CrmSettings, SigningSecret};

pub const DEFAULT_REFUSED: &str =
    "Sorry, no one from our team can take this conversation right now. I'm still here to help.";

/// `[crm]` as loaded; [`CrmBotSettings::resolve`] makes the [`Crm`] once the server knows its
/// own address.
#[derive(Debug, Clone)]
pub struct CrmBotSettings {
    pub settings: CrmSettings,
    pub local: bool,
    pub escalation_refused: String,
}

/// A bot's CRM connection as the server uses it.
#[derive(Debug, Clone)]
pub struct CrmBot {
    pub crm: Crm,
    pub local: bool,
    pub escalation_refused: String,
}

fn env(k: &str) -> Option<String> {
    std::env::var(k).ok()
}

impl CrmBotSettings {
    /// Parses and checks `[crm]`; the error is one line for the bot's config error list.
    pub fn parse(slug: &str, table: &toml::Table) -> Result<Self, String> {
        let mut t = table.clone();
        let local = match t.remove("local") {
            None => false,
            Some(toml::Value::Boolean(b)) => b,
            Some(_) => return Err("crm.local must be true or false".into()),
        };
        let escalation_refused = match t.remove("escalation_refused") {
            None => DEFAULT_REFUSED.to_string(),
            Some(toml::Value::String(s)) if !s.trim().is_empty() => s,
            Some(_) => return Err("crm.escalation_refused must be a non-empty string".into()),
        };
        let settings: CrmSettings = toml::Value::Table(t)
            .try_into()
            .map_err(|e: toml::de::Error| format!("crm: {}", e.message().trim()))?;
        if local && settings.chat_webhook_url.is_some() {
            return Err("crm.local = true and crm.chat_webhook_url are both set; keep one".into());
        }
        let out = CrmBotSettings {
            settings,
            local,
            escalation_refused,
        };
        // Check everything now (URLs, secrets, env vars) with a placeholder local address.
        out.resolve(slug, "http://127.0.0.1:1", None)
            .map(|_| out.clone())
    }

    /// The connection; `base` is this server's own URL (for `local`), `secret` the signing
    /// secret generated for a local CRM without one.
    pub fn resolve(
        &self,
        slug: &str,
        base: &str,
        secret: Option<&SigningSecret>,
    ) -> Result<CrmBot, String> {
        let mut s = self.settings.clone();
        if self.local {
            s.chat_webhook_url = Some(format!("{base}{}", super::local::WEBHOOK_PATH));
            if s.signing_secret.is_none() && s.signing_secret_env.is_none() {
                let generated = secret.cloned().unwrap_or_else(SigningSecret::generate);
                s.signing_secret = Some(generated.expose_whsec());
            }
        }
        let crm = s.resolve(slug, &env).map_err(|e| e.to_string())?;
        Ok(CrmBot {
            crm,
            local: self.local,
            escalation_refused: self.escalation_refused.clone(),
        })
    }
}
