//! The inbound API key check (`Authorization` on `/converse/chat` and
//! `/agent/converse/send-message-to-widget`).
//!
//! The template's client sends the bare key (`Authorization: <key>`); `Bearer <key>` is taken
//! too. Both sides are hashed with SHA-256 before a constant-time comparison, so neither the
//! contents nor the length of the key leak through timing.

use std::fmt;

use sha2::{Digest, Sha256};
use subtle::ConstantTimeEq;

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ApiKeyError {
    #[error("API key is empty")]
    Empty,
    #[error("API key has characters that cannot travel in an HTTP header")]
    NotHeaderSafe,
}

#[derive(Clone)]
pub struct ApiKey {
    digest: [u8; 32],
}

impl fmt::Debug for ApiKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("ApiKey([redacted])")
    }
}

fn digest(s: &str) -> [u8; 32] {
    Sha256::digest(s.as_bytes()).into()
}

/// Whether a presented secret equals the expected one, in time that depends on neither's
/// contents nor length: both are hashed to 32 bytes first, then compared in constant time.
/// The server's admin token, console CSRF tokens and CRM keys all go through this.
pub fn secrets_equal(presented: &[u8], expected: &[u8]) -> bool {
    let (a, b): ([u8; 32], [u8; 32]) = (
        Sha256::digest(presented).into(),
        Sha256::digest(expected).into(),
    );
    bool::from(a.ct_eq(&b))
}

impl ApiKey {
    pub fn new(key: &str) -> Result<Self, ApiKeyError> {
        let key = key.trim();
        if key.is_empty() {
            return Err(ApiKeyError::Empty);
        }
        if key.bytes().any(|b| !(0x21..=0x7e).contains(&b)) {
            return Err(ApiKeyError::NotHeaderSafe);
        }
        Ok(ApiKey {
            digest: digest(key),
        })
    }

    /// Whether the `Authorization` header value carries this key (bare or `Bearer <key>`).
    pub fn matches_authorization(&self, header: Option<&str>) -> bool {
        let Some(h) = header else { return false };
        let h = h.trim();
        let presented = match h.split_once(' ') {
            Some((scheme, rest)) if scheme.eq_ignore_ascii_case("bearer") => rest.trim(),
            _ => h,
        };
        bool::from(digest(presented).ct_eq(&self.digest))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn bare_and_bearer() {
        let k = ApiKey::new("k-123").unwrap();
        assert!(k.matches_authorization(Some("k-123")));
        assert!(k.matches_authorization(Some("Bearer k-123")));
        assert!(k.matches_authorization(Some("bearer  k-123 ")));
        assert!(!k.matches_authorization(Some("k-1234")));
        assert!(!k.matches_authorization(Some("Basic k-123")));
        assert!(!k.matches_authorization(Some("")));
        assert!(!k.matches_authorization(None));
        assert_eq!(ApiKey::new(" ").unwrap_err(), ApiKeyError::Empty);
        assert!(secrets_equal(b"abc", b"abc"));
        assert!(!secrets_equal(b"abc", b"abcd"));
        assert!(!secrets_equal(b"", b"abc"));
        assert_eq!(ApiKey::new("a b").unwrap_err(), ApiKeyError::NotHeaderSafe);
        assert_eq!(format!("{k:?}"), "ApiKey([redacted])");
    }
}
