//! Fan-out across instances: a LISTEN connection per instance wakes this instance's sink for
//! events other instances committed.
//!
//! Each write transaction sends NOTIFYs on [`CHANNEL`] naming every thread it wrote and the seqs
//! it gave them, `"<instance> <thread> <first seq> <last seq>"`, further threads appended as
//! more ` <thread> <first> <last>` triples up to [`PAYLOAD_MAX`] bytes ([`payloads`]): a group
//! commit of hundreds of threads sends a handful of notifications, not one per thread
//! (delivered at COMMIT, in commit order). The payload is only a wake-up: the events are read from the `events` table (the truth), and only
//! for threads someone follows here ([`EventSink::watching`]). The notifications received so far
//! are handled together (one query for all their threads), batch after batch in arrival
//! order, so a thread's events reach the sink in seq order; an event stream
//! drops what it already sent and reads the log on any gap (see `http/events.rs`), so a
//! notification handled twice or late costs a read, never a duplicate.
//!
//! If the LISTEN connection drops, notifications sent meanwhile are lost: after reconnecting,
//! every followed thread gets its last committed event, which makes each stream that is behind
//! see a gap and read the log.

use std::sync::atomic::{AtomicU64, Ordering::Relaxed};
use std::sync::Arc;

use sqlx::postgres::PgListener;

use super::super::{EventSink, Result, StoredEvent};
use super::tx::CHANNEL;
use super::PgStore;

/// One parsed notification: the instance that committed, and per thread the seqs it gave.
#[derive(Debug, PartialEq)]
pub struct Note<'a> {
    pub instance: &'a str,
    /// `(thread, first seq, last seq)`.
    pub ranges: Vec<(&'a str, u64, u64)>,
}

pub fn parse(payload: &str) -> Option<Note<'_>> {
    let mut it = payload.split(' ');
    let instance = it.next()?;
    let mut ranges = Vec::new();
    while let Some(thread) = it.next() {
        let first = it.next()?.parse().ok()?;
        let last = it.next()?.parse().ok()?;
        ranges.push((thread, first, last));
    }
    (!ranges.is_empty()).then_some(Note { instance, ranges })
}

/// A notification's payload stays under this many bytes (PostgreSQL refuses 8,000 or more).
pub const PAYLOAD_MAX: usize = 7_900;

/// The payloads announcing `ranges` (thread, first seq, last seq): as few as fit.
pub fn payloads<'a>(
    instance: &str,
    ranges: impl IntoIterator<Item = (&'a str, u64, u64)>,
) -> Vec<String> {
    let mut out: Vec<String> = Vec::new();
    let mut current = String::new();
    for (thread, first, last) in ranges {
        let triple = format!(" {thread} {first} {last}");
        if !current.is_empty() && current.len() + triple.len() > PAYLOAD_MAX {
            out.push(std::mem::take(&mut current));
        }
        if current.is_empty() {
            current.push_str(instance);
        }
        current.push_str(&triple);
    }
    if !current.is_empty() {
        out.push(current);
    }
    out
}

/// What the listeners of this process did so far (every instance of the process together):
/// what a benchmark prints per turn to show what the fan-out costs.
#[derive(Debug, Default, Clone, Copy)]
pub struct Counters {
    /// Notifications received (this instance's own included).
    pub notifications: u64,
    /// Their payloads' bytes.
    pub bytes: u64,
    /// Times the listener woke up and handled what it had received.
    pub wakeups: u64,
    /// Reads of the events table.
    pub reads: u64,
    /// Events those reads returned.
    pub events_read: u64,
    /// Events that arrived inside a notification (no read).
    pub events_carried: u64,
    /// Announced threads skipped: nobody here streams them.
    pub skipped: u64,
}

impl Counters {
    pub fn minus(&self, o: &Counters) -> Counters {
        Counters {
            notifications: self.notifications - o.notifications,
            bytes: self.bytes - o.bytes,
            wakeups: self.wakeups - o.wakeups,
            reads: self.reads - o.reads,
            events_read: self.events_read - o.events_read,
            events_carried: self.events_carried - o.events_carried,
            skipped: self.skipped - o.skipped,
        }
    }

    /// One line: each counter divided by `turns`.
    pub fn per_turn(&self, turns: f64) -> String {
        format!(
            "{:.1} notifications received ({:.0} bytes), {:.2} wake-ups, {:.2} reads returning {:.1} events, {:.1} events carried, {:.1} threads skipped",
            self.notifications as f64 / turns,
            self.bytes as f64 / turns,
            self.wakeups as f64 / turns,
            self.reads as f64 / turns,
            self.events_read as f64 / turns,
            self.events_carried as f64 / turns,
            self.skipped as f64 / turns,
        )
    }
}

static NOTIFICATIONS: AtomicU64 = AtomicU64::new(0);
static BYTES: AtomicU64 = AtomicU64::new(0);
static WAKEUPS: AtomicU64 = AtomicU64::new(0);
static READS: AtomicU64 = AtomicU64::new(0);
static EVENTS_READ: AtomicU64 = AtomicU64::new(0);
static EVENTS_CARRIED: AtomicU64 = AtomicU64::new(0);
static SKIPPED: AtomicU64 = AtomicU64::new(0);

/// The counters so far.
pub fn counters() -> Counters {
    Counters {
        notifications: NOTIFICATIONS.load(Relaxed),
        bytes: BYTES.load(Relaxed),
        wakeups: WAKEUPS.load(Relaxed),
        reads: READS.load(Relaxed),
        events_read: EVENTS_READ.load(Relaxed),
        events_carried: EVENTS_CARRIED.load(Relaxed),
        skipped: SKIPPED.load(Relaxed),
    }
}

/// Notifications handled together (one log read for all of them).
const BATCH: usize = 512;

/// Starts listening (returns once LISTEN is active, so no commit after `open` is missed).
pub(super) async fn start(store: &PgStore) -> Result<()> {
    let mut listener = PgListener::connect_with(&store.pool).await?;
    listener.listen(CHANNEL).await?;
    let reader = Reader {
        pool: store.pool.clone(),
        sink: store.sink.clone(),
        instance: store.instance.clone(),
    };
    let stop = store.stop.clone();
    store.tasks.spawn(async move {
        loop {
            let next = tokio::select! {
                _ = stop.cancelled() => return,
                n = listener.try_recv() => n,
            };
            match next {
                Ok(Some(n)) => {
                    // Everything already received goes in the same read.
                    let mut payloads = vec![n.payload().to_string()];
                    while payloads.len() < BATCH {
                        match listener.next_buffered() {
                            Some(n) => payloads.push(n.payload().to_string()),
                            None => break,
                        }
                    }
                    reader.woken(&payloads).await;
                }
                // The connection dropped and was re-established by the next try_recv.
                Ok(None) => reader.resync().await,
                Err(e) => {
                    tracing::warn!(error = %e, "event listener: connection failed; retrying");
                    tokio::select! {
                        _ = stop.cancelled() => return,
                        _ = tokio::time::sleep(std::time::Duration::from_millis(500)) => {}
                    }
                }
            }
        }
    });
    Ok(())
}

struct Reader {
    pool: sqlx::PgPool,
    sink: Arc<dyn EventSink>,
    instance: String,
}

impl Reader {
    /// Reads the events the notifications announce, for the threads followed here, in one
    /// query, and hands them to the sink thread by thread in seq order.
    async fn woken(&self, payloads: &[String]) {
        // Per thread: the range its notifications cover (they arrive in commit order).
        let mut wanted: Vec<(&str, u64, u64)> = Vec::new();
        WAKEUPS.fetch_add(1, Relaxed);
        NOTIFICATIONS.fetch_add(payloads.len() as u64, Relaxed);
        BYTES.fetch_add(payloads.iter().map(|p| p.len() as u64).sum(), Relaxed);
        for payload in payloads {
            let Some(note) = parse(payload) else {
                tracing::warn!(payload, "event listener: unknown notification");
                continue;
            };
            // Our own commits reached our sink right after COMMIT.
            if note.instance == self.instance {
                continue;
            }
            for (thread, first, last) in note.ranges {
                if !self.sink.watching(thread) {
                    SKIPPED.fetch_add(1, Relaxed);
                    continue;
                }
                match wanted.iter_mut().find(|w| w.0 == thread) {
                    Some(w) => {
                        w.1 = w.1.min(first);
                        w.2 = w.2.max(last);
                    }
                    None => wanted.push((thread, first, last)),
                }
            }
        }
        if wanted.is_empty() {
            return;
        }
        let threads: Vec<&str> = wanted.iter().map(|w| w.0).collect();
        let after: Vec<i64> = wanted.iter().map(|w| w.1 as i64 - 1).collect();
        let upto: Vec<i64> = wanted.iter().map(|w| w.2 as i64).collect();
        let rows: Result<Vec<(String, i64, String, String)>> = sqlx::query_as(
            "SELECT e.thread_id, e.seq, e.type, e.data \
             FROM UNNEST($1::text[], $2::bigint[], $3::bigint[]) AS w(t, a, b) \
             JOIN events e ON e.thread_id = w.t AND e.seq > w.a AND e.seq <= w.b \
             ORDER BY e.thread_id, e.seq",
        )
        .bind(&threads)
        .bind(&after)
        .bind(&upto)
        .fetch_all(&self.pool)
        .await
        .map_err(Into::into);
        READS.fetch_add(1, Relaxed);
        let rows = match rows {
            Ok(rows) => rows,
            Err(e) => {
                // The streams concerned catch up from the log at their next event.
                tracing::warn!(error = %e, "event listener: log read failed");
                return;
            }
        };
        EVENTS_READ.fetch_add(rows.len() as u64, Relaxed);
        let mut group: Vec<Arc<StoredEvent>> = Vec::new();
        let mut current: Option<String> = None;
        for (thread, seq, event_type, json) in rows {
            if current.as_deref() != Some(thread.as_str()) {
                if let Some(t) = current.take() {
                    self.sink.published(&t, &std::mem::take(&mut group));
                }
                current = Some(thread);
            }
            group.push(Arc::new(StoredEvent {
                seq: seq as u64,
                event_type,
                json,
            }));
        }
        if let Some(t) = current {
            self.sink.published(&t, &group);
        }
    }

    async fn resync(&self) {
        tracing::info!("event listener: reconnected; catching up followed threads");
        for thread in self.sink.watched() {
            let last: Result<Option<(i64, String, String)>> = sqlx::query_as(
                "SELECT seq, type, data FROM events WHERE thread_id = $1 ORDER BY seq DESC LIMIT 1",
            )
            .bind(&thread)
            .fetch_optional(&self.pool)
            .await
            .map_err(Into::into);
            if let Ok(Some((seq, event_type, json))) = last {
                let ev = Arc::new(StoredEvent {
                    seq: seq as u64,
                    event_type,
                    json,
                });
                self.sink.published(&thread, &[ev]);
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn payloads_parse_and_junk_does_not() {
        assert_eq!(
            parse("inst_1 thr_a 3 7"),
            Some(Note {
                instance: "inst_1",
                ranges: vec![("thr_a", 3, 7)],
            })
        );
        assert_eq!(
            parse("inst_1 thr_a 3 7 thr_b 1 1"),
            Some(Note {
                instance: "inst_1",
                ranges: vec![("thr_a", 3, 7), ("thr_b", 1, 1)],
            })
        );
        assert_eq!(parse("inst_1"), None);
        assert_eq!(parse("inst_1 thr_a 3"), None);
        assert_eq!(parse("inst_1 thr_a x 7"), None);
        assert_eq!(parse("inst_1 thr_a 3 7 9"), None);
    }

    #[test]
    fn many_threads_pack_into_few_payloads_that_parse_back() {
        let threads: Vec<String> = (0..1000).map(|i| format!("thr_{i:026}")).collect();
        let ranges: Vec<(&str, u64, u64)> = threads
            .iter()
            .enumerate()
            .map(|(i, t)| (t.as_str(), i as u64 + 1, i as u64 + 3))
            .collect();
        let out = payloads("inst_0123456789abcdef0123456789abcdef", ranges.clone());
        assert!(out.len() > 1 && out.len() < 10, "{} payloads", out.len());
        assert!(out.iter().all(|p| p.len() <= PAYLOAD_MAX));
        let back: Vec<(&str, u64, u64)> =
            out.iter().flat_map(|p| parse(p).unwrap().ranges).collect();
        assert_eq!(back, ranges);
        assert!(payloads("inst_1", []).is_empty());
    }
}
