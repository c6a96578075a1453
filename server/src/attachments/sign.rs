//! Download URLs valid for a short time without any other credential, for readers that have no
//! visitor token or console session: the CRM (in `widgetMessage`), Python actions and handlers.
//!
//! A signed URL is the attachment's path plus `exp` (Unix seconds) and `sig`, the hex
//! HMAC-SHA256 of `thread/attachment/exp` under the server's key: `NATTER_ATTACHMENT_KEY`
//! when set (several instances behind one address must share it), else a random key made at
//! start (URLs then die with the process).

use std::sync::OnceLock;

use hmac::{Hmac, Mac};
use sha2::Sha256;

type HmacSha256 = Hmac<Sha256>;

/// The environment variable of the signing key.
pub const KEY_ENV: &str = "NATTER_ATTACHMENT_KEY";

fn key() -> &'static [u8] {
    static KEY: OnceLock<Vec<u8>> = OnceLock::new();
    KEY.get_or_init(|| match std::env::var(KEY_ENV) {
        Ok(k) if !k.is_empty() => k.into_bytes(),
        _ => {
            let mut k = uuid::Uuid::new_v4().as_bytes().to_vec();
            k.extend_from_slice(uuid::Uuid::new_v4().as_bytes());
            k
        }
    })
}

fn mac(thread_id: &str, attachment_id: &str, exp: u64) -> HmacSha256 {
    let mut m = HmacSha256::new_from_slice(key()).expect("HMAC takes any key length");
    m.update(format!("{thread_id}/{attachment_id}/{exp}").as_bytes());
    m
}

/// The path of an attachment (what history and events carry; the reader's own credentials
/// apply).
pub fn path(thread_id: &str, attachment_id: &str) -> String {
    format!("/v1/threads/{thread_id}/attachments/{attachment_id}")
}

/// [`path`] plus a signature valid until `now + ttl`.
pub fn signed_path(thread_id: &str, attachment_id: &str, ttl: std::time::Duration) -> String {
    signed_until(thread_id, attachment_id, now_secs() + ttl.as_secs())
}

/// [`signed_path`] valid for at least `ttl`, its expiry rounded up to the next full hour: every
/// URL of one file handed out within the same hour is the same string (history, the event
/// stream and the upload answer agree, and a browser's cache keeps the image).
pub fn signed_path_hourly(
    thread_id: &str,
    attachment_id: &str,
    ttl: std::time::Duration,
) -> String {
    let exp = (now_secs() + ttl.as_secs()).div_ceil(3600) * 3600;
    signed_until(thread_id, attachment_id, exp)
}

fn signed_until(thread_id: &str, attachment_id: &str, exp: u64) -> String {
    let sig = mac(thread_id, attachment_id, exp).finalize().into_bytes();
    let hex: String = sig.iter().map(|b| format!("{b:02x}")).collect();
    format!("{}?exp={exp}&sig={hex}", path(thread_id, attachment_id))
}

/// Whether `sig` signs this attachment until `exp`, and `exp` has not passed.
pub fn verify(thread_id: &str, attachment_id: &str, exp: u64, sig: &str) -> bool {
    if exp < now_secs() || sig.len() != 64 {
        return false;
    }
    let Some(bytes) = (0..32)
        .map(|i| u8::from_str_radix(sig.get(2 * i..2 * i + 2)?, 16).ok())
        .collect::<Option<Vec<u8>>>()
    else {
        return false;
    };
    mac(thread_id, attachment_id, exp)
        .verify_slice(&bytes)
        .is_ok()
}

fn now_secs() -> u64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| d.as_secs())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_signature_holds_for_its_attachment_only() {
        let p = signed_path("thr_a", "att_b", std::time::Duration::from_secs(60));
        let q = p.split_once('?').unwrap().1;
        let exp: u64 = q.split('&').next().unwrap()[4..].parse().unwrap();
        let sig = &q.split('&').nth(1).unwrap()[4..];
        assert!(verify("thr_a", "att_b", exp, sig));
        assert!(!verify("thr_a", "att_c", exp, sig));
        assert!(!verify("thr_x", "att_b", exp, sig));
        assert!(!verify("thr_a", "att_b", exp + 1, sig));
        assert!(!verify("thr_a", "att_b", 1, sig), "expired");
    }
}
