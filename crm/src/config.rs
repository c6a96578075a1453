//! A bot's CRM settings (`[crm]` in bots/<slug>/bot.toml) and their resolved form, [`Crm`].
//!
//! Secrets can be written in the file or, better for a bot kept in git, named by environment
//! variable (`api_key_env`, `signing_secret_env`). Resolution checks everything once, at load:
//! URLs are absolute http(s), a webhook URL never goes out unsigned, timeouts are bounded.

use std::time::Duration;

use serde::Deserialize;
use url::Url;

use crate::auth::{ApiKey, ApiKeyError};
use crate::sign::{SecretError, SigningSecret};

pub const DEFAULT_DELIVERY_TIMEOUT: Duration = Duration::from_secs(10);
pub const DEFAULT_SYNC_TIMEOUT: Duration = Duration::from_secs(5);
const MAX_TIMEOUT: Duration = Duration::from_secs(120);

#[derive(Debug, Clone, Default, PartialEq, Eq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct CrmSettings {
    /// `botId` in every payload; defaults to the bot's slug.
    pub bot_id: Option<String>,
    /// Where the chat webhook events go.
    pub chat_webhook_url: Option<String>,
    /// Where `kind = "crm"` actions are posted.
    pub actions_webhook_url: Option<String>,
    /// The key the CRM presents in `Authorization` on the inbound API.
    pub api_key: Option<String>,
    pub api_key_env: Option<String>,
    /// `whsec_<base64>`; signs every outbound webhook.
    pub signing_secret: Option<String>,
    pub signing_secret_env: Option<String>,
    /// Per attempt of an asynchronous webhook (default 10 s).
    pub delivery_timeout_ms: Option<u64>,
    /// For `escalate` and `isTeamOnline`, which a visitor waits on (default 5 s).
    pub sync_timeout_ms: Option<u64>,
}

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ConfigError {
    #[error("crm.{field}: {cause}")]
    Invalid { field: &'static str, cause: String },
    #[error("crm.{0} and crm.{0}_env are both set; keep one")]
    Both(&'static str),
    #[error("crm.{field}_env names `{var}`, which is not set")]
    MissingEnv { field: &'static str, var: String },
    #[error("crm.signing_secret (or signing_secret_env) is required when a webhook URL is set: webhooks are always signed")]
    Unsigned,
    #[error("crm.signing_secret: {0}")]
    Secret(#[from] SecretError),
    #[error("crm.api_key: {0}")]
    ApiKey(#[from] ApiKeyError),
}

/// A bot's resolved CRM connection. Cheap to clone; hand it to every [`CrmClient`] call.
///
/// [`CrmClient`]: crate::CrmClient
#[derive(Debug, Clone)]
pub struct Crm {
    pub bot_id: String,
    pub chat_webhook_url: Option<Url>,
    pub actions_webhook_url: Option<Url>,
    /// `None`: the inbound API refuses every request for this bot.
    pub api_key: Option<ApiKey>,
    /// The first signs; all are used while rotating (one `v1,…` each).
    pub secrets: Vec<SigningSecret>,
    pub delivery_timeout: Duration,
    pub sync_timeout: Duration,
    /// The bot's outbound-address policy and a client bound to it; `None`: calls go through
    /// the shared [`CrmClient`](crate::CrmClient) unchecked (set it with [`Crm::guarded`]).
    pub outbound: Option<Outbound>,
}

/// A bot's outbound-address policy with the HTTP client that obeys it.
#[derive(Debug, Clone)]
pub struct Outbound {
    pub guard: natter_actions::Guard,
    pub http: reqwest::Client,
}

fn url(field: &'static str, v: &Option<String>) -> Result<Option<Url>, ConfigError> {
    let Some(s) = v else { return Ok(None) };
    let u = Url::parse(s).map_err(|e| ConfigError::Invalid {
        field,
        cause: format!("`{s}`: {e}"),
    })?;
    if !matches!(u.scheme(), "http" | "https") || u.host().is_none() {
        return Err(ConfigError::Invalid {
            field,
            cause: format!("`{s}` is not an absolute http(s) URL"),
        });
    }
    Ok(Some(u))
}

fn secret_value(
    field: &'static str,
    inline: &Option<String>,
    env_name: &Option<String>,
    env: &dyn Fn(&str) -> Option<String>,
) -> Result<Option<String>, ConfigError> {
    match (inline, env_name) {
        (Some(_), Some(_)) => Err(ConfigError::Both(field)),
        (Some(v), None) => Ok(Some(v.clone())),
        (None, Some(var)) => env(var).map(Some).ok_or_else(|| ConfigError::MissingEnv {
            field,
            var: var.clone(),
        }),
        (None, None) => Ok(None),
    }
}

fn timeout(
    field: &'static str,
    ms: Option<u64>,
    default: Duration,
) -> Result<Duration, ConfigError> {
    let Some(ms) = ms else { return Ok(default) };
    let d = Duration::from_millis(ms);
    if d.is_zero() || d > MAX_TIMEOUT {
        return Err(ConfigError::Invalid {
            field,
            cause: format!("{ms} ms is not within 1 ms..=120 s"),
        });
    }
    Ok(d)
}

impl CrmSettings {
    /// Checks and resolves; `env` reads environment variables (`|k| std::env::var(k).ok()`).
    pub fn resolve(
        &self,
        bot_slug: &str,
        env: &dyn Fn(&str) -> Option<String>,
    ) -> Result<Crm, ConfigError> {
        let chat_webhook_url = url("chat_webhook_url", &self.chat_webhook_url)?;
        let actions_webhook_url = url("actions_webhook_url", &self.actions_webhook_url)?;
        let secrets = match secret_value(
            "signing_secret",
            &self.signing_secret,
            &self.signing_secret_env,
            env,
        )? {
            Some(s) => vec![SigningSecret::parse(&s)?],
            None => Vec::new(),
        };
        if secrets.is_empty() && (chat_webhook_url.is_some() || actions_webhook_url.is_some()) {
            return Err(ConfigError::Unsigned);
        }
        let api_key = secret_value("api_key", &self.api_key, &self.api_key_env, env)?
            .map(|k| ApiKey::new(&k))
            .transpose()?;
        let bot_id = match &self.bot_id {
            Some(b) if b.trim().is_empty() => {
                return Err(ConfigError::Invalid {
                    field: "bot_id",
                    cause: "must not be empty".into(),
                })
            }
            Some(b) => b.clone(),
            None => bot_slug.to_string(),
        };
        Ok(Crm {
            bot_id,
            chat_webhook_url,
            actions_webhook_url,
            api_key,
            secrets,
            delivery_timeout: timeout(
                "delivery_timeout_ms",
                self.delivery_timeout_ms,
                DEFAULT_DELIVERY_TIMEOUT,
            )?,
            sync_timeout: timeout(
                "sync_timeout_ms",
                self.sync_timeout_ms,
                DEFAULT_SYNC_TIMEOUT,
            )?,
            outbound: None,
        })
    }
}

impl Crm {
    /// This bot's CRM calls obey `guard`: webhook URLs the policy refuses are never requested,
    /// and names only ever connect to addresses it allows.
    pub fn guarded(mut self, guard: natter_actions::Guard) -> Result<Crm, crate::ClientError> {
        let http = crate::client::configure(guard.builder()).build()?;
        self.outbound = Some(Outbound { guard, http });
        Ok(self)
    }

    /// An actions webhook request of this bot; `data` from natter-actions' `crm_data()` via
    /// [`ActionData::from_crm_data`](crate::wire::ActionData::from_crm_data).
    pub fn action_request(
        &self,
        conversation_id: impl Into<String>,
        platform_conversation_id: impl Into<String>,
        name: impl Into<String>,
        data: Vec<crate::wire::ActionData>,
    ) -> crate::wire::ActionRequest {
        crate::wire::ActionRequest::new(
            self.bot_id.clone(),
            conversation_id,
            platform_conversation_id,
            name,
            data,
        )
    }

    /// A chat webhook of this bot around `data`.
    pub fn webhook(&self, data: crate::wire::ChatEvent) -> crate::wire::ChatWebhook {
        crate::wire::ChatWebhook::new(self.bot_id.clone(), data)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const SECRET: &str = "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw";

    fn no_env(_: &str) -> Option<String> {
        None
    }

    #[test]
    fn resolves_and_refuses() {
        let s = CrmSettings {
            chat_webhook_url: Some("https://crm.example.com/converse-webhook".into()),
            signing_secret_env: Some("CRM_SECRET".into()),
            api_key: Some("k".into()),
            ..Default::default()
        };
        let env = |k: &str| (k == "CRM_SECRET").then(|| SECRET.to_string());
        let crm = s.resolve("acme", &env).unwrap();
        assert_eq!(crm.bot_id, "acme");
        assert_eq!(crm.secrets.len(), 1);
        assert_eq!(crm.sync_timeout, DEFAULT_SYNC_TIMEOUT);
        // Neither secret shows in a debug dump of the resolved config.
        let dump = format!("{crm:?}");
        assert!(
            !dump.contains("MfKQ9r8") && !dump.contains("\"k\""),
            "{dump}"
        );
        assert!(dump.contains("ApiKey([redacted])") && dump.contains("SigningSecret([redacted])"));
        assert!(matches!(
            s.resolve("acme", &no_env),
            Err(ConfigError::MissingEnv {
                field: "signing_secret",
                ..
            })
        ));

        let unsigned = CrmSettings {
            chat_webhook_url: s.chat_webhook_url.clone(),
            ..Default::default()
        };
        assert_eq!(
            unsigned.resolve("a", &no_env).unwrap_err(),
            ConfigError::Unsigned
        );
        let bad_url = CrmSettings {
            chat_webhook_url: Some("ftp://x/y".into()),
            ..Default::default()
        };
        assert!(bad_url
            .resolve("a", &no_env)
            .unwrap_err()
            .to_string()
            .starts_with("crm.chat_webhook_url:"));
        let both = CrmSettings {
            api_key: Some("a".into()),
            api_key_env: Some("B".into()),
            ..Default::default()
        };
        assert_eq!(
            both.resolve("a", &no_env).unwrap_err(),
            ConfigError::Both("api_key")
        );
        let slow = CrmSettings {
            sync_timeout_ms: Some(0),
            ..Default::default()
        };
        assert!(slow.resolve("a", &no_env).is_err());
    }

    #[test]
    fn from_toml_with_unknown_keys_refused() {
        let s: CrmSettings = toml_like(r#"{"bot_id": "b", "sync_timeout_ms": 100}"#);
        assert_eq!(s.bot_id.as_deref(), Some("b"));
        assert!(serde_json::from_str::<CrmSettings>(r#"{"webhook": "x"}"#).is_err());
    }

    fn toml_like(json: &str) -> CrmSettings {
        serde_json::from_str(json).unwrap()
    }
}
