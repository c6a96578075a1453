//! Fan-out across instances: a LISTEN connection per instance wakes this instance's sink for
//! events other instances committed.
//!
//! Each write transaction sends, per thread it wrote, one NOTIFY on [`CHANNEL`] with payload
//! `"<instance> <thread> <first seq> <last seq>"` (delivered at COMMIT, in commit order). The
//! payload is only a wake-up: the events are read from the `events` table (the truth), and only
//! for threads someone follows here ([`EventSink::watching`]). Notifications are handled one at
//! a time in arrival order, so a thread's events reach the sink in seq order; an event stream
//! drops what it already sent and reads the log on any gap (see `http/events.rs`), so a
//! notification handled twice or late costs a read, never a duplicate.
//!
//! If the LISTEN connection drops, notifications sent meanwhile are lost: after reconnecting,
//! every followed thread gets its last committed event, which makes each stream that is behind
//! see a gap and read the log.

use std::sync::Arc;

use sqlx::postgres::PgListener;

use super::super::{EventSink, Result, StoredEvent};
use super::tx::CHANNEL;
use super::PgStore;

/// One parsed notification.
#[derive(Debug, PartialEq)]
pub struct Note<'a> {
    pub instance: &'a str,
    pub thread: &'a str,
    pub first: u64,
    pub last: u64,
}

pub fn parse(payload: &str) -> Option<Note<'_>> {
    let mut it = payload.split(' ');
    let note = Note {
        instance: it.next()?,
        thread: it.next()?,
        first: it.next()?.parse().ok()?,
        last: it.next()?.parse().ok()?,
    };
    it.next().is_none().then_some(note)
}

/// Events per log read on a wake-up (a notification covers one transaction's events).
const PAGE: u32 = 500;

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
                Ok(Some(n)) => reader.woken(n.payload()).await,
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
    async fn woken(&self, payload: &str) {
        let Some(note) = parse(payload) else {
            tracing::warn!(payload, "event listener: unknown notification");
            return;
        };
        // Our own commits reached our sink right after COMMIT.
        if note.instance == self.instance || !self.sink.watching(note.thread) {
            return;
        }
        let mut after = note.first.saturating_sub(1);
        while after < note.last {
            match self.read(note.thread, after, note.last).await {
                Ok(events) if !events.is_empty() => {
                    after = events.last().map_or(note.last, |e| e.seq);
                    self.sink.published(note.thread, &events);
                }
                Ok(_) => return,
                Err(e) => {
                    tracing::warn!(thread = note.thread, error = %e, "event listener: log read failed");
                    return;
                }
            }
        }
    }

    async fn read(&self, thread: &str, after: u64, upto: u64) -> Result<Vec<Arc<StoredEvent>>> {
        let rows: Vec<(i64, String, String)> = sqlx::query_as(
            "SELECT seq, type, data FROM events WHERE thread_id = $1 AND seq > $2 AND seq <= $3 ORDER BY seq LIMIT $4",
        )
        .bind(thread)
        .bind(after as i64)
        .bind(upto as i64)
        .bind(PAGE as i64)
        .fetch_all(&self.pool)
        .await?;
        Ok(rows
            .into_iter()
            .map(|(seq, event_type, json)| {
                Arc::new(StoredEvent {
                    seq: seq as u64,
                    event_type,
                    json,
                })
            })
            .collect())
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
                thread: "thr_a",
                first: 3,
                last: 7
            })
        );
        assert_eq!(parse("inst_1 thr_a 3"), None);
        assert_eq!(parse("inst_1 thr_a x 7"), None);
        assert_eq!(parse("inst_1 thr_a 3 7 9"), None);
    }
}
