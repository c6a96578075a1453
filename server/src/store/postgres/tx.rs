//! One write of the PostgreSQL store: a transaction that locks the threads it writes, gives
//! their events the next seqs, and on commit inserts the events, moves `threads.last_seq` and
//! notifies the other instances in one statement, then hands the events to this instance's
//! sink.
//!
//! Invariants: a thread's seqs are taken only while its row is locked (`FOR UPDATE`), from the
//! `last_seq` read under that lock, so two writers of a thread — on any instance — get
//! consecutive seqs in commit order. Nothing reaches the sink before COMMIT returned; a
//! transaction dropped without [`Tx::commit`] rolls back and publishes nothing.

use std::sync::Arc;

use natter_protocol::{EventPayload, Message, ThreadStatus};
use sqlx::{Postgres, Row, Transaction};

use super::super::live::Prepared;
use super::super::{Result, StoreError, StoredEvent};
use super::PgStore;
use crate::outbox::NewJob;
use crate::time::now_rfc3339;

/// The NOTIFY channel: payloads carry the committed events ([`super::fanout::payloads`]).
pub const CHANNEL: &str = "natter_events";

/// A thread locked by this transaction.
struct Locked {
    id: String,
    status: ThreadStatus,
    bot: String,
    /// Last seq given (committed ones and this transaction's).
    last: u64,
    /// `last` when locked: this transaction's events are the seqs after it.
    locked_at: u64,
}

pub(super) struct Tx<'s> {
    pub store: &'s PgStore,
    pub tx: Transaction<'static, Postgres>,
    locked: Vec<Locked>,
    events: Vec<(String, Arc<StoredEvent>)>,
    /// Outbox rows were inserted: wake the worker after the commit.
    enqueued: bool,
    now: String,
}

impl<'s> Tx<'s> {
    pub async fn begin(store: &'s PgStore) -> Result<Tx<'s>> {
        Ok(Tx {
            store,
            tx: store.pool.begin().await?,
            locked: Vec::new(),
            events: Vec::new(),
            enqueued: false,
            now: now_rfc3339(),
        })
    }

    /// Locks the thread's row (waiting for its other writers) and returns its status.
    pub async fn lock(&mut self, thread_id: &str) -> Result<ThreadStatus> {
        if let Some(l) = self.locked.iter().find(|l| l.id == thread_id) {
            return Ok(l.status);
        }
        let row = sqlx::query("SELECT status, bot, last_seq FROM threads WHERE id = $1 FOR UPDATE")
            .bind(thread_id)
            .fetch_optional(&mut *self.tx)
            .await?
            .ok_or(StoreError::ThreadNotFound)?;
        let status: String = row.get(0);
        let status =
            ThreadStatus::parse(&status).ok_or_else(|| StoreError::Corrupt(status.clone()))?;
        let last = row.get::<i64, _>(2) as u64;
        self.locked.push(Locked {
            id: thread_id.to_string(),
            status,
            bot: row.get(1),
            last,
            locked_at: last,
        });
        Ok(status)
    }

    /// A thread this transaction created (its row is locked by the insert).
    pub fn created(&mut self, thread_id: &str, bot: &str) {
        self.locked.push(Locked {
            id: thread_id.to_string(),
            status: ThreadStatus::Open,
            bot: bot.to_string(),
            last: 0,
            locked_at: 0,
        });
    }

    fn entry(&mut self, thread_id: &str) -> Result<&mut Locked> {
        self.locked
            .iter_mut()
            .find(|l| l.id == thread_id)
            .ok_or_else(|| StoreError::Corrupt(format!("thread {thread_id} written unlocked")))
    }

    pub fn bot(&mut self, thread_id: &str) -> Result<String> {
        Ok(self.entry(thread_id)?.bot.clone())
    }

    pub fn set_status(&mut self, thread_id: &str, status: ThreadStatus) -> Result<()> {
        self.entry(thread_id)?.status = status;
        Ok(())
    }

    /// Gives the event the thread's next seq; it is inserted at commit.
    pub fn append(&mut self, thread_id: &str, payload: &EventPayload) -> Result<Arc<StoredEvent>> {
        let l = self.entry(thread_id)?;
        l.last += 1;
        let ev = Prepared::new(payload).seal(thread_id, l.last);
        self.events.push((thread_id.to_string(), ev.clone()));
        Ok(ev)
    }

    pub async fn insert_message(
        &mut self,
        thread_id: &str,
        seq: u64,
        m: &Message,
        ctx: Option<String>,
    ) -> Result<()> {
        let body = serde_json::to_string(m).map_err(super::corrupt)?;
        sqlx::query(
            "INSERT INTO messages (id, thread_id, seq, role, body, client_message_id, context, created_at, search_text) \
             VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9)",
        )
        .bind(&m.id)
        .bind(thread_id)
        .bind(seq as i64)
        .bind(m.role.as_str())
        .bind(body)
        .bind(&m.client_message_id)
        .bind(ctx)
        .bind(&m.created_at)
        .bind(super::console::search_text(m))
        .execute(&mut *self.tx)
        .await?;
        Ok(())
    }

    pub async fn insert_jobs(
        &mut self,
        thread_id: &str,
        bot: &str,
        jobs: Vec<NewJob>,
    ) -> Result<()> {
        if jobs.is_empty() {
            return Ok(());
        }
        let now = crate::outbox::now_ms();
        for j in jobs {
            sqlx::query(
                "INSERT INTO outbox (id, thread_id, bot, kind, lane, target, event_type, body, status, due_at, created_at) \
                 VALUES ($1, $2, $3, $4, $5, $6, $7, $8, 'pending', $9, $9)",
            )
            .bind(j.id)
            .bind(thread_id)
            .bind(bot)
            .bind(j.kind.as_str())
            .bind(j.lane)
            .bind(j.target)
            .bind(j.event_type)
            .bind(j.body)
            .bind(now)
            .execute(&mut *self.tx)
            .await?;
        }
        self.enqueued = true;
        Ok(())
    }

    /// Writes the events, the threads' `last_seq` and the notifications, commits, then
    /// publishes to this instance's sink.
    pub async fn commit(mut self) -> Result<Vec<Arc<StoredEvent>>> {
        if !self.events.is_empty() {
            let n = self.events.len();
            let (mut tid, mut seq, mut typ, mut data, mut at) = (
                Vec::with_capacity(n),
                Vec::with_capacity(n),
                Vec::with_capacity(n),
                Vec::with_capacity(n),
                Vec::with_capacity(n),
            );
            for (t, e) in &self.events {
                tid.push(t.as_str());
                seq.push(e.seq as i64);
                typ.push(e.event_type.as_str());
                data.push(e.json.as_str());
                at.push(self.now.as_str());
            }
            let written: Vec<&Locked> = self
                .locked
                .iter()
                .filter(|l| l.last > l.locked_at)
                .collect();
            let ids: Vec<&str> = written.iter().map(|l| l.id.as_str()).collect();
            let lasts: Vec<i64> = written.iter().map(|l| l.last as i64).collect();
            let notes = super::fanout::payloads(
                &self.store.instance,
                self.events.iter().map(|(t, e)| (t.as_str(), e.as_ref())),
            );
            // One round trip: events, counters, notifications (delivered at COMMIT).
            sqlx::query(
                "WITH ins AS (INSERT INTO events (thread_id, seq, type, data, created_at) \
                   SELECT * FROM UNNEST($1::text[], $2::bigint[], $3::text[], $4::text[], $5::text[])), \
                 upd AS (UPDATE threads t SET last_seq = u.last \
                   FROM UNNEST($6::text[], $7::bigint[]) AS u(id, last) WHERE t.id = u.id) \
                 SELECT pg_notify($8, p) FROM UNNEST($9::text[]) AS p",
            )
            .bind(tid)
            .bind(seq)
            .bind(typ)
            .bind(data)
            .bind(at)
            .bind(ids)
            .bind(lasts)
            .bind(CHANNEL)
            .bind(notes)
            .fetch_all(&mut *self.tx)
            .await?;
        }
        self.tx.commit().await?;
        if self.enqueued {
            self.store.planner.enqueued();
        }
        let events = std::mem::take(&mut self.events);
        publish(&*self.store.sink, &events);
        Ok(events.into_iter().map(|(_, e)| e).collect())
    }
}

/// Hands events to the sink, consecutive events of one thread in one call.
pub(super) fn publish(sink: &dyn super::EventSink, events: &[(String, Arc<StoredEvent>)]) {
    let mut start = 0;
    while start < events.len() {
        let thread = &events[start].0;
        let end = events[start..]
            .iter()
            .position(|(t, _)| t != thread)
            .map_or(events.len(), |i| start + i);
        let group: Vec<Arc<StoredEvent>> =
            events[start..end].iter().map(|(_, e)| e.clone()).collect();
        sink.published(thread, &group);
        start = end;
    }
}
