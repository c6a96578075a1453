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
//! - Sessions live in memory for [`SESSION_TTL`] (a restart signs everyone out); signing out
//!   deletes the session at once. At most [`MAX_SESSIONS`] exist: the oldest goes first.

use std::collections::HashMap;
use std::sync::Mutex;
use std::time::{Duration, Instant};

use axum::http::{header, HeaderMap, HeaderValue};

pub const COOKIE: &str = "natter_console";
pub const CSRF_HEADER: &str = "x-csrf-token";
pub const SESSION_TTL: Duration = Duration::from_secs(12 * 3600);
pub const MAX_SESSIONS: usize = 1024;

#[derive(Debug, Clone)]
struct Session {
    csrf: String,
    created: Instant,
}

#[derive(Default)]
pub struct Sessions {
    map: Mutex<HashMap<String, Session>>,
}

fn random_id() -> String {
    format!(
        "{}{}",
        uuid::Uuid::new_v4().simple(),
        uuid::Uuid::new_v4().simple()
    )
}

/// Constant-time comparison: neither a secret's bytes nor its length leak through timing.
pub fn same(given: &[u8], expected: &[u8]) -> bool {
    natter_crm::auth::secrets_equal(given, expected)
}

impl Sessions {
    /// A new session: `(session id, csrf token)`.
    pub fn create(&self) -> (String, String) {
        let (id, csrf) = (random_id(), random_id());
        let mut map = self.map.lock().unwrap();
        map.retain(|_, s| s.created.elapsed() < SESSION_TTL);
        if map.len() >= MAX_SESSIONS {
            if let Some(oldest) = map
                .iter()
                .min_by_key(|(_, s)| s.created)
                .map(|(k, _)| k.clone())
            {
                map.remove(&oldest);
            }
        }
        map.insert(
            id.clone(),
            Session {
                csrf: csrf.clone(),
                created: Instant::now(),
            },
        );
        (id, csrf)
    }

    /// The CSRF token of a live session.
    pub fn csrf(&self, id: &str) -> Option<String> {
        let mut map = self.map.lock().unwrap();
        match map.get(id) {
            Some(s) if s.created.elapsed() < SESSION_TTL => Some(s.csrf.clone()),
            Some(_) => {
                map.remove(id);
                None
            }
            None => None,
        }
    }

    pub fn remove(&self, id: &str) {
        self.map.lock().unwrap().remove(id);
    }
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
    fn sessions_are_found_then_gone_after_removal() {
        let s = Sessions::default();
        let (id, csrf) = s.create();
        assert_eq!(id.len(), 64);
        assert_eq!(s.csrf(&id), Some(csrf));
        s.remove(&id);
        assert_eq!(s.csrf(&id), None);
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
