//! Fan-out across instances: a LISTEN connection per instance hands this instance's sink the
//! events other instances committed.
//!
//! Each write transaction sends NOTIFYs on [`CHANNEL`] (delivered at COMMIT, in commit order)
//! that carry the events it committed ([`payloads`]): a first line naming the instance, then
//! per event `e <thread> <seq> <type> <envelope JSON>`, as many as fit under [`PAYLOAD_MAX`]
//! bytes per notification; a group commit of hundreds of writes sends a few dozen
//! notifications, not one per write. An event too large for a notification is announced
//! instead, `r <thread> <first seq> <last seq>`, and read from the `events` table (the truth),
//! which holds every event whatever the notification carried. So a delta that crosses instances
//! costs its bytes in the notification and no read.
//!
//! The listener takes the notifications received so far together and, for the threads someone
//! follows here ([`EventSink::watching`]; the others are skipped without a read or a parse of
//! their events), hands each thread's events to the sink in seq order: the carried ones as they
//! came, or, when any of the thread's events in the batch was only announced, all of them read
//! in one query (one for every such thread of the batch). Batch after batch, in arrival order.
//! An event stream drops what it already sent and reads the log on any gap (see
//! `http/events.rs`), so a notification handled twice or late costs a read, never a duplicate,
//! and a thread nobody here followed when its notification came is read from the log by the
//! stream that opens later (it subscribes before it reads).
//!
//! Notifications of the single-line form `"<instance> <thread> <first> <last> …"` (what
//! earlier versions sent: announcements only) are read from the table as well.
//!
//! If the LISTEN connection drops, notifications sent meanwhile are lost: after reconnecting,
//! every followed thread gets its last committed event, which makes each stream that is behind
//! see a gap and read the log.

use std::collections::HashMap;
use std::sync::atomic::{AtomicI64, AtomicU64, Ordering::Relaxed};
use std::sync::Arc;

use std::time::Duration;

use sqlx::postgres::{PgConnectOptions, PgListener, PgPoolOptions};
use tokio_util::sync::CancellationToken;

use super::super::{EventSink, Result, StoreError, StoredEvent};
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

/// The payloads of a commit: its events, each thread's in seq order. Each event is carried
/// when its line fits in a notification, else announced (and read from the table).
pub fn payloads<'a>(
    instance: &str,
    events: impl IntoIterator<Item = (&'a str, &'a StoredEvent)>,
) -> Vec<String> {
    let mut out: Vec<String> = Vec::new();
    let mut current = String::new();
    let mut push = |line: &str| {
        if !current.is_empty() && current.len() + line.len() > PAYLOAD_MAX {
            out.push(std::mem::take(&mut current));
        }
        if current.is_empty() {
            current.push_str(instance);
            current.push('\n');
        }
        current.push_str(line);
    };
    // Consecutive events too large to carry, announced as one range.
    let mut announce: Option<(&str, u64, u64)> = None;
    for (thread, ev) in events {
        let line = format!("e {thread} {} {} {}\n", ev.seq, ev.event_type, ev.json);
        let fits = instance.len() + 1 + line.len() <= PAYLOAD_MAX
            && !ev.json.contains('\n')
            && !ev.event_type.contains([' ', '\n']);
        match announce {
            Some((t, first, _)) if !fits && t == thread => {
                announce = Some((t, first, ev.seq));
                continue;
            }
            Some((t, first, last)) => {
                push(&format!("r {t} {first} {last}\n"));
                announce = None;
            }
            None => {}
        }
        if fits {
            push(&line);
        } else {
            announce = Some((thread, ev.seq, ev.seq));
        }
    }
    if let Some((t, first, last)) = announce {
        push(&format!("r {t} {first} {last}\n"));
    }
    if !current.is_empty() {
        out.push(current);
    }
    out
}

/// One entry of a notification.
#[derive(Debug, PartialEq)]
pub enum Entry<'a> {
    /// An event, whole: `(thread, seq, type, envelope JSON)`.
    Event(&'a str, u64, &'a str, &'a str),
    /// Events to read from the table: `(thread, first seq, last seq)`.
    Range(&'a str, u64, u64),
}

/// The instance that sent `payload`, and the rest to give to [`entries`]; `None` if it is
/// neither form.
pub fn split(payload: &str) -> Option<(&str, &str)> {
    match payload.split_once('\n') {
        Some((instance, rest)) => Some((instance, rest)),
        // The single-line form: the instance, then triples.
        None => payload.split_once(' '),
    }
}

/// The entries of a payload's rest ([`split`]), in order; `None` for junk.
pub fn entries<'a>(payload: &'a str, rest: &'a str) -> Option<Vec<Entry<'a>>> {
    if !payload.contains('\n') {
        return parse(payload).map(|n| {
            n.ranges
                .into_iter()
                .map(|(t, a, b)| Entry::Range(t, a, b))
                .collect()
        });
    }
    let mut out = Vec::new();
    for line in rest.split_terminator('\n') {
        let (kind, line) = line.split_once(' ')?;
        let (thread, line) = line.split_once(' ')?;
        match kind {
            "e" => {
                let (seq, line) = line.split_once(' ')?;
                let (event_type, json) = line.split_once(' ')?;
                out.push(Entry::Event(thread, seq.parse().ok()?, event_type, json));
            }
            "r" => {
                let (first, last) = line.split_once(' ')?;
                out.push(Entry::Range(
                    thread,
                    first.parse().ok()?,
                    last.parse().ok()?,
                ));
            }
            _ => return None,
        }
    }
    Some(out)
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

/// Notifications handled together at most.
const BATCH: usize = 512;

/// Starts listening on a thread of its own (returns once LISTEN is active, so no commit after
/// `open` is missed).
///
/// Why a thread of its own: on the server's runtime the listener would wait its turn behind
/// every ready request and stream for each notification it handles; when the instance is
/// saturated that is several milliseconds per notification, fewer notifications per second
/// than the other instances' group commits send, and the fan-out falls seconds behind. On its
/// own single-threaded runtime it waits only for the database, and its reads (rare: events too
/// large to carry) run on the LISTEN connection itself, so notifications that arrive meanwhile
/// are buffered and handled together after the read.
///
/// `peers`: set to the time (ms) of each notification from another instance.
pub(super) async fn start(
    store: &PgStore,
    connect: PgConnectOptions,
    peers: Arc<AtomicI64>,
) -> Result<()> {
    let reader = Reader {
        sink: store.sink.clone(),
        instance: store.instance.clone(),
        peers,
    };
    let stop = store.stop.clone();
    let (ready_tx, ready_rx) = tokio::sync::oneshot::channel::<Result<()>>();
    let done_rx = super::on_own_thread("natter-pg-listen", move || {
        listen(connect, reader, stop, ready_tx)
    })
    .map_err(|e| StoreError::Corrupt(format!("spawn the event listener: {e}")))?;
    ready_rx
        .await
        .map_err(|_| StoreError::Corrupt("the event listener stopped at start".into()))??;
    store.tasks.spawn(async move {
        let _ = done_rx.await;
    });
    Ok(())
}

/// The listener's loop, on its thread: `ready` once LISTEN is active.
async fn listen(
    connect: PgConnectOptions,
    reader: Reader,
    stop: CancellationToken,
    ready: tokio::sync::oneshot::Sender<Result<()>>,
) {
    let started = async {
        // A pool of its own on this runtime: the listener (re)connects through it.
        let pool = PgPoolOptions::new()
            .max_connections(1)
            .acquire_timeout(Duration::from_secs(10))
            .connect_lazy_with(connect);
        let mut listener = PgListener::connect_with(&pool).await?;
        listener.listen(CHANNEL).await?;
        Ok::<_, StoreError>(listener)
    };
    let mut listener = match started.await {
        Ok(l) => {
            let _ = ready.send(Ok(()));
            l
        }
        Err(e) => {
            let _ = ready.send(Err(e));
            return;
        }
    };
    loop {
        let next = tokio::select! {
            _ = stop.cancelled() => return,
            n = listener.try_recv() => n,
        };
        match next {
            Ok(Some(n)) => {
                // What arrived during the previous read is handled together.
                let mut notes = vec![n];
                while notes.len() < BATCH {
                    match listener.next_buffered() {
                        Some(n) => notes.push(n),
                        None => break,
                    }
                }
                let payloads: Vec<&str> = notes.iter().map(|n| n.payload()).collect();
                reader.woken(&payloads, &mut listener).await;
            }
            // The connection dropped and was re-established by the next try_recv.
            Ok(None) => reader.resync(&mut listener).await,
            Err(e) => {
                tracing::warn!(error = %e, "event listener: connection failed; retrying");
                tokio::select! {
                    _ = stop.cancelled() => return,
                    _ = tokio::time::sleep(Duration::from_millis(500)) => {}
                }
            }
        }
    }
}

struct Reader {
    sink: Arc<dyn EventSink>,
    instance: String,
    peers: Arc<AtomicI64>,
}

impl Reader {
    /// Hands the sink the events of `payloads` (in arrival order) for the threads followed
    /// here: per thread the carried events, or, when any of them was only announced, all its
    /// events of the batch read from the table (one query for every such thread).
    async fn woken(&self, payloads: &[&str], conn: &mut PgListener) {
        WAKEUPS.fetch_add(1, Relaxed);
        NOTIFICATIONS.fetch_add(payloads.len() as u64, Relaxed);
        BYTES.fetch_add(payloads.iter().map(|p| p.len() as u64).sum(), Relaxed);
        // Per followed thread, in order of first appearance: its carried events, and the seqs
        // the batch covers when some must be read.
        struct Wanted<'a> {
            thread: &'a str,
            carried: Vec<(u64, &'a str, &'a str)>,
            read: bool,
            first: u64,
            last: u64,
        }
        let mut wanted: Vec<Wanted> = Vec::new();
        let mut index: std::collections::HashMap<&str, usize> = Default::default();
        let mut skipped: std::collections::HashSet<&str> = Default::default();
        for &payload in payloads {
            let parsed = split(payload).and_then(|(instance, rest)| {
                // Our own commits reached our sink right after COMMIT.
                if instance == self.instance {
                    return Some(Vec::new());
                }
                self.peers.store(crate::outbox::now_ms(), Relaxed);
                entries(payload, rest)
            });
            let Some(parsed) = parsed else {
                tracing::warn!(payload, "event listener: unknown notification");
                continue;
            };
            for entry in parsed {
                let (thread, first, last) = match entry {
                    Entry::Event(t, seq, ..) => (t, seq, seq),
                    Entry::Range(t, first, last) => (t, first, last),
                };
                let i = match index.get(thread) {
                    Some(&i) => i,
                    None if skipped.contains(thread) => continue,
                    None if !self.sink.watching(thread) => {
                        skipped.insert(thread);
                        continue;
                    }
                    None => {
                        index.insert(thread, wanted.len());
                        wanted.push(Wanted {
                            thread,
                            carried: Vec::new(),
                            read: false,
                            first,
                            last,
                        });
                        wanted.len() - 1
                    }
                };
                let w = &mut wanted[i];
                w.first = w.first.min(first);
                w.last = w.last.max(last);
                match entry {
                    Entry::Event(_, seq, event_type, json) => {
                        w.carried.push((seq, event_type, json))
                    }
                    Entry::Range(..) => w.read = true,
                }
            }
        }
        SKIPPED.fetch_add(skipped.len() as u64, Relaxed);
        let mut read: HashMap<String, Vec<Arc<StoredEvent>>> = HashMap::new();
        if wanted.iter().any(|w| w.read) {
            let ranges = wanted
                .iter()
                .filter(|w| w.read)
                .map(|w| (w.thread, w.first, w.last));
            read = Self::read(conn, ranges).await;
        }
        for w in wanted {
            if w.read {
                if let Some(events) = read.get(w.thread) {
                    self.sink.published(w.thread, events);
                }
                continue;
            }
            EVENTS_CARRIED.fetch_add(w.carried.len() as u64, Relaxed);
            let events: Vec<Arc<StoredEvent>> = w
                .carried
                .into_iter()
                .map(|(seq, event_type, json)| {
                    Arc::new(StoredEvent {
                        seq,
                        event_type: event_type.to_string(),
                        json: json.to_string(),
                    })
                })
                .collect();
            self.sink.published(w.thread, &events);
        }
    }

    /// The events of each `(thread, first seq, last seq)`, from the table, in seq order.
    async fn read<'a>(
        conn: &mut PgListener,
        ranges: impl Iterator<Item = (&'a str, u64, u64)>,
    ) -> HashMap<String, Vec<Arc<StoredEvent>>> {
        let (mut threads, mut after, mut upto) = (Vec::new(), Vec::new(), Vec::new());
        for (t, first, last) in ranges {
            threads.push(t);
            after.push(first as i64 - 1);
            upto.push(last as i64);
        }
        let rows: Result<Vec<(String, i64, String, String)>> = sqlx::query_as(
            "SELECT e.thread_id, e.seq, e.type, e.data \
             FROM UNNEST($1::text[], $2::bigint[], $3::bigint[]) AS w(t, a, b) \
             JOIN events e ON e.thread_id = w.t AND e.seq > w.a AND e.seq <= w.b \
             ORDER BY e.thread_id, e.seq",
        )
        .bind(&threads)
        .bind(&after)
        .bind(&upto)
        .fetch_all(&mut *conn)
        .await
        .map_err(Into::into);
        READS.fetch_add(1, Relaxed);
        let mut out: HashMap<String, Vec<Arc<StoredEvent>>> = HashMap::new();
        match rows {
            Ok(rows) => {
                EVENTS_READ.fetch_add(rows.len() as u64, Relaxed);
                for (thread, seq, event_type, json) in rows {
                    out.entry(thread).or_default().push(Arc::new(StoredEvent {
                        seq: seq as u64,
                        event_type,
                        json,
                    }));
                }
            }
            // The streams concerned catch up from the log at their next event.
            Err(e) => tracing::warn!(error = %e, "event listener: log read failed"),
        }
        out
    }

    async fn resync(&self, conn: &mut PgListener) {
        tracing::info!("event listener: reconnected; catching up followed threads");
        for thread in self.sink.watched() {
            let last: Result<Option<(i64, String, String)>> = sqlx::query_as(
                "SELECT seq, type, data FROM events WHERE thread_id = $1 ORDER BY seq DESC LIMIT 1",
            )
            .bind(&thread)
            .fetch_optional(&mut *conn)
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

    fn ev(seq: u64, json: &str) -> StoredEvent {
        StoredEvent {
            seq,
            event_type: "message.delta".into(),
            json: json.into(),
        }
    }

    /// The entries of every payload, in order.
    fn all_entries(out: &[String]) -> Vec<Entry<'_>> {
        out.iter()
            .flat_map(|p| {
                let (instance, rest) = split(p).unwrap();
                assert_eq!(instance, "inst_0123456789abcdef0123456789abcdef");
                entries(p, rest).unwrap()
            })
            .collect()
    }

    #[test]
    fn many_events_pack_into_few_payloads_that_parse_back() {
        let threads: Vec<String> = (0..300).map(|i| format!("thr_{i:026}")).collect();
        let events: Vec<(String, StoredEvent)> = threads
            .iter()
            .flat_map(|t| {
                (1..=3).map(move |s| {
                    (
                        t.clone(),
                        ev(s, &format!("{{\"seq\":{s},\"text\":\"a b\"}}")),
                    )
                })
            })
            .collect();
        let out = payloads(
            "inst_0123456789abcdef0123456789abcdef",
            events.iter().map(|(t, e)| (t.as_str(), e)),
        );
        assert!(out.len() > 1 && out.len() < 20, "{} payloads", out.len());
        assert!(out.iter().all(|p| p.len() <= PAYLOAD_MAX));
        let back = all_entries(&out);
        let want: Vec<Entry> = events
            .iter()
            .map(|(t, e)| Entry::Event(t, e.seq, "message.delta", &e.json))
            .collect();
        assert_eq!(back, want);
        assert!(payloads("inst_1", []).is_empty());
    }

    #[test]
    fn an_event_too_large_to_carry_is_announced_in_its_place() {
        let big = format!("{{\"text\":\"{}\"}}", "x".repeat(PAYLOAD_MAX));
        let events = [
            ("thr_a", ev(4, "{}")),
            ("thr_a", ev(5, &big)),
            ("thr_a", ev(6, &big)),
            ("thr_a", ev(7, "{\"n\":7}")),
            ("thr_b", ev(1, &big)),
        ];
        let out = payloads(
            "inst_0123456789abcdef0123456789abcdef",
            events.iter().map(|(t, e)| (*t, e)),
        );
        assert!(out.iter().all(|p| p.len() <= PAYLOAD_MAX));
        assert_eq!(
            all_entries(&out),
            vec![
                Entry::Event("thr_a", 4, "message.delta", "{}"),
                Entry::Range("thr_a", 5, 6),
                Entry::Event("thr_a", 7, "message.delta", "{\"n\":7}"),
                Entry::Range("thr_b", 1, 1),
            ]
        );
    }

    #[test]
    fn the_single_line_form_reads_as_ranges_and_junk_does_not_read() {
        let p = "inst_1 thr_a 3 7 thr_b 1 1";
        let (instance, rest) = split(p).unwrap();
        assert_eq!(instance, "inst_1");
        assert_eq!(
            entries(p, rest),
            Some(vec![
                Entry::Range("thr_a", 3, 7),
                Entry::Range("thr_b", 1, 1)
            ])
        );
        for junk in [
            "inst_1\nx thr_a 1 1\n",
            "inst_1\ne thr_a x t {}\n",
            "inst_1\nr thr_a 1\n",
        ] {
            let (_, rest) = split(junk).unwrap();
            assert_eq!(entries(junk, rest), None, "{junk:?}");
        }
    }
}
