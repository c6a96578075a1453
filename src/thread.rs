//! Conversation state that outlives a render: the thread id (and where it is persisted) and
//! the outbox of messages accepted by `send()` — the seam the network transport (issue 4)
//! plugs into: it drains the outbox and reports server events back to the shell.
//!
//! Invariants: the storage key depends only on server URL and bot, so two widgets for
//! different bots on one page never share a thread; the outbox keeps send order and gives
//! every message a client message id unique within the page (`<prefix>-<seq>`), which the
//! transport will use for idempotent POSTs.

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

/// How many messages may wait for the transport (DESIGN §6: every queue has a bound).
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

/// A message accepted by `send()` and not yet handed to the transport.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Outgoing {
    pub client_message_id: String,
    pub content: String,
    pub silent: bool,
}

/// Messages waiting for the transport, in send order.
#[derive(Debug)]
pub struct Outbox {
    prefix: String,
    seq: u32,
    items: Vec<Outgoing>,
}

impl Outbox {
    /// `prefix` should be random per page load (the shell uses `crypto.randomUUID` or the clock).
    pub fn new(prefix: String) -> Outbox {
        Outbox {
            prefix,
            seq: 0,
            items: Vec::new(),
        }
    }

    /// Queues a message; returns its client message id, or an error when
    /// [`OUTBOX_LIMIT`] messages are already waiting.
    pub fn push(&mut self, content: String, silent: bool) -> Result<String, Error> {
        if self.items.len() >= OUTBOX_LIMIT {
            return Err(Error::OutboxFull);
        }
        self.seq = self.seq.wrapping_add(1);
        let mut id = self.prefix.clone();
        id.push('-');
        push_u32(&mut id, self.seq);
        self.items.push(Outgoing {
            client_message_id: id.clone(),
            content,
            silent,
        });
        Ok(id)
    }

    /// Hands every queued message to the transport, oldest first.
    pub fn drain(&mut self) -> Vec<Outgoing> {
        std::mem::take(&mut self.items)
    }

    pub fn len(&self) -> usize {
        self.items.len()
    }

    pub fn is_empty(&self) -> bool {
        self.items.is_empty()
    }
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
    fn outbox_keeps_order_and_ids() {
        let mut o = Outbox::new("p".into());
        assert_eq!(o.push("a".into(), false), Ok("p-1".into()));
        assert_eq!(o.push("b".into(), true), Ok("p-2".into()));
        let d = o.drain();
        assert_eq!(
            d.iter().map(|m| m.content.as_str()).collect::<Vec<_>>(),
            ["a", "b"]
        );
        assert!(d[1].silent && o.is_empty());
        for _ in 0..OUTBOX_LIMIT {
            o.push("x".into(), false).unwrap();
        }
        assert_eq!(
            o.push("one too many".into(), false),
            Err(Error::OutboxFull),
            "the queue is bounded"
        );
        assert_eq!(o.drain().len(), OUTBOX_LIMIT);
        assert!(o.push("room again".into(), false).is_ok());
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
