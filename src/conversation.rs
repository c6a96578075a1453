//! The conversation's state that is not the DOM, pure (no JS) so it is tested natively: the
//! visitor's sends, from `pre:send` to acknowledged ([`Sends`], a state machine the browser
//! shell drives with what happens on the wire), which of its loops run ([`Loops`]), the replies
//! being streamed ([`Replies`]) and the feedback given ([`Given`]).
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

/// The conversation's generation and which of its loops (the event stream, the send loop, the
/// thread's creation) run. Loading another thread, restarting, or a thread found gone starts a new generation.
///
/// Invariants: at most one stream, one send loop and one thread creation run per generation; a loop keeps the
/// generation it started in and stops at its next step once that is not [`Loops::current`],
/// so nothing of an old thread reaches the new one.
#[derive(Debug, Default)]
pub struct Loops {
    gen: u32,
    stream: bool,
    send: bool,
    create: bool,
    /// The token the server last refused the stream with (see [`Loops::stream_refused`]).
    refused: Option<String>,
}

impl Loops {
    pub fn gen(&self) -> u32 {
        self.gen
    }

    /// Whether a loop started in generation `gen` may go on.
    pub fn current(&self, gen: u32) -> bool {
        self.gen == gen
    }

    /// A new generation: the old loops stop; a new stream and send loop may start.
    pub fn restart(&mut self) -> u32 {
        self.gen = self.gen.wrapping_add(1);
        self.stream = false;
        self.send = false;
        self.create = false;
        self.gen
    }

    /// The stream may start (none runs): `Some(generation)` it runs in.
    pub fn start_stream(&mut self) -> Option<u32> {
        (!std::mem::replace(&mut self.stream, true)).then_some(self.gen)
    }

    /// The send loop may start (none runs): `Some(generation)` it runs in.
    pub fn start_sending(&mut self) -> Option<u32> {
        (!std::mem::replace(&mut self.send, true)).then_some(self.gen)
    }

    /// The stream stopped by itself (refused token, thread gone): a new one may start.
    pub fn stream_stopped(&mut self) {
        self.stream = false;
    }

    /// The thread's creation may start (none runs in this generation): whoever else needs the
    /// thread waits for this one instead of creating a second.
    pub fn start_creating(&mut self) -> bool {
        !std::mem::replace(&mut self.create, true)
    }

    /// The creation started in generation `gen` ended (created, refused or failed). One of an
    /// older generation ending changes nothing: the current one may be creating its own.
    pub fn created(&mut self, gen: u32) {
        if gen == self.gen {
            self.create = false;
        }
    }

    /// The server refused the stream even after a token refresh, with `token`: it stops, and
    /// starts again only for another token ([`Loops::resume_for`]).
    pub fn stream_refused(&mut self, token: Option<&str>) {
        self.stream = false;
        self.refused = token.map(Into::into);
    }

    /// A token is in place while the stream stands refused: whether to start it again. Not for
    /// the token it was refused with: an `authTokenNeeded` handler that gives the same bad
    /// token back must not start a stream that asks again (a request loop).
    pub fn resume_for(&self, token: Option<&str>) -> bool {
        token.is_some() && token != self.refused.as_deref()
    }

    /// The send loop ran out of sends (or gave up): a new one may start.
    pub fn sending_stopped(&mut self) {
        self.send = false;
    }
}

/// A reply being streamed: its message and run, the text waiting for the next frame, and the
/// shell's own data `T` (its bubble).
#[derive(Debug)]
pub struct Reply<T> {
    pub id: String,
    pub run: String,
    pub pending: String,
    pub extra: T,
}

/// The replies being streamed, in the order their first delta arrived.
///
/// Invariants: one reply per message id; a failed run's replies are dropped whole (a reply
/// started but not completed in that run is abandoned); a reply's final message takes its
/// reply out, so the bubble is reused, not doubled.
#[derive(Debug)]
pub struct Replies<T>(Vec<Reply<T>>);

impl<T> Default for Replies<T> {
    fn default() -> Replies<T> {
        Replies(Vec::new())
    }
}

impl<T> Replies<T> {
    pub fn has(&self, id: &str) -> bool {
        self.0.iter().any(|r| r.id == id)
    }

    /// A reply's first delta (see [`Replies::has`]).
    pub fn add(&mut self, id: String, run: String, extra: T) {
        self.0.push(Reply {
            id,
            run,
            pending: String::new(),
            extra,
        });
    }

    /// The text a delta of message `id` carries waits for the next frame.
    pub fn text(&mut self, id: &str) -> Option<&mut String> {
        self.0
            .iter_mut()
            .find(|r| r.id == id)
            .map(|r| &mut r.pending)
    }

    pub fn iter_mut(&mut self) -> impl Iterator<Item = &mut Reply<T>> {
        self.0.iter_mut()
    }

    /// Run `run` failed: its replies go, each handed to `gone` (the shell removes its bubble).
    pub fn abandon(&mut self, run: &str, mut gone: impl FnMut(&T)) {
        self.0.retain(|r| {
            if r.run == run {
                gone(&r.extra);
                false
            } else {
                true
            }
        });
    }

    /// Message `id` is complete: its reply, if it was streamed.
    pub fn finish(&mut self, id: &str) -> Option<Reply<T>> {
        let i = self.0.iter().position(|r| r.id == id)?;
        Some(self.0.remove(i))
    }

    pub fn clear(&mut self) {
        self.0.clear();
    }
}

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
    fn one_stream_and_one_send_loop_per_generation() {
        let mut l = Loops::default();
        let g = l.start_stream().expect("the first stream starts");
        assert_eq!(
            l.start_stream(),
            None,
            "a second stream of the same thread does not"
        );
        assert_eq!(l.start_sending(), Some(g));
        assert_eq!(l.start_sending(), None);
        l.sending_stopped();
        assert_eq!(
            l.start_sending(),
            Some(g),
            "sends queued later start a new loop"
        );
        l.stream_stopped();
        assert_eq!(
            l.start_stream(),
            Some(g),
            "a new token starts the stream again"
        );
        assert!(l.current(g));
    }

    #[test]
    fn a_refused_stream_starts_again_only_for_another_token() {
        let mut l = Loops::default();
        let g = l.start_stream().unwrap();
        l.stream_refused(Some("bad"));
        assert!(
            !l.resume_for(Some("bad")),
            "a handler giving the refused token back starts no request loop"
        );
        assert!(!l.resume_for(None), "no token, nothing to try");
        assert!(
            l.resume_for(Some("fresh")),
            "a new token brings the stream back"
        );
        assert_eq!(l.start_stream(), Some(g));
        l.stream_refused(None);
        assert!(
            l.resume_for(Some("bad")),
            "refused without a token: any token is worth a try"
        );
    }

    #[test]
    fn one_thread_creation_at_a_time() {
        let mut l = Loops::default();
        let old = l.gen();
        assert!(l.start_creating());
        assert!(
            !l.start_creating(),
            "a second send waits for the first creation"
        );
        let new = l.restart();
        assert!(
            l.start_creating(),
            "a restarted conversation creates its own thread"
        );
        l.created(old);
        assert!(
            !l.start_creating(),
            "the old creation ending does not let a third one start beside the new"
        );
        l.created(new);
        assert!(l.start_creating(), "failed: the next try may start");
    }

    #[test]
    fn restart_stops_the_old_loops() {
        let mut l = Loops::default();
        let old = l.start_stream().unwrap();
        l.start_sending();
        // restart (or another thread loaded, or the thread found gone)
        let new = l.restart();
        assert!(
            !l.current(old),
            "the old stream and send loop stop at their next step"
        );
        assert_eq!(
            l.start_stream(),
            Some(new),
            "the new thread streams at once"
        );
        assert_eq!(l.start_sending(), Some(new));
        assert!(l.current(new) && l.gen() == new);
    }

    #[test]
    fn streamed_replies() {
        let mut r: Replies<u8> = Replies::default();
        r.add("m1".into(), "r1".into(), 1);
        r.add("m2".into(), "r2".into(), 2);
        assert!(r.has("m1") && !r.has("m3"));
        r.text("m1").unwrap().push_str("Hel");
        r.text("m1").unwrap().push_str("lo");
        assert!(r.text("m3").is_none(), "no reply, nowhere to put text");
        let frame: Vec<String> = r
            .iter_mut()
            .map(|x| std::mem::take(&mut x.pending))
            .collect();
        assert_eq!(
            frame,
            ["Hello", ""],
            "one frame takes every delta so far, in order"
        );
        // run r2 fails: its reply goes, m1's stays
        let mut gone = Vec::new();
        r.abandon("r2", |x| gone.push(*x));
        assert_eq!(gone, [2]);
        assert!(!r.has("m2") && r.has("m1"));
        // m1's final message takes its reply (its bubble is reused), once
        assert_eq!(r.finish("m1").map(|x| x.extra), Some(1));
        assert!(r.finish("m1").is_none());
        r.add("m3".into(), "r3".into(), 3);
        r.clear();
        assert!(
            !r.has("m3"),
            "another thread loaded: nothing streams into it"
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
