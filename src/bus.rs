//! The listener registry behind `on` / `once` / `off`, generic over the handler type so it is
//! tested natively (the browser shell uses `js_sys::Function`).
//!
//! Invariants:
//! * listeners of an event run in registration order; `*` listeners interleave by the order in
//!   which they were registered;
//! * [`Registry::snapshot`] returns the listeners of one dispatch and removes the `once` ones
//!   it returned — a `once` listener is removed *before* it runs, so it runs at most once even
//!   if it re-enters the bus;
//! * the snapshot is a copy: adding or removing listeners while a dispatch runs changes only
//!   the next dispatch;
//! * registering the same handler twice registers it twice (like mitt/nanoevents, unlike
//!   `EventTarget`); `off(type, h)` removes every registration of `h` on that topic.

use crate::events::{EventType, Topic};

struct Entry<H> {
    topic: Topic,
    handler: H,
    once: bool,
}

/// Registered listeners, in registration order.
pub struct Registry<H> {
    entries: Vec<Entry<H>>,
}

impl<H> Default for Registry<H> {
    fn default() -> Self {
        Registry {
            entries: Vec::new(),
        }
    }
}

impl<H: Clone + PartialEq> Registry<H> {
    /// Adds a listener at the end.
    pub fn add(&mut self, topic: Topic, handler: H, once: bool) {
        self.entries.push(Entry {
            topic,
            handler,
            once,
        });
    }

    /// Removes the registrations of `handler` on exactly `topic` (or all of `topic` when
    /// `handler` is `None`). `off("*")` removes only `*` listeners. Returns how many went.
    pub fn remove(&mut self, topic: Topic, handler: Option<&H>) -> usize {
        let before = self.entries.len();
        self.entries
            .retain(|e| !(e.topic == topic && handler.is_none_or(|h| &e.handler == h)));
        before - self.entries.len()
    }

    /// The handlers one dispatch of `ty` calls, in order; `once` entries among them are removed.
    pub fn snapshot(&mut self, ty: EventType) -> Vec<H> {
        let mut out = Vec::new();
        let mut had_once = false;
        for e in &self.entries {
            if e.topic.hears(ty) {
                out.push(e.handler.clone());
                had_once |= e.once;
            }
        }
        if had_once {
            self.entries.retain(|e| !(e.once && e.topic.hears(ty)));
        }
        out
    }

    /// Whether a dispatch of `ty` would call anyone (lets the shell skip building events).
    pub fn hears(&self, ty: EventType) -> bool {
        self.entries.iter().any(|e| e.topic.hears(ty))
    }

    /// Number of registrations.
    pub fn len(&self) -> usize {
        self.entries.len()
    }

    /// Whether nothing is registered.
    pub fn is_empty(&self) -> bool {
        self.entries.is_empty()
    }

    /// Drops every listener (used by `destroy`).
    pub fn clear(&mut self) {
        self.entries.clear();
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use EventType::*;

    fn reg() -> Registry<&'static str> {
        Registry::default()
    }

    #[test]
    fn registration_order_with_wildcards_interleaved() {
        let mut r = reg();
        r.add(Topic::One(Send), "a", false);
        r.add(Topic::Any, "star", false);
        r.add(Topic::One(PreSend), "other", false);
        r.add(Topic::One(Send), "b", false);
        assert_eq!(r.snapshot(Send), vec!["a", "star", "b"]);
        assert_eq!(r.snapshot(PreSend), vec!["star", "other"]);
        assert_eq!(r.snapshot(Feedback), vec!["star"]);
    }

    #[test]
    fn once_is_removed_by_the_snapshot_that_returns_it() {
        let mut r = reg();
        r.add(Topic::One(Send), "once", true);
        r.add(Topic::One(Send), "on", false);
        r.add(Topic::One(Receive), "other-once", true);
        assert_eq!(r.snapshot(Send), vec!["once", "on"]);
        assert_eq!(r.snapshot(Send), vec!["on"]);
        assert_eq!(
            r.snapshot(Receive),
            vec!["other-once"],
            "other types keep their once"
        );
        assert!(r.snapshot(Receive).is_empty());
    }

    #[test]
    fn once_on_wildcard_fires_for_the_first_event_only() {
        let mut r = reg();
        r.add(Topic::Any, "w", true);
        assert_eq!(r.snapshot(ChatReady), vec!["w"]);
        assert!(r.snapshot(Send).is_empty());
    }

    #[test]
    fn snapshot_is_isolated_from_later_changes() {
        let mut r = reg();
        r.add(Topic::One(Send), "a", false);
        let snap = r.snapshot(Send);
        r.add(Topic::One(Send), "added-during", false);
        r.remove(Topic::One(Send), Some(&"a"));
        assert_eq!(snap, vec!["a"], "the running dispatch keeps its copy");
        assert_eq!(
            r.snapshot(Send),
            vec!["added-during"],
            "the next dispatch sees the change"
        );
    }

    #[test]
    fn off_by_handler_by_type_and_wildcard() {
        let mut r = reg();
        r.add(Topic::One(Send), "a", false);
        r.add(Topic::One(Send), "a", false);
        r.add(Topic::One(Send), "b", false);
        r.add(Topic::One(Receive), "a", false);
        r.add(Topic::Any, "a", false);
        assert_eq!(r.remove(Topic::One(Send), Some(&"a")), 2);
        assert_eq!(
            r.snapshot(Send),
            vec!["b", "a"],
            "the * registration of a stays"
        );
        assert_eq!(r.remove(Topic::One(Send), None), 1);
        assert_eq!(r.remove(Topic::Any, None), 1);
        assert_eq!(r.snapshot(Receive), vec!["a"]);
        assert_eq!(r.remove(Topic::One(Send), Some(&"zzz")), 0);
        assert!(r.hears(Receive) && !r.hears(Send));
        r.clear();
        assert!(r.is_empty());
    }

    #[test]
    fn off_removes_a_pending_once() {
        let mut r = reg();
        r.add(Topic::One(Send), "o", true);
        r.remove(Topic::One(Send), Some(&"o"));
        assert!(r.snapshot(Send).is_empty());
    }
}
