//! Console sessions: the admin token is typed once on the sign-in page and exchanged for a
//! session cookie; the admin API then accepts either the cookie or `Authorization: Bearer`.
//!
//! Invariants:
//! - The cookie (`natter_console`) holds only a random session id (244 random bits), never the
//!   token; it is `HttpOnly`, `SameSite=Strict`, `Path=/`, and `Secure` when the request came
//!   over https (a TLS-terminating proxy says so with `X-Forwarded-Proto: https`).
//! - Every session has its own CSRF token, readable by the console's script
//!   (`GET /console/session`) and required in `X-CSRF-Token` on every state-changing request
//!   made with the cookie. Bearer requests carry no ambient credential and need none.
//! - Sessions live in the store (every instance on it knows them) for [`SESSION_TTL`]; the
//!   store keeps only the SHA-256 of a session id, so reading the table gives no session.
//!   Signing out deletes the session at once, on every instance. At most [`MAX_SESSIONS`]
//!   exist: the oldest goes first.

use std::time::Duration;

use axum::http::{header, HeaderMap, HeaderValue};
use sha2::{Digest, Sha256};

use crate::store::console::ConsoleSession;
use crate::store::{Store, StoreError};

pub const COOKIE: &str = "natter_console";
pub const CSRF_HEADER: &str = "x-csrf-token";
pub const SESSION_TTL: Duration = Duration::from_secs(12 * 3600);
pub const MAX_SESSIONS: u32 = 1024;

fn random_id() -> String {
    format!(
        "{}{}",
        uuid::Uuid::new_v4().simple(),
        uuid::Uuid::new_v4().simple()
    )
}

fn id_hash(id: &str) -> String {
    Sha256::digest(id.as_bytes())
        .iter()
        .map(|b| format!("{b:02x}"))
        .collect()
}

/// Constant-time comparison: neither a secret's bytes nor its length leak through timing.
pub fn same(given: &[u8], expected: &[u8]) -> bool {
    natter_crm::auth::secrets_equal(given, expected)
}

/// A new session: `(session id, csrf token)`.
pub async fn create(store: &dyn Store) -> Result<(String, String), StoreError> {
    let (id, csrf) = (random_id(), random_id());
    let now = crate::outbox::now_ms();
    store
        .create_console_session(
            ConsoleSession {
                id_hash: id_hash(&id),
                csrf: csrf.clone(),
                created_at: now,
                expires_at: now + SESSION_TTL.as_millis() as i64,
            },
            MAX_SESSIONS,
        )
        .await?;
    Ok((id, csrf))
}

/// The CSRF token of a live session; `None` for an unknown or expired one, or when the store
/// cannot answer (logged: the request is refused, never let through).
pub async fn csrf(store: &dyn Store, id: &str) -> Option<String> {
    match store
        .console_session_csrf(&id_hash(id), crate::outbox::now_ms())
        .await
    {
        Ok(csrf) => csrf,
        Err(e) => {
            tracing::error!(error = %e, "console: reading the session failed");
            None
        }
    }
}

pub async fn remove(store: &dyn Store, id: &str) -> Result<(), StoreError> {
    store.remove_console_session(&id_hash(id)).await
}

/// The session id in the request's cookies, if any.
pub fn cookie(headers: &HeaderMap) -> Option<String> {
    headers
        .get_all(header::COOKIE)
        .iter()
        .filter_map(|v| v.to_str().ok())
        .flat_map(|v| v.split(';'))
        .filter_map(|kv| kv.trim().split_once('='))
        .find(|(k, _)| *k == COOKIE)
        .map(|(_, v)| v.to_string())
}

/// Whether the browser reached us over https (directly or through a proxy that says so).
pub fn is_https(headers: &HeaderMap) -> bool {
    headers
        .get("x-forwarded-proto")
        .and_then(|v| v.to_str().ok())
        .is_some_and(|v| v.eq_ignore_ascii_case("https"))
}

/// `Set-Cookie` for a new session, or (with `None`) one that deletes it.
pub fn set_cookie(id: Option<&str>, https: bool) -> HeaderValue {
    let secure = if https { "; Secure" } else { "" };
    let v = match id {
        Some(id) => format!(
            "{COOKIE}={id}; Path=/; HttpOnly; SameSite=Strict; Max-Age={}{secure}",
            SESSION_TTL.as_secs()
        ),
        None => format!("{COOKIE}=; Path=/; HttpOnly; SameSite=Strict; Max-Age=0{secure}"),
    };
    HeaderValue::from_str(&v).expect("cookie is ASCII")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_store_sees_a_hash_never_the_id() {
        let id = random_id();
        assert_eq!(id.len(), 64);
        let h = id_hash(&id);
        assert_eq!(h.len(), 64);
        assert_ne!(h, id);
        assert_eq!(h, id_hash(&id));
    }

    #[test]
    fn cookie_is_read_among_others() {
        let mut h = HeaderMap::new();
        h.insert(
            header::COOKIE,
            HeaderValue::from_static("a=1; natter_console=abc; b=2"),
        );
        assert_eq!(cookie(&h).as_deref(), Some("abc"));
    }

    #[test]
    fn secure_only_over_https() {
        assert!(set_cookie(Some("x"), true)
            .to_str()
            .unwrap()
            .ends_with("; Secure"));
        let plain = set_cookie(Some("x"), false);
        let plain = plain.to_str().unwrap();
        assert!(plain.contains("HttpOnly; SameSite=Strict") && !plain.contains("Secure"));
    }
}
