//! Identifier generation. The prefix says what the id names.
//!
//! Thread ids are random (UUID v4, 122 bits): a thread id is also a bearer capability for
//! anonymous bots, so it cannot be guessed. Message and run ids, which grant nothing, are
//! time-ordered (UUID v7: milliseconds, then 74 random bits): every reply adds two messages and
//! a run, and an id that sorts after the last one is appended to its index's last page instead
//! of landing on a random one (a random page per id was a written page per id in every group
//! commit; bench/server/README.md).

use uuid::Uuid;

fn prefixed(prefix: &str) -> String {
    format!("{prefix}_{}", Uuid::new_v4().simple())
}

fn ordered(prefix: &str) -> String {
    format!("{prefix}_{}", Uuid::now_v7().simple())
}

pub fn thread() -> String {
    prefixed("thr")
}
pub fn message() -> String {
    ordered("msg")
}
pub fn run() -> String {
    ordered("run")
}
pub fn feedback() -> String {
    prefixed("fb")
}

/// The short, human-quotable id of a conversation (`publicId`): 10 characters of Crockford
/// base32 (no I, L, O, U), for support staff to read aloud.
pub fn public_id() -> String {
    const ALPHABET: &[u8] = b"0123456789ABCDEFGHJKMNPQRSTVWXYZ";
    let bits = Uuid::new_v4().as_u128();
    (0..10)
        .map(|i| ALPHABET[((bits >> (i * 5)) & 31) as usize] as char)
        .collect()
}

pub fn attachment() -> String {
    prefixed("att")
}
