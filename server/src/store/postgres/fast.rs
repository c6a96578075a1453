//! One-statement writes of the PostgreSQL store's hot path: a send (the visitor's message and
//! its run) and a run's batch (its completed messages and its end), each a single statement in
//! its own implicit transaction: one round trip instead of BEGIN, a locking read, one
//! statement per row and COMMIT.
//!
//! Each statement keeps [`super::tx::Tx`]'s invariants: it moves `threads.last_seq` with an
//! `UPDATE` of the thread's row (which waits for the row's other writers on any instance and
//! then reads its latest `last_seq`), numbers its events from it, and notifies in the same
//! commit. It writes only when its preconditions hold — an open thread and a new
//! `clientMessageId` for a send; not a CRM-channel thread (whose replies plan outbox jobs) and
//! the run's end last for a batch — and otherwise writes nothing and answers `None`, and the
//! caller takes the general [`super::tx::Tx`] path, which decides with the row locked. A send
//! that races a retry of itself fails on the unique `clientMessageId` index and takes that path
//! too (where the retry finds the first send).

use std::sync::Arc;

use natter_protocol::{ErrorDetail, EventPayload, Message, Role};
use serde_json::Value;
use sqlx::Row;

use super::super::live::Prepared;
use super::super::{default_subject, Result, RunItem, RunOutcome, StoredEvent};
use super::tx::CHANNEL;
use super::PgStore;
use crate::outbox::CRM_THREAD_PREFIX;
use crate::time::now_rfc3339;

/// An event's envelope after its seq (`,"threadId":…}`): SQL prefixes `{"seq":N`, which gives
/// the bytes [`Prepared::seal`] makes.
pub(super) fn envelope_rest(p: &Prepared, thread_id: &str) -> String {
    const HEAD: usize = "{\"seq\":0".len();
    p.seal(thread_id, 0).json[HEAD..].to_string()
}

/// The sealed events `first`, `first + 1`, … for the sink, after the commit.
fn sealed(prepared: &[Prepared], thread_id: &str, first: u64) -> Vec<Arc<StoredEvent>> {
    prepared
        .iter()
        .enumerate()
        .map(|(i, p)| p.seal(thread_id, first + i as u64))
        .collect()
}

fn body(m: &Message) -> Result<String> {
    serde_json::to_string(m).map_err(super::corrupt)
}

/// Is the unique-index violation a racing duplicate send causes?
fn duplicate(e: &sqlx::Error) -> bool {
    matches!(e, sqlx::Error::Database(d) if d.code().as_deref() == Some("23505"))
}

const SEND: &str = "WITH t AS (UPDATE threads SET last_seq = last_seq + 2, \
       subject = coalesce(subject, $14) \
       WHERE id = $1 AND status = 'open' \
       AND NOT EXISTS (SELECT 1 FROM messages WHERE thread_id = $1 AND client_message_id = $4) \
       RETURNING last_seq), \
     m AS (INSERT INTO messages (id, thread_id, seq, role, body, client_message_id, context, created_at, search_text) \
       SELECT $2, $1, t.last_seq - 1, 'user', $3, $4, $5, $6, $7 FROM t), \
     r AS (INSERT INTO runs (id, thread_id, message_id, status, started_at, owner) \
       SELECT $8, $1, $2, 'running', $9, $10 FROM t), \
     e AS (INSERT INTO events (thread_id, seq, type, data, created_at) \
       SELECT $1, t.last_seq - 2 + x.i, x.typ, '{\"seq\":' || (t.last_seq - 2 + x.i) || x.rest, $9 \
       FROM t, UNNEST($11::text[], $12::text[]) WITH ORDINALITY AS x(typ, rest, i)) \
     SELECT t.last_seq, pg_notify($13, $10 || ' ' || $1 || ' ' || (t.last_seq - 1) || ' ' || t.last_seq) FROM t";

/// The thread's row is locked first (as the general path does), so this never waits for a run
/// row while holding it the other way round (recovery locks the thread, then its runs).
const BATCH: &str = "WITH lk AS (SELECT id FROM threads WHERE id = $1 FOR UPDATE), \
     r AS (UPDATE runs SET status = $2, error = $3, ended_at = $4 \
       WHERE id = $5 AND status = 'running' AND EXISTS (SELECT 1 FROM lk) RETURNING 1), \
     fin AS (SELECT count(*) AS n FROM r), \
     t AS (UPDATE threads SET last_seq = last_seq + $6 + fin.n, \
       agent_state = CASE WHEN fin.n > 0 AND $7::text IS NOT NULL THEN $7 ELSE agent_state END, \
       updated_at = CASE WHEN fin.n > 0 AND $7::text IS NOT NULL THEN $4 ELSE updated_at END \
       FROM fin WHERE id = $1 AND EXISTS (SELECT 1 FROM lk) \
       RETURNING last_seq - $6 - fin.n AS base, fin.n AS fin), \
     m AS (INSERT INTO messages (id, thread_id, seq, role, body, created_at, search_text) \
       SELECT x.id, $1, t.base + x.i, x.role, x.body, x.created, x.search FROM t, \
       UNNEST($8::text[], $9::bigint[], $10::text[], $11::text[], $12::text[], $13::text[]) \
         AS x(id, i, role, body, created, search)), \
     e AS (INSERT INTO events (thread_id, seq, type, data, created_at) \
       SELECT $1, t.base + x.i, x.typ, '{\"seq\":' || (t.base + x.i) || x.rest, $4 \
       FROM t, UNNEST($14::text[], $15::text[]) WITH ORDINALITY AS x(typ, rest, i) \
       WHERE x.i <= $6 + t.fin), \
     n AS (SELECT pg_notify($16, $17 || ' ' || $1 || ' ' || (t.base + 1) || ' ' || (t.base + $6 + t.fin)) \
       FROM t WHERE $6 + t.fin > 0) \
     SELECT t.base, t.fin, (SELECT count(*) FROM n) FROM t";

/// A run's end as the batch statement writes it.
struct Finish {
    run_id: String,
    status: &'static str,
    error: Option<String>,
    event: EventPayload,
    state: Option<String>,
}

impl PgStore {
    /// A send to an open thread with a new `clientMessageId`, in one statement: its message,
    /// its run, `message.created` + `run.started`, and the thread's default subject if it has
    /// none. `None`: nothing written (take the general
    /// path).
    pub(super) async fn fast_send(
        &self,
        thread_id: &str,
        message: &Message,
        context: &Option<Value>,
        run_id: &str,
    ) -> Result<Option<()>> {
        let mut message = message.clone();
        message.run_id = Some(run_id.to_string());
        let prepared = [
            Prepared::new(&EventPayload::MessageCreated {
                message: message.clone(),
            }),
            Prepared::new(&EventPayload::RunStarted {
                run_id: run_id.to_string(),
                message_id: message.id.clone(),
            }),
        ];
        let types: Vec<&str> = prepared.iter().map(|p| p.event_type).collect();
        let rests: Vec<String> = prepared
            .iter()
            .map(|p| envelope_rest(p, thread_id))
            .collect();
        let row = sqlx::query(SEND)
            .bind(thread_id)
            .bind(&message.id)
            .bind(body(&message)?)
            .bind(&message.client_message_id)
            .bind(context.as_ref().map(Value::to_string))
            .bind(&message.created_at)
            .bind(super::console::search_text(&message))
            .bind(run_id)
            .bind(now_rfc3339())
            .bind(&self.instance)
            .bind(&types)
            .bind(&rests)
            .bind(CHANNEL)
            .bind(default_subject(&super::write::text_of(&message)))
            .fetch_optional(&self.pool)
            .await;
        let row = match row {
            Ok(row) => row,
            Err(e) if duplicate(&e) => return Ok(None),
            Err(e) => return Err(e.into()),
        };
        let Some(row) = row else { return Ok(None) };
        let last = row.get::<i64, _>(0) as u64;
        self.sink
            .published(thread_id, &sealed(&prepared, thread_id, last - 1));
        Ok(Some(()))
    }

    /// A run's batch in one statement, when it has that shape (see the module doc); `Err` gives
    /// the items back untouched (nothing written).
    pub(super) async fn fast_batch(
        &self,
        thread_id: &str,
        items: Vec<RunItem>,
    ) -> Result<std::result::Result<(), Vec<RunItem>>> {
        let finishes = items
            .iter()
            .filter(|i| matches!(i, RunItem::Finish { .. }))
            .count();
        let finish_last = matches!(items.last(), Some(RunItem::Finish { .. }));
        if thread_id.starts_with(CRM_THREAD_PREFIX) || finishes > usize::from(finish_last) {
            return Ok(Err(items));
        }
        // Rows built here, outside any transaction: events, message rows, the run's end.
        let mut prepared = Vec::with_capacity(items.len());
        let (mut ids, mut idx, mut roles, mut bodies, mut created, mut search) =
            (vec![], vec![], vec![], vec![], vec![], vec![]);
        let mut finish = None;
        for item in &items {
            match item {
                RunItem::Event(ev) => prepared.push(Prepared::new(ev)),
                RunItem::Message { run_id, message } => {
                    let mut m = message.clone();
                    m.run_id = run_id.clone();
                    let payload = if m.role == Role::Agent {
                        EventPayload::AgentMessage { message: m.clone() }
                    } else {
                        EventPayload::MessageCompleted {
                            run_id: run_id.clone(),
                            message: m.clone(),
                        }
                    };
                    prepared.push(Prepared::new(&payload));
                    ids.push(m.id.clone());
                    idx.push(prepared.len() as i64);
                    roles.push(m.role.as_str().to_string());
                    bodies.push(body(&m)?);
                    created.push(m.created_at.clone());
                    search.push(super::console::search_text(&m));
                }
                RunItem::Finish {
                    run_id,
                    outcome,
                    agent_state,
                } => {
                    let (status, error, event) = match outcome {
                        RunOutcome::Completed => (
                            "completed",
                            None,
                            EventPayload::RunCompleted {
                                run_id: run_id.clone(),
                            },
                        ),
                        RunOutcome::Failed { code, message } => (
                            "failed",
                            Some(code.clone()),
                            EventPayload::RunFailed {
                                run_id: run_id.clone(),
                                error: ErrorDetail {
                                    code: code.clone(),
                                    message: message.clone(),
                                },
                            },
                        ),
                    };
                    finish = Some(Finish {
                        run_id: run_id.clone(),
                        status,
                        error,
                        event,
                        state: agent_state.as_ref().map(Value::to_string),
                    });
                }
            }
        }
        let k = prepared.len() as i64;
        if let Some(f) = &finish {
            prepared.push(Prepared::new(&f.event));
        }
        let types: Vec<&str> = prepared.iter().map(|p| p.event_type).collect();
        let rests: Vec<String> = prepared
            .iter()
            .map(|p| envelope_rest(p, thread_id))
            .collect();
        let row = sqlx::query(BATCH)
            .bind(thread_id)
            .bind(finish.as_ref().map_or("completed", |f| f.status))
            .bind(finish.as_ref().and_then(|f| f.error.clone()))
            .bind(now_rfc3339())
            .bind(finish.as_ref().map(|f| f.run_id.clone()))
            .bind(k)
            .bind(finish.as_ref().and_then(|f| f.state.clone()))
            .bind(&ids)
            .bind(&idx)
            .bind(&roles)
            .bind(&bodies)
            .bind(&created)
            .bind(&search)
            .bind(&types)
            .bind(&rests)
            .bind(CHANNEL)
            .bind(&self.instance)
            .fetch_optional(&self.pool)
            .await?;
        let Some(row) = row else {
            return Ok(Err(items)); // no such thread: the general path says so
        };
        let base = row.get::<i64, _>(0) as u64;
        let fin = row.get::<i64, _>(1) as usize;
        if fin == 0 && finish.is_some() {
            // Already finished (or recovered by another instance): its end is not written.
            prepared.pop();
        }
        if !prepared.is_empty() {
            self.sink
                .published(thread_id, &sealed(&prepared, thread_id, base + 1));
        }
        Ok(Ok(()))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_rest_after_the_seq_completes_the_sealed_envelope() {
        let p = Prepared::new(&EventPayload::RunCompleted {
            run_id: "run_\"1".into(),
        });
        let whole = format!("{{\"seq\":17{}", envelope_rest(&p, "thr_x"));
        assert_eq!(whole, p.seal("thr_x", 17).json);
    }
}
