//! Identifier generation. Ids are random (UUID v4, 122 bits) so a thread id is also a bearer
//! capability for anonymous bots: it cannot be guessed. The prefix says what the id names.

use uuid::Uuid;

fn prefixed(prefix: &str) -> String {
    format!("{prefix}_{}", Uuid::new_v4().simple())
}

pub fn thread() -> String {
    prefixed("thr")
}
pub fn message() -> String {
    prefixed("msg")
}
pub fn run() -> String {
    prefixed("run")
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
