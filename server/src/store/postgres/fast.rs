//! The PostgreSQL store's hot-path writes: a send (the visitor's message and its run), a
//! reply's streamed events (its start and deltas) and a run's batch (its completed messages
//! and its end). Each is an [`Op`] whose rows the caller builds (JSON serialized, envelopes
//! cut, outside the writer); the group writer ([`super::group`]) runs the ops of a group kind by
//! kind, each kind in one statement over arrays ([`run_round`]): a group of hundreds of writes
//! costs a handful of round trips.
//!
//! Each statement keeps [`super::tx::Tx`]'s invariants: it moves `threads.last_seq` with an
//! `UPDATE` of the thread's row (which waits for the row's other writers on any instance, then
//! reads its latest `last_seq`) and numbers its events from it; the events reach the sink only after the
//! group's COMMIT, which also carries their NOTIFY. A statement covers each thread at most once
//! (a thread's second op in a group runs in the next round). An op writes only when its
//! preconditions hold — an open thread and a new `clientMessageId` for a send; not a
//! CRM-channel thread (whose replies plan outbox jobs) and the run's end last for a batch — and
//! otherwise writes nothing and answers "not written", and the caller takes the general
//! [`super::tx::Tx`] path, which decides with the row locked. A send that races a retry of
//! itself fails on the unique `clientMessageId` index (its group runs again op by op, see
//! [`super::group`]) and takes that path too (where the retry finds the first send).

use std::collections::HashMap;
use std::sync::Arc;

use natter_protocol::{ErrorDetail, EventPayload, Message, Role};
use serde_json::Value;
use sqlx::{PgConnection, Row};

use super::super::live::Prepared;
use super::super::{default_subject, Result, RunItem, RunOutcome, StoredEvent};
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
pub(super) fn duplicate(e: &sqlx::Error) -> bool {
    matches!(e, sqlx::Error::Database(d) if d.code().as_deref() == Some("23505"))
}

/// The event rows of `prepared`: their types and envelopes after the seq.
fn event_rows(prepared: &[Prepared], thread_id: &str) -> (Vec<&'static str>, Vec<String>) {
    (
        prepared.iter().map(|p| p.event_type).collect(),
        prepared
            .iter()
            .map(|p| envelope_rest(p, thread_id))
            .collect(),
    )
}

/// What a committed op wrote: its events, or `None` when its preconditions did not hold.
pub(super) type Written = Option<Vec<Arc<StoredEvent>>>;

/// The advisory-lock namespace of the group writers' thread locks (the first key of
/// `pg_advisory_xact_lock(int, int)`, a key space apart from the migrations' one-key lock).
const GROUP_LOCKS: i32 = 0x6e61_7474; // "natt"

/// Orders the group's writers: before any op writes, a transaction-level advisory lock per
/// thread (a hash of its id), taken in ascending order. Two groups, of this or another
/// instance, that write a common thread wait for each other there, before holding any row, so
/// they never deadlock on the rows; a hash collision only makes two groups wait for each
/// other. Unlike a `FOR UPDATE` of the rows this writes nothing (no tuple, no WAL); the
/// statements then take the row locks that order every writer of a thread.
pub(super) async fn lock_threads(conn: &mut PgConnection, threads: &[&str]) -> Result<()> {
    sqlx::query(
        "SELECT pg_advisory_xact_lock($1, k) FROM \
         (SELECT DISTINCT hashtext(t) AS k FROM UNNEST($2::text[]) AS t ORDER BY 1) AS s",
    )
    .bind(GROUP_LOCKS)
    .bind(threads)
    .execute(conn)
    .await?;
    Ok(())
}

const SENDS: &str = "WITH x AS (SELECT * FROM UNNEST($1::text[], $2::text[], $3::text[], $4::text[], \
       $5::text[], $6::text[], $7::text[], $8::text[], $9::text[], $10::text[], $11::text[], \
       $12::text[], $13::text[], $14::text[]) \
       AS x(t, mid, body, cmid, ctx, created, search, run, started, subject, typ1, rest1, typ2, rest2)), \
     t AS (UPDATE threads SET last_seq = threads.last_seq + 2, \
       subject = coalesce(threads.subject, x.subject) \
       FROM x WHERE threads.id = x.t AND threads.status = 'open' \
       AND NOT EXISTS (SELECT 1 FROM messages m WHERE m.thread_id = x.t AND m.client_message_id = x.cmid) \
       RETURNING threads.id, threads.last_seq), \
     w AS (SELECT x.*, t.last_seq FROM x JOIN t ON t.id = x.t), \
     m AS (INSERT INTO messages (id, thread_id, seq, role, body, client_message_id, context, created_at, search_text) \
       SELECT w.mid, w.t, w.last_seq - 1, 'user', w.body, w.cmid, w.ctx, w.created, w.search FROM w), \
     r AS (INSERT INTO runs (id, thread_id, message_id, status, started_at, owner) \
       SELECT w.run, w.t, w.mid, 'running', w.started, $15 FROM w), \
     e AS (INSERT INTO events (thread_id, seq, type, data, created_at) \
       SELECT w.t, w.last_seq - 1, w.typ1, '{\"seq\":' || (w.last_seq - 1) || w.rest1, w.started FROM w \
       UNION ALL \
       SELECT w.t, w.last_seq, w.typ2, '{\"seq\":' || w.last_seq || w.rest2, w.started FROM w) \
     SELECT id, last_seq FROM t";

/// `$7`: commit this transaction without waiting for the WAL flush (a group of streamed events
/// only; they become durable with the next synchronous commit, WAL being flushed in order).
const STREAMS: &str = "WITH x AS (SELECT * FROM UNNEST($1::text[], $2::bigint[], $3::text[]) AS x(t, n, created)), \
     t AS (UPDATE threads SET last_seq = threads.last_seq + x.n FROM x WHERE threads.id = x.t \
       RETURNING threads.id, threads.last_seq - x.n AS base, x.created), \
     ins AS (INSERT INTO events (thread_id, seq, type, data, created_at) \
       SELECT e.t, t.base + e.i, e.typ, '{\"seq\":' || (t.base + e.i) || e.rest, t.created \
       FROM UNNEST($4::text[], $5::bigint[], $6::text[], $7::text[]) AS e(t, i, typ, rest) \
       JOIN t ON t.id = e.t) \
     SELECT t.id, t.base, CASE WHEN $8 THEN set_config('synchronous_commit', 'off', true) END FROM t";

/// A run's end is written only while the run is `running` (`fin`: 1 if it was, else its
/// `run.completed` / `run.failed` is left out). The threads' rows are locked (`lk`) before a
/// run's row, as recovery locks them, so the two never wait for each other the other way round.
const BATCHES: &str = "WITH x AS (SELECT * FROM UNNEST($1::text[], $2::text[], $3::text[], $4::text[], \
       $5::bigint[], $6::text[], $7::text[]) AS x(t, run, status, error, k, state, now)), \
     lk AS (SELECT id FROM threads WHERE id IN (SELECT t FROM x) ORDER BY id FOR UPDATE), \
     r AS (UPDATE runs SET status = x.status, error = x.error, ended_at = x.now FROM x \
       WHERE runs.id = x.run AND runs.status = 'running' AND EXISTS (SELECT 1 FROM lk WHERE lk.id = x.t) \
       RETURNING x.t), \
     t AS (UPDATE threads SET last_seq = threads.last_seq + x.k + f.fin, \
       agent_state = CASE WHEN f.fin > 0 AND x.state IS NOT NULL THEN x.state ELSE threads.agent_state END, \
       updated_at = CASE WHEN f.fin > 0 AND x.state IS NOT NULL THEN x.now ELSE threads.updated_at END \
       FROM x CROSS JOIN LATERAL (SELECT count(*) AS fin FROM r WHERE r.t = x.t) f \
       WHERE threads.id = x.t \
       RETURNING threads.id, threads.last_seq - x.k - f.fin AS base, f.fin, x.k, x.now), \
     m AS (INSERT INTO messages (id, thread_id, seq, role, body, created_at, search_text) \
       SELECT y.id, y.t, t.base + y.i, y.role, y.body, y.created, y.search \
       FROM UNNEST($8::text[], $9::text[], $10::bigint[], $11::text[], $12::text[], $13::text[], $14::text[]) \
         AS y(id, t, i, role, body, created, search) JOIN t ON t.id = y.t), \
     e AS (INSERT INTO events (thread_id, seq, type, data, created_at) \
       SELECT z.t, t.base + z.i, z.typ, '{\"seq\":' || (t.base + z.i) || z.rest, t.now \
       FROM UNNEST($15::text[], $16::bigint[], $17::text[], $18::text[]) AS z(t, i, typ, rest) \
       JOIN t ON t.id = z.t WHERE z.i <= t.k + t.fin) \
     SELECT t.id, t.base, t.fin FROM t";

/// A hot-path write, ready to run: see the module doc.
pub(super) enum Op {
    Send(SendRows),
    Stream(StreamRows),
    Batch(BatchRows),
}

impl Op {
    /// The thread it writes.
    pub fn thread(&self) -> &str {
        match self {
            Op::Send(s) => &s.thread_id,
            Op::Stream(s) => &s.thread_id,
            Op::Batch(b) => &b.thread_id,
        }
    }

    /// Streamed events only (they need no synchronous commit).
    pub fn is_stream(&self) -> bool {
        matches!(self, Op::Stream(_))
    }
}

/// Runs the ops `ops[i]` for `i` in `round` (each on a different thread, locked by
/// [`lock_threads`]) in the caller's transaction: one statement per kind. Each op's
/// result goes to `out[i]`. `async_commit`: the transaction may commit without waiting for the
/// WAL flush.
pub(super) async fn run_round(
    conn: &mut PgConnection,
    ops: &[&Op],
    round: &[usize],
    async_commit: bool,
    out: &mut [Written],
) -> Result<()> {
    let (mut sends, mut streams, mut batches) = (Vec::new(), Vec::new(), Vec::new());
    for &i in round {
        match ops[i] {
            Op::Send(s) => sends.push((i, s)),
            Op::Stream(s) => streams.push((i, s)),
            Op::Batch(b) => batches.push((i, b)),
        }
    }
    if !sends.is_empty() {
        SendRows::exec(conn, &sends, out).await?;
    }
    if !streams.is_empty() {
        StreamRows::exec(conn, &streams, async_commit, out).await?;
    }
    if !batches.is_empty() {
        BatchRows::exec(conn, &batches, out).await?;
    }
    Ok(())
}

/// Each returned row's thread and first column after it.
fn by_thread(rows: &[sqlx::postgres::PgRow]) -> HashMap<&str, &sqlx::postgres::PgRow> {
    rows.iter().map(|r| (r.get::<&str, _>(0), r)).collect()
}

/// A send to an open thread with a new `clientMessageId`: its message, its run,
/// `message.created` + `run.started`, and the thread's default subject if it has none.
pub(super) struct SendRows {
    thread_id: String,
    message_id: String,
    body: String,
    client_message_id: Option<String>,
    context: Option<String>,
    created_at: String,
    search: String,
    run_id: String,
    started_at: String,
    owner: String,
    subject: Option<String>,
    types: Vec<&'static str>,
    rests: Vec<String>,
    prepared: Vec<Prepared>,
}

impl SendRows {
    pub fn new(
        thread_id: &str,
        message: &Message,
        context: &Option<Value>,
        run_id: &str,
        owner: &str,
    ) -> Result<Self> {
        let mut message = message.clone();
        message.run_id = Some(run_id.to_string());
        let prepared = vec![
            Prepared::new(&EventPayload::MessageCreated {
                message: message.clone(),
            }),
            Prepared::new(&EventPayload::RunStarted {
                run_id: run_id.to_string(),
                message_id: message.id.clone(),
            }),
        ];
        let (types, rests) = event_rows(&prepared, thread_id);
        Ok(SendRows {
            thread_id: thread_id.to_string(),
            body: body(&message)?,
            search: super::console::search_text(&message),
            subject: default_subject(&super::write::text_of(&message)),
            message_id: message.id,
            client_message_id: message.client_message_id,
            context: context.as_ref().map(Value::to_string),
            created_at: message.created_at,
            run_id: run_id.to_string(),
            started_at: now_rfc3339(),
            owner: owner.to_string(),
            types,
            rests,
            prepared,
        })
    }

    async fn exec(
        conn: &mut PgConnection,
        ops: &[(usize, &Self)],
        out: &mut [Written],
    ) -> Result<()> {
        let col = |f: fn(&Self) -> Option<&str>| ops.iter().map(|(_, s)| f(s)).collect::<Vec<_>>();
        let rows = sqlx::query(SENDS)
            .bind(col(|s| Some(s.thread_id.as_str())))
            .bind(col(|s| Some(s.message_id.as_str())))
            .bind(col(|s| Some(s.body.as_str())))
            .bind(col(|s| s.client_message_id.as_deref()))
            .bind(col(|s| s.context.as_deref()))
            .bind(col(|s| Some(s.created_at.as_str())))
            .bind(col(|s| Some(s.search.as_str())))
            .bind(col(|s| Some(s.run_id.as_str())))
            .bind(col(|s| Some(s.started_at.as_str())))
            .bind(col(|s| s.subject.as_deref()))
            .bind(col(|s| Some(s.types[0])))
            .bind(col(|s| Some(&s.rests[0])))
            .bind(col(|s| Some(s.types[1])))
            .bind(col(|s| Some(&s.rests[1])))
            .bind(ops.first().map(|(_, s)| s.owner.as_str()))
            .fetch_all(conn)
            .await?;
        let done = by_thread(&rows);
        for (i, s) in ops {
            out[*i] = done.get(s.thread_id.as_str()).map(|r| {
                let last = r.get::<i64, _>(1) as u64;
                sealed(&s.prepared, &s.thread_id, last - 1)
            });
        }
        Ok(())
    }
}

/// A reply's streamed events (its `message.started`, its deltas).
pub(super) struct StreamRows {
    thread_id: String,
    created_at: String,
    types: Vec<&'static str>,
    rests: Vec<String>,
    prepared: Vec<Prepared>,
}

impl StreamRows {
    pub fn new(thread_id: &str, events: &[EventPayload]) -> Self {
        let prepared: Vec<Prepared> = events.iter().map(Prepared::new).collect();
        let (types, rests) = event_rows(&prepared, thread_id);
        StreamRows {
            thread_id: thread_id.to_string(),
            created_at: now_rfc3339(),
            types,
            rests,
            prepared,
        }
    }

    async fn exec(
        conn: &mut PgConnection,
        ops: &[(usize, &Self)],
        async_commit: bool,
        out: &mut [Written],
    ) -> Result<()> {
        let (mut et, mut ei, mut typ, mut rest) = (vec![], vec![], vec![], vec![]);
        for (_, s) in ops {
            for (i, (t, r)) in s.types.iter().zip(&s.rests).enumerate() {
                et.push(s.thread_id.as_str());
                ei.push(i as i64 + 1);
                typ.push(*t);
                rest.push(r.as_str());
            }
        }
        let rows = sqlx::query(STREAMS)
            .bind(
                ops.iter()
                    .map(|(_, s)| s.thread_id.as_str())
                    .collect::<Vec<_>>(),
            )
            .bind(
                ops.iter()
                    .map(|(_, s)| s.prepared.len() as i64)
                    .collect::<Vec<_>>(),
            )
            .bind(
                ops.iter()
                    .map(|(_, s)| s.created_at.as_str())
                    .collect::<Vec<_>>(),
            )
            .bind(et)
            .bind(ei)
            .bind(typ)
            .bind(rest)
            .bind(async_commit)
            .fetch_all(conn)
            .await?;
        let done = by_thread(&rows);
        for (i, s) in ops {
            out[*i] = done.get(s.thread_id.as_str()).map(|r| {
                let base = r.get::<i64, _>(1) as u64;
                sealed(&s.prepared, &s.thread_id, base + 1)
            });
        }
        Ok(())
    }
}

/// A run's completed messages and its end, in that order (see the module doc for the shape).
pub(super) struct BatchRows {
    thread_id: String,
    status: &'static str,
    error: Option<String>,
    now: String,
    run_id: Option<String>,
    /// Events before the run's end.
    k: i64,
    state: Option<String>,
    ids: Vec<String>,
    idx: Vec<i64>,
    roles: Vec<&'static str>,
    bodies: Vec<String>,
    created: Vec<String>,
    search: Vec<String>,
    types: Vec<&'static str>,
    rests: Vec<String>,
    /// The events, the run's end last when there is one.
    prepared: Vec<Prepared>,
}

impl BatchRows {
    /// The batch's rows, or `None` when it does not have the one-statement shape (a
    /// CRM-channel thread, or a run's end that is not the last item).
    pub fn new(thread_id: &str, items: &[RunItem]) -> Result<Option<Self>> {
        let finishes = items
            .iter()
            .filter(|i| matches!(i, RunItem::Finish { .. }))
            .count();
        let finish_last = matches!(items.last(), Some(RunItem::Finish { .. }));
        if thread_id.starts_with(CRM_THREAD_PREFIX) || finishes > usize::from(finish_last) {
            return Ok(None);
        }
        let mut prepared = Vec::with_capacity(items.len());
        let (mut ids, mut idx, mut roles, mut bodies, mut created, mut search) =
            (vec![], vec![], vec![], vec![], vec![], vec![]);
        let mut finish = None;
        for item in items {
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
                    roles.push(m.role.as_str());
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
                    finish = Some((
                        run_id.clone(),
                        status,
                        error,
                        event,
                        agent_state.as_ref().map(Value::to_string),
                    ));
                }
            }
        }
        let k = prepared.len() as i64;
        let (run_id, status, error, state) = match finish {
            Some((run_id, status, error, event, state)) => {
                prepared.push(Prepared::new(&event));
                (Some(run_id), status, error, state)
            }
            None => (None, "completed", None, None),
        };
        let (types, rests) = event_rows(&prepared, thread_id);
        Ok(Some(BatchRows {
            thread_id: thread_id.to_string(),
            status,
            error,
            now: now_rfc3339(),
            run_id,
            k,
            state,
            ids,
            idx,
            roles,
            bodies,
            created,
            search,
            types,
            rests,
            prepared,
        }))
    }

    async fn exec(
        conn: &mut PgConnection,
        ops: &[(usize, &Self)],
        out: &mut [Written],
    ) -> Result<()> {
        let (mut mt, mut et, mut ei, mut typ, mut rest) = (vec![], vec![], vec![], vec![], vec![]);
        let (mut ids, mut idx, mut roles, mut bodies, mut created, mut search) =
            (vec![], vec![], vec![], vec![], vec![], vec![]);
        for (_, b) in ops {
            for j in 0..b.ids.len() {
                mt.push(b.thread_id.as_str());
                ids.push(b.ids[j].as_str());
                idx.push(b.idx[j]);
                roles.push(b.roles[j]);
                bodies.push(b.bodies[j].as_str());
                created.push(b.created[j].as_str());
                search.push(b.search[j].as_str());
            }
            for (i, (t, r)) in b.types.iter().zip(&b.rests).enumerate() {
                et.push(b.thread_id.as_str());
                ei.push(i as i64 + 1);
                typ.push(*t);
                rest.push(r.as_str());
            }
        }
        let col = |f: fn(&Self) -> Option<&str>| ops.iter().map(|(_, b)| f(b)).collect::<Vec<_>>();
        let rows = sqlx::query(BATCHES)
            .bind(col(|b| Some(b.thread_id.as_str())))
            .bind(col(|b| b.run_id.as_deref()))
            .bind(col(|b| Some(b.status)))
            .bind(col(|b| b.error.as_deref()))
            .bind(ops.iter().map(|(_, b)| b.k).collect::<Vec<_>>())
            .bind(col(|b| b.state.as_deref()))
            .bind(col(|b| Some(b.now.as_str())))
            .bind(ids)
            .bind(mt)
            .bind(idx)
            .bind(roles)
            .bind(bodies)
            .bind(created)
            .bind(search)
            .bind(et)
            .bind(ei)
            .bind(typ)
            .bind(rest)
            .fetch_all(conn)
            .await?;
        let done = by_thread(&rows);
        for (i, b) in ops {
            // No row: no such thread (the general path says so).
            out[*i] = done.get(b.thread_id.as_str()).map(|r| {
                let base = r.get::<i64, _>(1) as u64;
                let fin = r.get::<i64, _>(2);
                let mut events = &b.prepared[..];
                if fin == 0 && b.run_id.is_some() {
                    // Already finished (or recovered by another instance): its end is not written.
                    events = &events[..events.len() - 1];
                }
                sealed(events, &b.thread_id, base + 1)
            });
        }
        Ok(())
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
