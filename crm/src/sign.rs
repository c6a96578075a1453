//! Standard Webhooks signatures (https://www.standardwebhooks.com/): three headers,
//! `webhook-id`, `webhook-timestamp` (Unix seconds) and `webhook-signature`
//! (`v1,<base64 HMAC-SHA256 of "id.timestamp.body">`, several space-separated during a secret
//! rotation), with a secret written `whsec_<base64>`.
//!
//! Invariants: the id is the event's, stable across retries; the timestamp is the attempt's,
//! so a receiver's tolerance window refuses replays of old attempts; comparison is
//! constant-time; the secret never appears in Debug output.

use std::fmt;
use std::time::Duration;

use base64::engine::general_purpose::STANDARD;
use base64::Engine;
use hmac::{Hmac, Mac};
use sha2::Sha256;
use subtle::ConstantTimeEq;

pub const HEADER_ID: &str = "webhook-id";
pub const HEADER_TIMESTAMP: &str = "webhook-timestamp";
pub const HEADER_SIGNATURE: &str = "webhook-signature";
/// The reference libraries' default window, both ways.
pub const DEFAULT_TOLERANCE: Duration = Duration::from_secs(5 * 60);

const PREFIX: &str = "whsec_";
/// Shorter keys are refused; the specification recommends 24 to 64 bytes.
const MIN_SECRET_BYTES: usize = 16;

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum SecretError {
    #[error("signing secret is not base64 (expected whsec_<base64>): {0}")]
    NotBase64(String),
    #[error("signing secret is {0} bytes; use at least {MIN_SECRET_BYTES} (24 to 64 recommended)")]
    TooShort(usize),
}

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum VerifyError {
    #[error("missing header {0}")]
    MissingHeader(&'static str),
    #[error("header {0} is not valid")]
    BadHeader(&'static str),
    #[error("webhook-timestamp is {0} s older than allowed")]
    TooOld(i64),
    #[error("webhook-timestamp is {0} s in the future")]
    TooNew(i64),
    #[error("no signature matches")]
    NoMatch,
}

/// An HMAC key. Build it from the configured `whsec_…` string.
#[derive(Clone)]
pub struct SigningSecret(Vec<u8>);

impl fmt::Debug for SigningSecret {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("SigningSecret([redacted])")
    }
}

impl SigningSecret {
    /// `whsec_<base64>` or the bare base64, as the reference libraries accept.
    pub fn parse(s: &str) -> Result<Self, SecretError> {
        let b64 = s.trim().strip_prefix(PREFIX).unwrap_or(s.trim());
        let key = STANDARD
            .decode(b64)
            .map_err(|e| SecretError::NotBase64(e.to_string()))?;
        if key.len() < MIN_SECRET_BYTES {
            return Err(SecretError::TooShort(key.len()));
        }
        Ok(SigningSecret(key))
    }

    /// A fresh 32-byte secret from the OS's random source.
    pub fn generate() -> Self {
        let mut key = vec![0u8; 32];
        getrandom::getrandom(&mut key).expect("the OS random source is available");
        SigningSecret(key)
    }

    /// The `whsec_<base64>` form, to hand to the CRM developer once.
    pub fn expose_whsec(&self) -> String {
        format!("{PREFIX}{}", STANDARD.encode(&self.0))
    }

    fn mac(&self, id: &str, timestamp: i64, body: &[u8]) -> [u8; 32] {
        let mut m = Hmac::<Sha256>::new_from_slice(&self.0).expect("HMAC takes any key length");
        m.update(id.as_bytes());
        m.update(b".");
        m.update(timestamp.to_string().as_bytes());
        m.update(b".");
        m.update(body);
        m.finalize().into_bytes().into()
    }

    /// `v1,<base64>` for one attempt.
    pub fn sign(&self, id: &str, timestamp: i64, body: &[u8]) -> String {
        format!("v1,{}", STANDARD.encode(self.mac(id, timestamp, body)))
    }
}

/// The `webhook-signature` value: one `v1,…` per secret (several while rotating).
pub fn signature_header(
    secrets: &[SigningSecret],
    id: &str,
    timestamp: i64,
    body: &[u8],
) -> String {
    secrets
        .iter()
        .map(|s| s.sign(id, timestamp, body))
        .collect::<Vec<_>>()
        .join(" ")
}

/// The three header values of a received webhook.
#[derive(Debug, Clone, Copy)]
pub struct SignatureHeaders<'a> {
    pub id: &'a str,
    pub timestamp: &'a str,
    pub signature: &'a str,
}

impl<'a> SignatureHeaders<'a> {
    pub fn from_header_map(h: &'a http::HeaderMap) -> Result<Self, VerifyError> {
        let get = |name: &'static str| -> Result<&'a str, VerifyError> {
            h.get(name)
                .ok_or(VerifyError::MissingHeader(name))?
                .to_str()
                .map_err(|_| VerifyError::BadHeader(name))
        };
        Ok(SignatureHeaders {
            id: get(HEADER_ID)?,
            timestamp: get(HEADER_TIMESTAMP)?,
            signature: get(HEADER_SIGNATURE)?,
        })
    }
}

/// Checks a received webhook: timestamp within `tolerance` of `now` (Unix seconds), and at
/// least one `v1` signature made by one of `secrets` over exactly `body`.
pub fn verify(
    secrets: &[SigningSecret],
    headers: &SignatureHeaders<'_>,
    body: &[u8],
    now: i64,
    tolerance: Duration,
) -> Result<(), VerifyError> {
    let ts: i64 = headers
        .timestamp
        .trim()
        .parse()
        .map_err(|_| VerifyError::BadHeader(HEADER_TIMESTAMP))?;
    let tol = i64::try_from(tolerance.as_secs()).unwrap_or(i64::MAX);
    if now.saturating_sub(ts) > tol {
        return Err(VerifyError::TooOld(now - ts));
    }
    if ts.saturating_sub(now) > tol {
        return Err(VerifyError::TooNew(ts - now));
    }
    let expected: Vec<[u8; 32]> = secrets
        .iter()
        .map(|s| s.mac(headers.id, ts, body))
        .collect();
    let mut matched = subtle::Choice::from(0u8);
    for candidate in headers.signature.split(' ') {
        let Some(("v1", b64)) = candidate.split_once(',') else {
            continue;
        };
        let Ok(sig) = STANDARD.decode(b64) else {
            continue;
        };
        for e in &expected {
            // ct_eq on slices of different lengths is false without leaking where they differ.
            matched |= sig.as_slice().ct_eq(e.as_slice());
        }
    }
    if bool::from(matched) {
        Ok(())
    } else {
        Err(VerifyError::NoMatch)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn secret_forms() {
        let a = SigningSecret::parse("whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw").unwrap();
        let b = SigningSecret::parse("MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw").unwrap();
        assert_eq!(a.0, b.0);
        assert_eq!(a.expose_whsec(), "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw");
        assert!(matches!(
            SigningSecret::parse("whsec_not base64!"),
            Err(SecretError::NotBase64(_))
        ));
        assert_eq!(
            SigningSecret::parse("whsec_c2hvcnQ=").unwrap_err(),
            SecretError::TooShort(5)
        );
        assert_eq!(format!("{a:?}"), "SigningSecret([redacted])");
        let g = SigningSecret::generate();
        assert_eq!(SigningSecret::parse(&g.expose_whsec()).unwrap().0, g.0);
    }
}
