//! The `[llm]` table of a bot's `bot.toml`: which OpenAI-compatible endpoint to call, how, and
//! within which limits.
//!
//! Invariants:
//! - The API key is never part of the config: only the *name* of the environment variable that
//!   holds it (`api_key_env`). [`LlmConfig::api_key`] reads it when a client is built, into an
//!   [`ApiKey`] whose `Debug` and `Display` print `[redacted]`.
//! - [`LlmConfig::validate`] accepts exactly the configs the client and engine can run; it lists
//!   every problem at once (for `natter check`).
//! - Durations are seconds in TOML (fractions allowed, e.g. `stall_timeout = 0.5`).

use std::fmt;
use std::time::Duration;

use serde::{Deserialize, Serialize};
use url::Url;

/// One problem with an `[llm]` table. `field` is the TOML key.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ConfigError {
    #[error("llm.{field}: {message}")]
    Invalid {
        field: &'static str,
        message: String,
    },
    #[error("llm.api_key_env: environment variable `{0}` is not set")]
    KeyMissing(String),
}

fn invalid(field: &'static str, message: impl Into<String>) -> ConfigError {
    ConfigError::Invalid {
        field,
        message: message.into(),
    }
}

/// The bot's model endpoint and limits. Field docs give the TOML key and default.
#[derive(Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct LlmConfig {
    /// The API root: `https://api.openai.com/v1`, `http://127.0.0.1:11434/v1` (Ollama),
    /// `http://host:8000/v1` (vLLM, llama.cpp server), or an Azure deployment
    /// `https://RES.openai.azure.com/openai/deployments/DEPLOYMENT` (with `api_version`).
    /// `/chat/completions` is appended unless already there.
    pub base_url: String,
    /// Model name sent as `model` (Azure ignores it: the deployment decides).
    pub model: String,
    /// Name of the environment variable holding the API key. None: no key is sent (Ollama,
    /// local vLLM / llama.cpp).
    #[serde(default)]
    pub api_key_env: Option<String>,
    /// Azure-style endpoints: sent as the `api-version` query parameter, and the key goes in
    /// an `api-key` header instead of `Authorization: Bearer`.
    #[serde(default)]
    pub api_version: Option<String>,
    /// The system instructions (the workflow's "Step 3: call getOrderDetails" text).
    #[serde(default)]
    pub instructions: String,
    #[serde(default)]
    pub temperature: Option<f32>,
    /// Cap on the tokens of one model answer (`max_tokens`).
    #[serde(default)]
    pub max_tokens: Option<u32>,
    /// Ask for token usage in the stream (`stream_options.include_usage`). Default true; turn
    /// off for servers that reject the field (older Azure API versions).
    #[serde(default = "d::yes")]
    pub stream_usage: bool,
    /// Whole deadline of one model call, headers to `[DONE]`. Default 60 s.
    #[serde(default = "d::request", with = "secs")]
    pub request_timeout: Duration,
    /// TCP + TLS connect. Default 5 s.
    #[serde(default = "d::connect", with = "secs")]
    pub connect_timeout: Duration,
    /// From sending the request to the first body byte (covers the model's queueing and time
    /// to first token). Default 30 s.
    #[serde(default = "d::first_byte", with = "secs")]
    pub first_byte_timeout: Duration,
    /// Longest silence between two body chunks once the stream has started. Default 20 s.
    #[serde(default = "d::stall", with = "secs")]
    pub stall_timeout: Duration,
    /// Deadline of a whole turn: every round, retry and tool call. Default 120 s.
    #[serde(default = "d::turn", with = "secs")]
    pub turn_timeout: Duration,
    /// Retries of one model call (so at most `max_retries + 1` attempts). Default 2.
    #[serde(default = "d::retries")]
    pub max_retries: u32,
    /// First backoff; doubles per retry. Default 0.5 s.
    #[serde(default = "d::backoff", with = "secs")]
    pub retry_backoff: Duration,
    /// Cap on one backoff, and on an honoured `Retry-After`: a longer `Retry-After` ends the
    /// turn rather than keeping the user waiting. Default 10 s.
    #[serde(default = "d::backoff_max", with = "secs")]
    pub retry_backoff_max: Duration,
    /// Model calls that may request tools in one turn. Default 5.
    #[serde(default = "d::rounds")]
    pub max_tool_rounds: u32,
    /// Refused or invalid tool calls tolerated in one turn before it fails. Default 3.
    #[serde(default = "d::invalid")]
    pub max_invalid_tool_calls: u32,
    /// A tool's output is cut to this many characters before the model sees it. Default 16000.
    #[serde(default = "d::tool_output")]
    pub max_tool_output_chars: usize,
    /// Estimated prompt tokens (instructions, tools, history) per model call. Default 8000.
    #[serde(default = "d::context")]
    pub context_tokens: usize,
}

mod d {
    use std::time::Duration;
    pub fn yes() -> bool {
        true
    }
    pub fn request() -> Duration {
        Duration::from_secs(60)
    }
    pub fn connect() -> Duration {
        Duration::from_secs(5)
    }
    pub fn first_byte() -> Duration {
        Duration::from_secs(30)
    }
    pub fn stall() -> Duration {
        Duration::from_secs(20)
    }
    pub fn turn() -> Duration {
        Duration::from_secs(120)
    }
    pub fn retries() -> u32 {
        2
    }
    pub fn backoff() -> Duration {
        Duration::from_millis(500)
    }
    pub fn backoff_max() -> Duration {
        Duration::from_secs(10)
    }
    pub fn rounds() -> u32 {
        5
    }
    pub fn invalid() -> u32 {
        3
    }
    pub fn tool_output() -> usize {
        16_000
    }
    pub fn context() -> usize {
        8_000
    }
}

/// Durations as (fractional) seconds, the unit bot owners think in.
mod secs {
    use serde::{de::Error, Deserialize, Deserializer, Serializer};
    use std::time::Duration;

    pub fn serialize<S: Serializer>(d: &Duration, s: S) -> Result<S::Ok, S::Error> {
        s.serialize_f64(d.as_secs_f64())
    }
    pub fn deserialize<'de, D: Deserializer<'de>>(d: D) -> Result<Duration, D::Error> {
        let v = f64::deserialize(d)?;
        Duration::try_from_secs_f64(v)
            .map_err(|_| D::Error::custom(format!("{v} is not a duration in seconds")))
    }
}

impl LlmConfig {
    /// A config with every default, for code and tests.
    pub fn new(base_url: impl Into<String>, model: impl Into<String>) -> LlmConfig {
        LlmConfig {
            base_url: base_url.into(),
            model: model.into(),
            api_key_env: None,
            api_version: None,
            instructions: String::new(),
            temperature: None,
            max_tokens: None,
            stream_usage: true,
            request_timeout: d::request(),
            connect_timeout: d::connect(),
            first_byte_timeout: d::first_byte(),
            stall_timeout: d::stall(),
            turn_timeout: d::turn(),
            max_retries: d::retries(),
            retry_backoff: d::backoff(),
            retry_backoff_max: d::backoff_max(),
            max_tool_rounds: d::rounds(),
            max_invalid_tool_calls: d::invalid(),
            max_tool_output_chars: d::tool_output(),
            context_tokens: d::context(),
        }
    }

    /// Every problem with the table (empty: valid). Does not look at the environment; see
    /// [`LlmConfig::api_key`] for that.
    pub fn validate(&self) -> Result<(), Vec<ConfigError>> {
        let mut errs = Vec::new();
        if let Err(e) = self.endpoint() {
            errs.push(e);
        }
        if self.model.trim().is_empty() {
            errs.push(invalid("model", "must not be empty"));
        }
        if let Some(name) = &self.api_key_env {
            let ok = !name.is_empty()
                && !name.starts_with(|c: char| c.is_ascii_digit())
                && name.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'_');
            if !ok {
                errs.push(invalid(
                    "api_key_env",
                    format!("{name:?} is not an environment variable name (letters, digits, '_'); put the key in the environment, not here"),
                ));
            }
        }
        if let Some(v) = &self.api_version {
            if v.is_empty()
                || !v
                    .bytes()
                    .all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'.')
            {
                errs.push(invalid(
                    "api_version",
                    format!("{v:?} is not an API version like \"2024-10-21\""),
                ));
            }
        }
        if let Some(t) = self.temperature {
            if !(0.0..=2.0).contains(&t) {
                errs.push(invalid("temperature", format!("{t} is outside 0 to 2")));
            }
        }
        if self.max_tokens == Some(0) {
            errs.push(invalid("max_tokens", "must be at least 1"));
        }
        for (field, d) in [
            ("request_timeout", self.request_timeout),
            ("connect_timeout", self.connect_timeout),
            ("first_byte_timeout", self.first_byte_timeout),
            ("stall_timeout", self.stall_timeout),
            ("turn_timeout", self.turn_timeout),
        ] {
            if d.is_zero() {
                errs.push(invalid(field, "must be more than 0 seconds"));
            }
        }
        if self.turn_timeout < self.request_timeout {
            errs.push(invalid(
                "turn_timeout",
                "must be at least request_timeout (a turn holds one or more model calls)",
            ));
        }
        if self.retry_backoff > self.retry_backoff_max {
            errs.push(invalid(
                "retry_backoff",
                "must not exceed retry_backoff_max",
            ));
        }
        if self.max_retries > 10 {
            errs.push(invalid("max_retries", "at most 10"));
        }
        if self.max_tool_rounds == 0 || self.max_tool_rounds > 50 {
            errs.push(invalid("max_tool_rounds", "must be 1 to 50"));
        }
        if self.max_tool_output_chars < 100 {
            errs.push(invalid("max_tool_output_chars", "must be at least 100"));
        }
        if self.context_tokens < 256 {
            errs.push(invalid("context_tokens", "must be at least 256"));
        }
        if errs.is_empty() {
            Ok(())
        } else {
            Err(errs)
        }
    }

    /// The chat-completions URL: `base_url` + `/chat/completions` (+ `?api-version=`).
    pub fn endpoint(&self) -> Result<Url, ConfigError> {
        let mut url = Url::parse(self.base_url.trim())
            .map_err(|e| invalid("base_url", format!("{:?} is not a URL: {e}", self.base_url)))?;
        if !matches!(url.scheme(), "http" | "https") {
            return Err(invalid("base_url", "must be an http:// or https:// URL"));
        }
        if !url.username().is_empty() || url.password().is_some() {
            return Err(invalid(
                "base_url",
                "must not carry credentials; use api_key_env",
            ));
        }
        if url.query().is_some() || url.fragment().is_some() {
            return Err(invalid(
                "base_url",
                "must not have a query or fragment (Azure: set api_version)",
            ));
        }
        let path = url.path().trim_end_matches('/').to_string();
        if !path.ends_with("/chat/completions") {
            url.set_path(&format!("{path}/chat/completions"));
        }
        if let Some(v) = &self.api_version {
            url.query_pairs_mut().append_pair("api-version", v);
        }
        Ok(url)
    }

    /// The key from the environment (None when `api_key_env` is unset). A named variable
    /// that is missing or empty is an error: better a clear start-up failure than 401s.
    pub fn api_key(&self) -> Result<Option<ApiKey>, ConfigError> {
        let Some(name) = &self.api_key_env else {
            return Ok(None);
        };
        match std::env::var(name) {
            Ok(v) if !v.trim().is_empty() => Ok(Some(ApiKey(v.trim().to_string()))),
            _ => Err(ConfigError::KeyMissing(name.clone())),
        }
    }

    /// Azure-style: the key goes in `api-key`, not `Authorization`.
    pub fn is_azure(&self) -> bool {
        self.api_version.is_some()
    }
}

impl fmt::Debug for LlmConfig {
    // Written out so that the derive can never start printing a secret if a field is added:
    // only the variable's name is shown.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("LlmConfig")
            .field("base_url", &self.base_url)
            .field("model", &self.model)
            .field("api_key_env", &self.api_key_env)
            .field("api_version", &self.api_version)
            .field("instructions_chars", &self.instructions.chars().count())
            .field("temperature", &self.temperature)
            .field("max_tokens", &self.max_tokens)
            .field("request_timeout", &self.request_timeout)
            .field("turn_timeout", &self.turn_timeout)
            .field("max_retries", &self.max_retries)
            .field("max_tool_rounds", &self.max_tool_rounds)
            .field("context_tokens", &self.context_tokens)
            .finish_non_exhaustive()
    }
}

/// An API key read from the environment. Never printed.
#[derive(Clone, PartialEq, Eq)]
pub struct ApiKey(String);

impl ApiKey {
    pub fn new(key: impl Into<String>) -> ApiKey {
        ApiKey(key.into())
    }
    pub(crate) fn expose(&self) -> &str {
        &self.0
    }
}

impl fmt::Debug for ApiKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("ApiKey([redacted])")
    }
}

impl fmt::Display for ApiKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("[redacted]")
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn parse(s: &str) -> LlmConfig {
        toml::from_str(s).unwrap()
    }

    #[test]
    fn minimal_table_gets_defaults_and_endpoint() {
        let c = parse("base_url = \"http://127.0.0.1:11434/v1/\"\nmodel = \"llama3\"");
        assert!(c.validate().is_ok());
        assert_eq!(
            c.endpoint().unwrap().as_str(),
            "http://127.0.0.1:11434/v1/chat/completions"
        );
        assert_eq!(c.max_tool_rounds, 5);
        assert_eq!(c.api_key().unwrap(), None);
    }

    #[test]
    fn azure_deployment_gets_api_version_query() {
        let c = parse(
            "base_url = \"https://r.openai.azure.com/openai/deployments/gpt\"\nmodel = \"gpt\"\napi_version = \"2024-10-21\"\nstall_timeout = 0.25",
        );
        assert!(c.validate().is_ok());
        assert!(c.is_azure());
        assert_eq!(
            c.endpoint().unwrap().as_str(),
            "https://r.openai.azure.com/openai/deployments/gpt/chat/completions?api-version=2024-10-21"
        );
        assert_eq!(c.stall_timeout, Duration::from_millis(250));
    }

    #[test]
    fn every_problem_is_reported() {
        let c = parse(
            "base_url = \"ftp://x\"\nmodel = \" \"\napi_key_env = \"sk-abc123\"\ntemperature = 3.0\nmax_tool_rounds = 0\nrequest_timeout = 0",
        );
        let errs = c.validate().unwrap_err();
        let text: Vec<String> = errs.iter().map(|e| e.to_string()).collect();
        assert_eq!(errs.len(), 6, "{text:?}");
        assert!(text.iter().any(|t| t.starts_with("llm.base_url")));
        assert!(text
            .iter()
            .any(|t| t.contains("not an environment variable name")));
        assert!(
            toml::from_str::<LlmConfig>("base_url = \"x\"\nmodel = \"m\"\napi_key = \"sk\"")
                .is_err()
        );
    }

    #[test]
    fn key_is_read_from_the_environment_and_never_printed() {
        let mut c = LlmConfig::new("http://127.0.0.1:1/v1", "m");
        c.api_key_env = Some("NATTER_LLM_TEST_KEY_CFG".into());
        assert_eq!(
            c.api_key(),
            Err(ConfigError::KeyMissing("NATTER_LLM_TEST_KEY_CFG".into()))
        );
        // Only this test touches this variable.
        std::env::set_var("NATTER_LLM_TEST_KEY_CFG", "sk-secret-value");
        let key = c.api_key().unwrap().unwrap();
        assert_eq!(key.expose(), "sk-secret-value");
        assert!(!format!("{key:?} {key} {c:?}").contains("sk-secret"));
    }
}
