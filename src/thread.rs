//! Conversation state that outlives a render: where the thread id is persisted, its storage
//! key, and the bound on messages waiting for the server (the send queue itself is
//! `crate::conversation`).
//!
//! Invariant: the storage key depends only on server URL and bot, so two widgets for
//! different bots on one page never share a thread.

use thiserror::Error;

/// Where the thread id is kept between page loads.
#[derive(Clone, Copy, PartialEq, Eq, Debug)]
pub enum Persistence {
    Local,
    Session,
    None,
}

impl Persistence {
    pub fn parse(s: &str) -> Result<Persistence, Error> {
        match s {
            "local" => Ok(Persistence::Local),
            "session" => Ok(Persistence::Session),
            "none" => Ok(Persistence::None),
            _ => Err(Error::BadPersistence(s.into())),
        }
    }
}

/// Errors of this module.
#[derive(Debug, Error, PartialEq, Eq)]
pub enum Error {
    #[error("options.persistence must be \"local\", \"session\" or \"none\", not \"{0}\"")]
    BadPersistence(String),
    #[error("loadThreadById: the thread id must be a non-empty string")]
    BadThreadId,
    #[error("send: 256 messages are already waiting for the server; this one was not queued")]
    OutboxFull,
}

/// How many messages may wait for the transport (every queue has a bound).
pub const OUTBOX_LIMIT: usize = 256;

/// The storage key for a widget's thread id.
pub fn storage_key(server_url: &str, bot: Option<&str>) -> String {
    let mut k = String::from("natter.thread:");
    k.push_str(server_url);
    k.push('#');
    k.push_str(bot.unwrap_or(""));
    k
}

/// Validates a thread id given to `loadThreadById`.
pub fn check_thread_id(id: &str) -> Result<(), Error> {
    if id.trim().is_empty() {
        return Err(Error::BadThreadId);
    }
    Ok(())
}

/// Appends a decimal number without pulling in `core::fmt` integer formatting.
pub fn push_u32(s: &mut String, mut n: u32) {
    let mut buf = [0u8; 10];
    let mut i = buf.len();
    loop {
        i -= 1;
        buf[i] = b'0' + (n % 10) as u8;
        n /= 10;
        if n == 0 {
            break;
        }
    }
    for &b in &buf[i..] {
        s.push(b as char);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn persistence_and_keys() {
        assert_eq!(Persistence::parse("session"), Ok(Persistence::Session));
        assert!(Persistence::parse("cookie")
            .unwrap_err()
            .to_string()
            .contains("\"local\""));
        assert_ne!(
            storage_key("https://a", Some("x")),
            storage_key("https://a", Some("y"))
        );
        assert!(check_thread_id("  ").is_err() && check_thread_id("t1").is_ok());
    }

    #[test]
    fn numbers() {
        let mut s = String::new();
        push_u32(&mut s, 4_000_000_123);
        assert_eq!(s, "4000000123");
    }
}

impl Error {
    /// The same text as `Display`, built without `core::fmt`.
    pub fn msg(&self) -> String {
        match self {
            Error::BadPersistence(p) => crate::cat(&[
                "options.persistence must be \"local\", \"session\" or \"none\", not \"",
                p,
                "\"",
            ]),
            Error::BadThreadId => "loadThreadById: the thread id must be a non-empty string".into(),
            Error::OutboxFull => {
                "send: 256 messages are already waiting for the server; this one was not queued"
                    .into()
            }
        }
    }
}
