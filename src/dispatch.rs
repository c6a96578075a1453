//! The dispatch engine: runs the handler snapshot of each event one handler at a time, lets a
//! handler suspend the run (it returned a promise) and resumes it on a settle *or* a timeout,
//! and orders runs that share a lane (the deltas of one streamed message).
//!
//! The engine never calls anything: the shell asks [`Engine::step`] what to do next, does it,
//! and reports back. That keeps every rule here, testable natively:
//!
//! * handlers of a run are handed out in snapshot order, one at a time; a run whose current
//!   handler is pending hands out nothing until [`Engine::settle`] with that handler's token;
//! * a timeout is just another settle of the same token: whichever comes first resumes the run,
//!   the other is stale and ignored (so a late promise never runs a handler twice or resumes a
//!   run that moved on);
//! * runs with the same lane key start strictly in submission order: a run waits until every
//!   earlier run of its lane is done *and acted on* ([`Step::Done`] hands back the next one);
//!   runs without a lane never wait for others (so a handler may await `changeView()` without
//!   deadlocking its own dispatch);
//! * [`Engine::cancel_all`] (destroy) drops every run and returns their payloads.

/// Identifies one dispatch.
pub type RunId = u32;
/// Identifies one pending handler call; unique for the engine's lifetime.
pub type Token = u32;

struct Run<H, E, P> {
    id: RunId,
    lane: Option<String>,
    /// Handlers still to call, reversed (the next one is last, so `pop` hands it out).
    rest: Vec<H>,
    event: E,
    payload: P,
    waiting: Option<Token>,
}

/// What the shell must do next for a run.
#[derive(Debug, PartialEq)]
pub enum Step<H, E, P> {
    /// Call `handler(event)`, then either step again (it returned synchronously) or
    /// [`Engine::suspend`] (it returned a promise).
    Call { handler: H, event: E },
    /// Nothing to do now: a handler is pending or an earlier run of the lane is unfinished.
    Wait,
    /// Every handler ran: act on the event, then step `next` (the lane's next run), if any.
    Done {
        event: E,
        payload: P,
        next: Option<RunId>,
    },
    /// No such run (finished, or cancelled by destroy).
    Gone,
}

/// All dispatches in flight.
pub struct Engine<H, E, P> {
    runs: Vec<Run<H, E, P>>,
    next_id: RunId,
    next_token: Token,
}

impl<H, E, P> Default for Engine<H, E, P> {
    fn default() -> Self {
        Engine {
            runs: Vec::new(),
            next_id: 1,
            next_token: 1,
        }
    }
}

impl<H, E: Clone, P> Engine<H, E, P> {
    /// Queues a dispatch of `event` to `handlers` (a registry snapshot). Step it to start.
    pub fn submit(
        &mut self,
        lane: Option<String>,
        mut handlers: Vec<H>,
        event: E,
        payload: P,
    ) -> RunId {
        let id = self.next_id;
        self.next_id = self.next_id.wrapping_add(1).max(1);
        handlers.reverse();
        self.runs.push(Run {
            id,
            lane,
            rest: handlers,
            event,
            payload,
            waiting: None,
        });
        id
    }

    /// What to do next for run `id`.
    pub fn step(&mut self, id: RunId) -> Step<H, E, P> {
        let Some(i) = self.runs.iter().position(|r| r.id == id) else {
            return Step::Gone;
        };
        let run = &self.runs[i];
        if run.waiting.is_some() {
            return Step::Wait;
        }
        if let Some(lane) = &run.lane {
            if self.runs[..i].iter().any(|r| r.lane.as_ref() == Some(lane)) {
                return Step::Wait;
            }
        }
        let run = &mut self.runs[i];
        if let Some(handler) = run.rest.pop() {
            return Step::Call {
                handler,
                event: run.event.clone(),
            };
        }
        let run = self.runs.remove(i);
        let next = run.lane.as_ref().and_then(|l| {
            self.runs
                .iter()
                .find(|r| r.lane.as_ref() == Some(l))
                .map(|r| r.id)
        });
        Step::Done {
            event: run.event,
            payload: run.payload,
            next,
        }
    }

    /// The handler just handed out for run `id` returned a promise: park the run until
    /// [`Engine::settle`] with the returned token. `None` if the run is gone.
    pub fn suspend(&mut self, id: RunId) -> Option<Token> {
        let run = self.runs.iter_mut().find(|r| r.id == id)?;
        let token = self.next_token;
        self.next_token = self.next_token.wrapping_add(1).max(1);
        run.waiting = Some(token);
        Some(token)
    }

    /// A pending handler settled or timed out. Returns the run to step again, or `None` when
    /// the token is stale (already settled, timed out, or the run was cancelled).
    pub fn settle(&mut self, token: Token) -> Option<RunId> {
        let run = self.runs.iter_mut().find(|r| r.waiting == Some(token))?;
        run.waiting = None;
        Some(run.id)
    }

    /// The payload of run `id`, if it is still in flight.
    pub fn payload(&self, id: RunId) -> Option<&P> {
        self.runs.iter().find(|r| r.id == id).map(|r| &r.payload)
    }

    /// The run waiting on `token`, if any.
    pub fn waiting_on(&self, token: Token) -> Option<RunId> {
        self.runs
            .iter()
            .find(|r| r.waiting == Some(token))
            .map(|r| r.id)
    }

    /// Drops every run (destroy); returns their payloads so the shell can release them.
    pub fn cancel_all(&mut self) -> Vec<P> {
        self.runs.drain(..).map(|r| r.payload).collect()
    }

    /// Number of runs in flight or queued.
    pub fn len(&self) -> usize {
        self.runs.len()
    }

    /// Whether nothing is in flight.
    pub fn is_empty(&self) -> bool {
        self.runs.is_empty()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    type Eng = Engine<&'static str, u32, &'static str>;

    /// Steps a run, calling handlers synchronously, until it waits or is done; records calls.
    fn drive(
        e: &mut Eng,
        id: RunId,
        calls: &mut Vec<&'static str>,
        async_ones: &[&str],
    ) -> Option<Token> {
        loop {
            match e.step(id) {
                Step::Call { handler, .. } => {
                    calls.push(handler);
                    if async_ones.contains(&handler) {
                        return e.suspend(id);
                    }
                }
                Step::Done { payload, next, .. } => {
                    calls.push(payload);
                    if let Some(n) = next {
                        return drive(e, n, calls, async_ones);
                    }
                    return None;
                }
                Step::Wait | Step::Gone => return None,
            }
        }
    }

    #[test]
    fn sync_handlers_run_in_order_then_done() {
        let mut e = Eng::default();
        let id = e.submit(None, vec!["a", "b", "c"], 7, "acted");
        let mut calls = vec![];
        assert_eq!(drive(&mut e, id, &mut calls, &[]), None);
        assert_eq!(calls, ["a", "b", "c", "acted"]);
        assert!(e.is_empty());
        assert_eq!(e.step(id), Step::Gone);
    }

    #[test]
    fn call_hands_out_the_event() {
        let mut e = Eng::default();
        let id = e.submit(None, vec!["h"], 42, "p");
        assert_eq!(
            e.step(id),
            Step::Call {
                handler: "h",
                event: 42
            }
        );
        assert_eq!(
            e.step(id),
            Step::Done {
                event: 42,
                payload: "p",
                next: None
            }
        );
    }

    #[test]
    fn async_handler_blocks_the_rest_until_settled() {
        let mut e = Eng::default();
        let id = e.submit(None, vec!["a", "slow", "c"], 0, "acted");
        let mut calls = vec![];
        let tok = drive(&mut e, id, &mut calls, &["slow"]).unwrap();
        assert_eq!(calls, ["a", "slow"]);
        assert_eq!(
            e.step(id),
            Step::Wait,
            "c must not run while slow is pending"
        );
        assert_eq!(e.settle(tok), Some(id));
        drive(&mut e, id, &mut calls, &[]);
        assert_eq!(calls, ["a", "slow", "c", "acted"]);
    }

    #[test]
    fn timeout_and_late_settle_resume_once() {
        let mut e = Eng::default();
        let id = e.submit(None, vec!["slow", "next"], 0, "acted");
        let mut calls = vec![];
        let tok = drive(&mut e, id, &mut calls, &["slow"]).unwrap();
        // the timer fires first
        assert_eq!(e.settle(tok), Some(id));
        drive(&mut e, id, &mut calls, &[]);
        // then the abandoned promise settles: stale, nothing happens
        assert_eq!(e.settle(tok), None);
        assert_eq!(calls, ["slow", "next", "acted"]);
    }

    #[test]
    fn stale_token_does_not_resume_a_later_wait() {
        let mut e = Eng::default();
        let id = e.submit(None, vec!["s1", "s2"], 0, "acted");
        let mut calls = vec![];
        let t1 = drive(&mut e, id, &mut calls, &["s1", "s2"]).unwrap();
        assert_eq!(e.settle(t1), Some(id));
        let t2 = drive(&mut e, id, &mut calls, &["s1", "s2"]).unwrap();
        assert_ne!(t1, t2);
        assert_eq!(e.settle(t1), None, "s1's late timer must not release s2");
        assert_eq!(e.step(id), Step::Wait);
        assert_eq!(e.settle(t2), Some(id));
    }

    #[test]
    fn lane_runs_wait_for_earlier_runs_including_their_action() {
        let mut e = Eng::default();
        let lane = || Some("msg-1".to_string());
        let d1 = e.submit(lane(), vec!["h"], 1, "render1");
        let d2 = e.submit(lane(), vec!["h"], 2, "render2");
        let d3 = e.submit(lane(), vec!["h"], 3, "render3");
        let mut calls = vec![];
        let tok = drive(&mut e, d1, &mut calls, &["h"]).unwrap();
        // deltas 2 and 3 arrive while d1's handler is pending: they wait
        assert_eq!(e.step(d2), Step::Wait);
        assert_eq!(e.step(d3), Step::Wait);
        assert_eq!(e.settle(tok), Some(d1));
        // resuming d1 finishes it and chains into d2, d3 in order
        drive(&mut e, d1, &mut calls, &[]);
        assert_eq!(calls, ["h", "render1", "h", "render2", "h", "render3"]);
        assert!(e.is_empty());
    }

    #[test]
    fn different_lanes_and_free_runs_do_not_wait() {
        let mut e = Eng::default();
        let a = e.submit(Some("m1".into()), vec!["slow"], 0, "a");
        let mut calls = vec![];
        let _tok = drive(&mut e, a, &mut calls, &["slow"]).unwrap();
        let b = e.submit(Some("m2".into()), vec![], 0, "b");
        let c = e.submit(None, vec![], 0, "c");
        drive(&mut e, b, &mut calls, &[]);
        drive(&mut e, c, &mut calls, &[]);
        assert_eq!(calls, ["slow", "b", "c"]);
        assert_eq!(e.len(), 1);
    }

    #[test]
    fn cancel_all_returns_payloads_and_makes_tokens_stale() {
        let mut e = Eng::default();
        let a = e.submit(None, vec!["slow"], 0, "a");
        let mut calls = vec![];
        let tok = drive(&mut e, a, &mut calls, &["slow"]).unwrap();
        e.submit(Some("l".into()), vec![], 0, "b");
        assert_eq!(e.cancel_all(), vec!["a", "b"]);
        assert_eq!(e.settle(tok), None);
        assert_eq!(e.step(a), Step::Gone);
    }

    #[test]
    fn empty_snapshot_is_done_at_once() {
        let mut e = Eng::default();
        let id = e.submit(None, vec![], 5, "p");
        assert_eq!(
            e.step(id),
            Step::Done {
                event: 5,
                payload: "p",
                next: None
            }
        );
    }
}
