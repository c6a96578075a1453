//! The transport's pure decisions: the reconnect/retry backoff schedule, the connection state
//! shown to the visitor, which stream events are new (seq de-duplication), what a server event
//! type is, and how streamed text is cut into render blocks. The browser shell
//! (`web::chat`) does the fetching and the DOM; every rule is here and tested natively.
//!
//! Invariants:
//! * [`Backoff`] delays grow ×2 from [`BASE_MS`] to [`CAP_MS`], each jittered into
//!   `[d/2, d]`; a success resets it;
//! * [`Seq::accept`] accepts each seq at most once and only in increasing order, so a resumed
//!   stream never repeats an event;
//! * [`split_blocks`] never loses or reorders text: concatenating its segments gives the input.

/// First retry delay.
pub const BASE_MS: u32 = 500;
/// Longest retry delay.
pub const CAP_MS: u32 = 10_000;
/// How long a typing indicator may show without news before it is taken down.
pub const TYPING_TIMEOUT_MS: u32 = 30_000;
/// A streamed text block is closed once it holds this many bytes and a break point comes.
pub const BLOCK_BYTES: usize = 1024;

/// Capped, jittered exponential backoff.
#[derive(Debug, Default, Clone)]
pub struct Backoff {
    attempt: u32,
}

impl Backoff {
    pub fn new() -> Backoff {
        Backoff::default()
    }

    /// The next delay in ms; `rand` is uniform in `[0, 1)`.
    pub fn next(&mut self, rand: f64) -> u32 {
        let d = BASE_MS.saturating_mul(1 << self.attempt.min(8)).min(CAP_MS);
        self.attempt = self.attempt.saturating_add(1);
        let r = if rand.is_finite() {
            rand.clamp(0.0, 1.0)
        } else {
            0.5
        };
        d / 2 + (f64::from(d / 2) * r) as u32
    }

    /// Back to the first delay (after a success).
    pub fn reset(&mut self) {
        self.attempt = 0;
    }

    pub fn attempts(&self) -> u32 {
        self.attempt
    }
}

/// The connection state the widget shows.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Conn {
    /// No thread yet: nothing to connect.
    Idle,
    Connecting,
    Online,
    /// Lost; retrying with backoff.
    Reconnecting,
    /// The server refused the auth token, also the one `authTokenNeeded` gave: stopped until
    /// a new token is set.
    Unauthorized,
}

impl Conn {
    /// The `strings` key shown for this state (`None`: nothing shown).
    pub fn label(self) -> Option<&'static str> {
        match self {
            Conn::Reconnecting => Some("reconnecting"),
            Conn::Unauthorized => Some("authFailed"),
            _ => None,
        }
    }
}

/// The last stream seq processed.
#[derive(Debug, Default, Clone, Copy)]
pub struct Seq {
    pub last: u64,
}

impl Seq {
    /// Whether `seq` is new; records it.
    pub fn accept(&mut self, seq: u64) -> bool {
        if seq <= self.last {
            return false;
        }
        self.last = seq;
        true
    }
}

/// Server event types (docs/protocol.md §7).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Kind {
    MessageCreated,
    RunStarted,
    MessageStarted,
    MessageDelta,
    MessageCompleted,
    RunCompleted,
    RunFailed,
    HandedOff,
    Closed,
    AgentJoined,
    AgentTyping,
    AgentMessage,
    AgentLeft,
    Other,
}

impl Kind {
    pub fn parse(s: &str) -> Kind {
        match s {
            "message.created" => Kind::MessageCreated,
            "run.started" => Kind::RunStarted,
            "message.started" => Kind::MessageStarted,
            "message.delta" => Kind::MessageDelta,
            "message.completed" => Kind::MessageCompleted,
            "run.completed" => Kind::RunCompleted,
            "run.failed" => Kind::RunFailed,
            "thread.handed_off" => Kind::HandedOff,
            "thread.closed" => Kind::Closed,
            "agent.joined" => Kind::AgentJoined,
            "agent.typing" => Kind::AgentTyping,
            "agent.message" => Kind::AgentMessage,
            "agent.left" => Kind::AgentLeft,
            _ => Kind::Other,
        }
    }

    /// Whether this event takes the bot's typing indicator down.
    pub fn ends_typing(self) -> bool {
        matches!(
            self,
            Kind::MessageDelta
                | Kind::MessageCompleted
                | Kind::RunCompleted
                | Kind::RunFailed
                | Kind::HandedOff
                | Kind::Closed
                | Kind::AgentMessage
        )
    }
}

/// What to do with an HTTP status of a request that must eventually succeed (a send).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Verdict {
    Done,
    /// Try again after a backoff delay (network error, 408, 429, 5xx).
    Retry,
    /// The thread is gone or closed: start a new one and try again.
    NewThread,
    /// The request itself is wrong; retrying cannot help.
    GiveUp,
}

/// Classifies a status (0 = network error). 401 is handled before (auth refresh).
pub fn verdict(status: u16) -> Verdict {
    match status {
        200..=299 => Verdict::Done,
        0 | 408 | 425 | 429 | 500..=599 => Verdict::Retry,
        404 | 409 => Verdict::NewThread,
        _ => Verdict::GiveUp,
    }
}

/// Cuts streamed `text` into (new block?, piece) segments, given the bytes already in the
/// open block: a new block starts at a line break or space once the open one is full, so the
/// browser lays out only the last block per frame however long the reply grows.
pub fn split_blocks(mut open: usize, text: &str) -> Vec<(bool, &str)> {
    let mut out = Vec::new();
    let mut rest = text;
    let mut new_block = false;
    while !rest.is_empty() {
        let room = BLOCK_BYTES.saturating_sub(open);
        let cut = if rest.len() <= room {
            None
        } else {
            // first break point at or after `room`
            let mut i = room;
            while !rest.is_char_boundary(i) {
                i += 1;
            }
            rest[i..].find(['\n', ' ']).map(|j| i + j + 1)
        };
        match cut {
            Some(c) if c < rest.len() => {
                out.push((new_block, &rest[..c]));
                rest = &rest[c..];
                new_block = true;
                open = 0;
            }
            _ => {
                out.push((new_block, rest));
                break;
            }
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn backoff_grows_caps_jitters_and_resets() {
        let mut b = Backoff::new();
        let lows: Vec<u32> = (0..10).map(|_| b.next(0.0)).collect();
        assert_eq!(lows[..6], [250, 500, 1000, 2000, 4000, 5000]);
        assert!(lows.iter().all(|&d| d <= CAP_MS));
        let mut b = Backoff::new();
        assert_eq!(b.next(0.999_999), 499);
        for _ in 0..40 {
            let d = b.next(0.7);
            assert!((CAP_MS / 2..=CAP_MS).contains(&d) || d < CAP_MS);
        }
        assert!(b.next(1.0) <= CAP_MS);
        assert_eq!(b.next(f64::NAN), CAP_MS / 2 + CAP_MS / 4);
        b.reset();
        assert_eq!(b.next(0.0), 250);
    }

    #[test]
    fn seq_accepts_each_once_in_order() {
        let mut s = Seq::default();
        assert!(s.accept(1) && s.accept(2));
        assert!(!s.accept(2), "a repeat is dropped");
        assert!(!s.accept(1));
        assert!(s.accept(5));
        assert_eq!(s.last, 5);
    }

    #[test]
    fn kinds_and_typing() {
        assert_eq!(Kind::parse("message.delta"), Kind::MessageDelta);
        assert_eq!(Kind::parse("agent.left"), Kind::AgentLeft);
        assert_eq!(Kind::parse("thread.event"), Kind::Other);
        assert!(Kind::RunFailed.ends_typing() && Kind::MessageDelta.ends_typing());
        assert!(!Kind::RunStarted.ends_typing());
        assert_eq!(Conn::Reconnecting.label(), Some("reconnecting"));
        assert_eq!(Conn::Online.label(), None);
    }

    #[test]
    fn verdicts() {
        assert_eq!(verdict(202), Verdict::Done);
        for s in [0, 429, 500, 503] {
            assert_eq!(verdict(s), Verdict::Retry);
        }
        assert_eq!(verdict(409), Verdict::NewThread);
        assert_eq!(verdict(400), Verdict::GiveUp);
    }

    #[test]
    fn split_blocks_keeps_text_and_cuts_full_blocks_at_breaks() {
        let word = "abcdefg ";
        let text: String = word.repeat(1000);
        let segs = split_blocks(0, &text);
        let joined: String = segs.iter().map(|s| s.1).collect();
        assert_eq!(joined, text);
        assert!(!segs[0].0 && segs[1..].iter().all(|s| s.0));
        assert!(segs.iter().all(|s| s.1.len() <= BLOCK_BYTES + word.len()));
        // a small piece into a block with room stays in it
        assert_eq!(split_blocks(10, "hello"), vec![(false, "hello")]);
        // a full block and a piece with a break: new block after the break
        assert_eq!(
            split_blocks(BLOCK_BYTES, "ab cd"),
            vec![(false, "ab "), (true, "cd")]
        );
        // no break point: stays in the open block
        assert_eq!(split_blocks(BLOCK_BYTES, "abcd"), vec![(false, "abcd")]);
        // multibyte text
        let t = "é".repeat(700);
        let all = t + " x";
        let s = split_blocks(0, &all);
        assert_eq!(s.iter().map(|s| s.1).collect::<String>(), all);
    }
}
