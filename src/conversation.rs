//! The conversation's state that is not the DOM, pure (no JS) so it is tested natively: the
//! visitor's sends, from `pre:send` to acknowledged ([`Sends`], a state machine the browser
//! shell drives with what happens on the wire), and the feedback given ([`Given`]).
//!
//! A send is acknowledged by whichever comes first: the `202` to its POST, or the event
//! stream's own record of it (`message.created` carrying its `clientMessageId`). The stream
//! delivers a message's record before any event of the reply it causes, so firing `send` at
//! the first acknowledgement puts `send` before that reply's `pre:stream:delta` /
//! `pre:receive` whatever order the 202 and the stream arrive in.
//!
//! Invariants:
//! * at most [`LIMIT`] sends wait; a send is acknowledged (or failed) at most once: the second
//!   acknowledgement of the same id is `None`, so `send` never fires twice;
//! * sends go to the server oldest first, each with its client message id, which the server
//!   de-duplicates: re-sending an unacknowledged message (retry, reload) never doubles it;
//! * [`Sends::stored`] is exactly the unacknowledged sends, in order: what the shell keeps in
//!   storage beside the thread id so a reload re-sends them ([`Sends::restore`]);
//! * a visitor's message seen on the stream ([`Sends::echo`]) is shown once: as its pending
//!   bubble when it is one of ours, as a new bubble only when this page did not send it.

use crate::thread::push_u32;

/// The feedback the visitor gave, by message id: what history reports and each thumb click
/// since (the thumbs' pressed state, `message_state.feedback`). One entry per message, the
/// latest choice; forgotten at restart.
#[derive(Debug, Default)]
pub struct Given(Vec<(String, bool)>);

impl Given {
    /// The feedback given to message `id`: `Some(isPositive)`, or `None`.
    pub fn of(&self, id: &str) -> Option<bool> {
        self.0.iter().find(|f| f.0 == id).map(|f| f.1)
    }

    /// `positive` is now the feedback given to message `id`.
    pub fn choose(&mut self, id: String, positive: bool) {
        match self.0.iter_mut().find(|f| f.0 == id) {
            Some(f) => f.1 = positive,
            None => self.0.push((id, positive)),
        }
    }

    pub fn clear(&mut self) {
        self.0.clear();
    }
}

/// How many sends may wait for their acknowledgement.
pub const LIMIT: usize = crate::thread::OUTBOX_LIMIT;

/// One send waiting for its acknowledgement, with the shell's own data `T`.
#[derive(Debug)]
pub struct Send<T> {
    pub cmid: String,
    pub content: String,
    /// Restored from storage after a reload (no `send()` promise or handler state waits).
    pub restored: bool,
    pub extra: T,
}

/// The waiting sends, oldest first.
#[derive(Debug)]
pub struct Sends<T> {
    prefix: String,
    seq: u32,
    items: Vec<Send<T>>,
    /// Client message ids settled so far (their bubbles are shown already).
    settled: Vec<String>,
}

/// What the stream's record of a visitor's message (`message.created` with its
/// `clientMessageId`) is to this page.
#[derive(Debug, PartialEq, Eq)]
pub enum Echo {
    /// One of ours, waiting: its acknowledgement ([`Sends::settle`] it; `send` fires).
    Ack,
    /// One of ours, settled already: shown, nothing to do.
    Known,
    /// Not sent from this page (another tab, the agent console's record): show it.
    Show,
}

/// Why a send was not queued.
#[derive(Debug, PartialEq, Eq)]
pub enum Full {
    /// [`LIMIT`] sends already wait.
    Full,
}

impl<T> Default for Sends<T> {
    fn default() -> Sends<T> {
        Sends::new(String::new())
    }
}

impl<T> Sends<T> {
    /// `prefix` is random per page load: client message ids never repeat across loads.
    pub fn new(prefix: String) -> Sends<T> {
        Sends {
            prefix,
            seq: 0,
            items: Vec::new(),
            settled: Vec::new(),
        }
    }

    /// Queues a new send; returns its client message id.
    pub fn queue(&mut self, content: String, extra: T) -> Result<String, Full> {
        if self.items.len() >= LIMIT {
            return Err(Full::Full);
        }
        self.seq = self.seq.wrapping_add(1);
        let mut cmid = self.prefix.clone();
        cmid.push('-');
        push_u32(&mut cmid, self.seq);
        self.items.push(Send {
            cmid: cmid.clone(),
            content,
            restored: false,
            extra,
        });
        Ok(cmid)
    }

    /// Takes back a send kept in storage by an earlier page (same id: the server keeps it
    /// once). Ignored when that id already waits or the queue is full.
    pub fn restore(&mut self, cmid: String, content: String, extra: T) -> bool {
        if self.items.len() >= LIMIT || self.waiting(&cmid) {
            return false;
        }
        self.items.push(Send {
            cmid,
            content,
            restored: true,
            extra,
        });
        true
    }

    /// The send to POST next: (client message id, content).
    pub fn next(&self) -> Option<(&str, &str)> {
        self.items
            .first()
            .map(|s| (s.cmid.as_str(), s.content.as_str()))
    }

    /// Whether `cmid` is one of ours still waiting.
    pub fn waiting(&self, cmid: &str) -> bool {
        self.items.iter().any(|s| s.cmid == cmid)
    }

    /// `cmid` was acknowledged (202, or seen on the stream), or refused for good: the send,
    /// the first time only.
    pub fn settle(&mut self, cmid: &str) -> Option<Send<T>> {
        let i = self.items.iter().position(|s| s.cmid == cmid)?;
        self.settled.push(cmid.to_string());
        Some(self.items.remove(i))
    }

    /// The stream's `message.created` of a visitor's message with client message id `cmid`.
    pub fn echo(&self, cmid: &str) -> Echo {
        if self.waiting(cmid) {
            Echo::Ack
        } else if self.settled.iter().any(|c| c == cmid) {
            Echo::Known
        } else {
            Echo::Show
        }
    }

    /// Every waiting send, oldest first (restart, no conversation possible).
    pub fn take_all(&mut self) -> Vec<Send<T>> {
        std::mem::take(&mut self.items)
    }

    /// What to keep in storage: the waiting sends, oldest first (with the shell's data, which
    /// keeps what else a send carries, e.g. its files).
    pub fn stored(&self) -> &[Send<T>] {
        &self.items
    }

    /// The shell's data of every waiting send, oldest first.
    pub fn iter_extra(&self) -> impl Iterator<Item = &T> {
        self.items.iter().map(|s| &s.extra)
    }

    pub fn len(&self) -> usize {
        self.items.len()
    }

    pub fn is_empty(&self) -> bool {
        self.items.is_empty()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn order_and_ids() {
        let mut s: Sends<()> = Sends::new("p".into());
        assert_eq!(s.queue("a".into(), ()), Ok("p-1".into()));
        assert_eq!(s.queue("b".into(), ()), Ok("p-2".into()));
        assert_eq!(s.next(), Some(("p-1", "a")), "oldest first");
        let kept: Vec<(&str, &str)> = s
            .stored()
            .iter()
            .map(|x| (x.cmid.as_str(), x.content.as_str()))
            .collect();
        assert_eq!(kept, [("p-1", "a"), ("p-2", "b")]);
    }

    #[test]
    fn acknowledged_once_whichever_comes_first() {
        let mut s: Sends<u8> = Sends::new("p".into());
        let id = s.queue("hi".into(), 7).unwrap();
        // the stream's message.created arrives before the 202
        let first = s.settle(&id).expect("first ack fires send");
        assert_eq!((first.content.as_str(), first.extra), ("hi", 7));
        assert!(s.settle(&id).is_none(), "the 202 after it fires nothing");
        assert!(!s.waiting(&id) && s.is_empty() && s.next().is_none());
        assert_eq!(
            s.stored().len(),
            0,
            "nothing left to re-send after a reload"
        );
    }

    #[test]
    fn the_streams_record_of_a_send_is_shown_once() {
        let mut s: Sends<()> = Sends::new("p".into());
        let id = s.queue("hi".into(), ()).unwrap();
        // the stream's record arrives first: it is the acknowledgement
        assert_eq!(s.echo(&id), Echo::Ack);
        assert!(s.settle(&id).is_some());
        // the 202 after it settles nothing; a record seen again is known
        assert!(s.settle(&id).is_none());
        assert_eq!(s.echo(&id), Echo::Known);
        // the 202 first: the stream's record after it is known, not a second bubble
        let two = s.queue("again".into(), ()).unwrap();
        assert!(s.settle(&two).is_some());
        assert_eq!(s.echo(&two), Echo::Known);
        // a message this page did not send (another tab), or one without an id: shown
        assert_eq!(s.echo("q-1"), Echo::Show);
        assert_eq!(s.echo(""), Echo::Show);
    }

    #[test]
    fn a_refused_send_is_not_shown_again() {
        let mut s: Sends<()> = Sends::new("p".into());
        let id = s.queue("x".into(), ()).unwrap();
        s.take_all();
        assert_eq!(
            s.echo(&id),
            Echo::Show,
            "taken back at restart: not ours any more"
        );
        let id = s.queue("y".into(), ()).unwrap();
        s.settle(&id); // refused for good (its bubble marked failed)
        assert_eq!(s.echo(&id), Echo::Known);
    }

    #[test]
    fn feedback_given_latest_wins_and_restart_forgets() {
        let mut g = Given::default();
        // history says the visitor liked m1
        g.choose("m1".into(), true);
        assert_eq!((g.of("m1"), g.of("m2")), (Some(true), None));
        // they change their mind, then rate another message
        g.choose("m1".into(), false);
        g.choose("m2".into(), true);
        assert_eq!((g.of("m1"), g.of("m2")), (Some(false), Some(true)));
        assert_eq!(g.0.len(), 2, "one entry per message");
        g.clear();
        assert_eq!(
            g.of("m1"),
            None,
            "a restarted conversation shows no feedback"
        );
    }

    #[test]
    fn bounded() {
        let mut s: Sends<()> = Sends::new("p".into());
        for _ in 0..LIMIT {
            s.queue("x".into(), ()).unwrap();
        }
        assert_eq!(s.queue("one too many".into(), ()), Err(Full::Full));
        assert!(!s.restore("q-1".into(), "y".into(), ()));
        let first = s.next().unwrap().0.to_string();
        s.settle(&first);
        assert!(s.queue("room again".into(), ()).is_ok());
        assert_eq!(s.len(), LIMIT);
    }

    #[test]
    fn reload_restores_without_doubling() {
        // page 1 queued two sends, one acknowledged, then the tab reloaded
        let mut one: Sends<()> = Sends::new("a".into());
        let x = one.queue("x".into(), ()).unwrap();
        one.queue("y".into(), ()).unwrap();
        one.settle(&x);
        let kept: Vec<(String, String)> = one
            .stored()
            .iter()
            .map(|s| (s.cmid.clone(), s.content.clone()))
            .collect();
        assert_eq!(kept, [("a-2".to_string(), "y".to_string())]);
        // page 2 restores them, twice (two tabs, or a double init): kept once
        let mut two: Sends<()> = Sends::new("b".into());
        for (c, t) in kept.iter().chain(kept.iter()) {
            two.restore(c.clone(), t.clone(), ());
        }
        assert_eq!(two.len(), 1);
        assert_eq!(
            two.next(),
            Some(("a-2", "y")),
            "same id: the server keeps it once"
        );
        assert!(two.items[0].restored);
        let new = two.queue("z".into(), ()).unwrap();
        assert_eq!(new, "b-1", "new sends after the restored ones");
        assert_eq!(two.take_all().len(), 2);
    }
}
