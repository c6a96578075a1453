//! Google Sheets API v4 `values:append` with a service account, for hosts to use in
//! [`crate::Host::sheets_append`].
//!
//! Flow: a JWT assertion signed RS256 with the service account's private key → the OAuth
//! token endpoint (jwt-bearer grant) → an access token (cached until a minute before it
//! expires) → `POST {api}/v4/spreadsheets/{id}/values/{range}:append`.
//! Invariant: the credentials live here, in the server process, never in Python.

use crate::Error;
use serde::Deserialize;
use serde_json::{json, Value};
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};
use tokio::sync::Mutex;

/// The fields of a Google service-account JSON key file that matter here.
#[derive(Debug, Clone, Deserialize)]
pub struct ServiceAccountKey {
    pub client_email: String,
    /// PKCS#8 PEM ("-----BEGIN PRIVATE KEY-----").
    pub private_key: String,
    #[serde(default)]
    pub private_key_id: Option<String>,
    /// The key file's token endpoint; [`SheetsConfig::token_url`] overrides it when set.
    #[serde(default)]
    pub token_uri: Option<String>,
}

impl ServiceAccountKey {
    /// Parse a service-account key file's JSON.
    pub fn from_json(text: &str) -> Result<Self, Error> {
        serde_json::from_str(text)
            .map_err(|e| Error::Sheets(format!("invalid service account key: {e}")))
    }
}

/// Endpoints (overridable so tests use a stand-in server) and the target range.
#[derive(Debug, Clone)]
pub struct SheetsConfig {
    /// `None`: the key's `token_uri`, else Google's.
    pub token_url: Option<String>,
    pub api_base: String,
    /// A1 range whose table the row is appended to.
    pub range: String,
    pub timeout: Duration,
}

impl Default for SheetsConfig {
    fn default() -> Self {
        SheetsConfig {
            token_url: None,
            api_base: "https://sheets.googleapis.com".into(),
            range: "A1".into(),
            timeout: Duration::from_secs(20),
        }
    }
}

const SCOPE: &str = "https://www.googleapis.com/auth/spreadsheets";
const GOOGLE_TOKEN_URL: &str = "https://oauth2.googleapis.com/token";

/// A Sheets client for one service account.
pub struct GoogleSheets {
    key: ServiceAccountKey,
    signing_key: jsonwebtoken::EncodingKey,
    cfg: SheetsConfig,
    http: reqwest::Client,
    token: Mutex<Option<(String, Instant)>>,
}

impl GoogleSheets {
    pub fn new(key: ServiceAccountKey, cfg: SheetsConfig) -> Result<Self, Error> {
        let signing_key = jsonwebtoken::EncodingKey::from_rsa_pem(key.private_key.as_bytes())
            .map_err(|e| Error::Sheets(format!("invalid service account private key: {e}")))?;
        let http = reqwest::Client::builder()
            .timeout(cfg.timeout)
            .build()
            .map_err(|e| Error::Sheets(format!("http client: {e}")))?;
        Ok(GoogleSheets {
            key,
            signing_key,
            cfg,
            http,
            token: Mutex::new(None),
        })
    }

    fn token_url(&self) -> &str {
        self.cfg
            .token_url
            .as_deref()
            .or(self.key.token_uri.as_deref())
            .unwrap_or(GOOGLE_TOKEN_URL)
    }

    /// The signed JWT assertion for the token endpoint.
    fn assertion(&self) -> Result<String, Error> {
        let now = SystemTime::now()
            .duration_since(UNIX_EPOCH)
            .map(|d| d.as_secs())
            .unwrap_or(0);
        let claims = json!({
            "iss": self.key.client_email,
            "scope": SCOPE,
            "aud": self.token_url(),
            "iat": now,
            "exp": now + 3600,
        });
        let mut header = jsonwebtoken::Header::new(jsonwebtoken::Algorithm::RS256);
        header.kid = self.key.private_key_id.clone();
        jsonwebtoken::encode(&header, &claims, &self.signing_key)
            .map_err(|e| Error::Sheets(format!("signing: {e}")))
    }

    async fn access_token(&self) -> Result<String, Error> {
        let mut cached = self.token.lock().await;
        if let Some((tok, until)) = cached.as_ref() {
            if Instant::now() < *until {
                return Ok(tok.clone());
            }
        }
        // A JWT is base64url and '.', all safe in a form value.
        let body = format!(
            "grant_type=urn%3Aietf%3Aparams%3Aoauth%3Agrant-type%3Ajwt-bearer&assertion={}",
            self.assertion()?
        );
        let resp = self
            .http
            .post(self.token_url())
            .header("content-type", "application/x-www-form-urlencoded")
            .body(body)
            .send()
            .await
            .map_err(|e| Error::Sheets(format!("token endpoint: {e}")))?;
        let status = resp.status();
        let v: Value = resp.json().await.unwrap_or(Value::Null);
        let Some(tok) = v["access_token"].as_str().filter(|_| status.is_success()) else {
            let why = v["error_description"]
                .as_str()
                .or(v["error"].as_str())
                .unwrap_or("no access_token");
            return Err(Error::Sheets(format!(
                "token endpoint refused ({status}): {why}"
            )));
        };
        let ttl = v["expires_in"].as_u64().unwrap_or(3600).saturating_sub(60);
        *cached = Some((tok.to_string(), Instant::now() + Duration::from_secs(ttl)));
        Ok(tok.to_string())
    }

    /// Append one row; returns `{"success": true, "updatedRange": ..., "updatedRows": ...}`.
    /// `sheet_id` must already be validated (letters, digits, '-', '_').
    pub async fn append_row(&self, sheet_id: &str, row: Vec<Value>) -> Result<Value, Error> {
        let token = self.access_token().await?;
        let url = format!(
            "{}/v4/spreadsheets/{}/values/{}:append?valueInputOption=USER_ENTERED&insertDataOption=INSERT_ROWS",
            self.cfg.api_base.trim_end_matches('/'),
            sheet_id,
            self.cfg.range
        );
        let resp = self
            .http
            .post(url)
            .bearer_auth(token)
            .json(&json!({"majorDimension": "ROWS", "values": [row]}))
            .send()
            .await
            .map_err(|e| Error::Sheets(format!("append: {e}")))?;
        let status = resp.status();
        let v: Value = resp.json().await.unwrap_or(Value::Null);
        if !status.is_success() {
            let why = v["error"]["message"].as_str().unwrap_or("request failed");
            return Err(Error::Sheets(format!("append refused ({status}): {why}")));
        }
        Ok(json!({
            "success": true,
            "updatedRange": v["updates"]["updatedRange"],
            "updatedRows": v["updates"]["updatedRows"],
        }))
    }
}
