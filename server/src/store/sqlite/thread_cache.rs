//! The thread rows the SQLite store has read, kept as last committed: the run that starts each
//! turn reads its thread, and without this that is a `SELECT` and three JSON parses per turn on
//! the read pool.
//!
//! Coherence rests on the single writer, this process's only writing connection:
//! * an update hook on the writer's connection notes every `threads` row a statement changes or
//!   deletes (status, tags, metadata, subject, browser session, retention's delete, and any
//!   change added later); once the group's COMMIT is done, before anyone is answered, the writer
//!   drops those rows' entries ([`ThreadCache::committed`]);
//! * the writer's own per-turn writes are passed around the hook ([`ThreadCache::quiet`]): the
//!   agent state a run leaves is written through to the entry instead, and the seq reservation is
//!   not part of [`Thread`];
//! * a commit of another process (a `natter action test` on the same data directory) is seen at
//!   the writer's next group through `PRAGMA data_version`, and empties the cache; a run reads its
//!   thread after the group that stored the visitor's message, so it never sees an older row;
//! * every change bumps a generation, and a read fills an entry only if the generation it took
//!   before its `SELECT` is unchanged: a read that raced a commit cannot put an old row back.
//!
//! SQLite does not call the hook for rows removed by `INSERT OR REPLACE` or by a `DELETE`
//! without a `WHERE` (its truncate optimisation): the store must change `threads` with neither.
//!
//! PostgreSQL has no such cache: other instances write there.

use std::collections::HashMap;
use std::hash::{BuildHasher, RandomState};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};

use rusqlite::hooks::Action;
use rusqlite::Connection;
use serde_json::Value;

use super::super::Thread;

/// Entries kept at most; a full cache starts over (the rows are read again as they are used).
const MAX_ENTRIES: usize = 16_384;
/// Generations are kept per stripe of thread ids, so a commit refuses few unrelated fills.
const STRIPES: usize = 64;

/// What a read found: the row, or the ticket its fill must present.
pub(in crate::store) enum Lookup {
    Hit(Box<Thread>),
    Miss(Ticket),
}

/// The generations a reader saw before its `SELECT`.
#[derive(Clone, Copy)]
pub(in crate::store) struct Ticket {
    stripe: usize,
    gen: u64,
    all: u64,
}

#[derive(Default)]
struct Inner {
    rows: HashMap<String, Thread>,
    /// The rowid of each row kept: the hook names rows by rowid.
    by_rowid: HashMap<i64, String>,
    gens: Vec<u64>,
    /// Bumped by a change whose thread is not known by id (a row not cached, another process).
    all: u64,
}

/// What the hook noted on the writer's connection since the last commit.
#[derive(Default)]
struct Noted {
    quiet: AtomicBool,
    rowids: Mutex<Vec<i64>>,
}

pub(in crate::store) struct ThreadCache {
    inner: Mutex<Inner>,
    noted: Arc<Noted>,
    hasher: RandomState,
}

impl Default for ThreadCache {
    fn default() -> Self {
        ThreadCache {
            inner: Mutex::new(Inner {
                gens: vec![0; STRIPES],
                ..Default::default()
            }),
            noted: Arc::default(),
            hasher: RandomState::new(),
        }
    }
}

impl ThreadCache {
    fn stripe(&self, id: &str) -> usize {
        (self.hasher.hash_one(id) % STRIPES as u64) as usize
    }

    pub fn get(&self, id: &str) -> Lookup {
        let stripe = self.stripe(id);
        let inner = self.inner.lock().unwrap();
        match inner.rows.get(id) {
            Some(t) => Lookup::Hit(Box::new(t.clone())),
            None => Lookup::Miss(Ticket {
                stripe,
                gen: inner.gens[stripe],
                all: inner.all,
            }),
        }
    }

    /// Keeps a row read from the file, unless a commit since `ticket` may have changed it.
    pub fn fill(&self, ticket: Ticket, rowid: i64, thread: &Thread) {
        let mut inner = self.inner.lock().unwrap();
        if inner.gens[ticket.stripe] != ticket.gen || inner.all != ticket.all {
            return;
        }
        if inner.rows.len() >= MAX_ENTRIES {
            inner.rows.clear();
            inner.by_rowid.clear();
        }
        inner.by_rowid.insert(rowid, thread.id.clone());
        inner.rows.insert(thread.id.clone(), thread.clone());
    }

    /// Installs the hook on the writer's connection (the only one that writes).
    pub fn watch(&self, conn: &Connection) {
        let noted = self.noted.clone();
        conn.update_hook(Some(move |action, _db: &str, table: &str, rowid| {
            if table == "threads"
                && matches!(action, Action::SQLITE_UPDATE | Action::SQLITE_DELETE)
                && !noted.quiet.load(Ordering::Relaxed)
            {
                noted.rowids.lock().unwrap().push(rowid);
            }
        }));
    }

    /// Runs a write of the writer's that keeps the entry right by other means (see the module
    /// doc) without the hook noting it.
    pub fn quiet<T>(&self, f: impl FnOnce() -> T) -> T {
        self.noted.quiet.store(true, Ordering::Relaxed);
        let out = f();
        self.noted.quiet.store(false, Ordering::Relaxed);
        out
    }

    /// After a group's COMMIT (or its failure): drops the rows the hook noted and writes the
    /// committed agent states through. `others` is set when another connection committed
    /// since the last group: everything goes.
    pub fn committed(&self, others: bool, states: impl IntoIterator<Item = (String, Value)>) {
        let noted = std::mem::take(&mut *self.noted.rowids.lock().unwrap());
        let mut states = states.into_iter().peekable();
        if !others && noted.is_empty() && states.peek().is_none() {
            return; // a group that changed no thread row: the readers' lock is not taken
        }
        let mut inner = self.inner.lock().unwrap();
        if others {
            inner.rows.clear();
            inner.by_rowid.clear();
            inner.all += 1;
        }
        for rowid in noted {
            match inner.by_rowid.remove(&rowid) {
                Some(id) => {
                    inner.rows.remove(&id);
                    let s = self.stripe(&id);
                    inner.gens[s] += 1;
                }
                None => inner.all += 1,
            }
        }
        for (id, state) in states {
            let s = self.stripe(&id);
            inner.gens[s] += 1;
            if let Some(t) = inner.rows.get_mut(&id) {
                t.agent_state = state;
            }
        }
    }

    #[cfg(test)]
    pub fn cached(&self, id: &str) -> bool {
        self.inner.lock().unwrap().rows.contains_key(id)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use natter_protocol::ThreadStatus;

    fn thread(id: &str, state: Value) -> Thread {
        Thread {
            id: id.into(),
            public_id: format!("p-{id}"),
            bot: "b".into(),
            sub: None,
            subject: None,
            status: ThreadStatus::Open,
            tags: vec![],
            metadata: Default::default(),
            agent_state: state,
            created_at: "2026-01-01T00:00:00Z".into(),
            channel: "web".into(),
            browser_session: None,
        }
    }

    fn ticket(c: &ThreadCache, id: &str) -> Ticket {
        match c.get(id) {
            Lookup::Miss(t) => t,
            Lookup::Hit(_) => panic!("{id} should not be cached"),
        }
    }

    fn state(c: &ThreadCache, id: &str) -> Value {
        match c.get(id) {
            Lookup::Hit(t) => t.agent_state,
            Lookup::Miss(_) => panic!("{id} should be cached"),
        }
    }

    /// A real connection with the hook, and a table like the store's.
    fn db(c: &ThreadCache) -> Connection {
        let conn = Connection::open_in_memory().unwrap();
        conn.execute_batch(
            "CREATE TABLE threads (id TEXT PRIMARY KEY, status TEXT);
             CREATE TABLE events (thread_id TEXT);
             INSERT INTO threads VALUES ('a', 'open'), ('b', 'open');",
        )
        .unwrap();
        c.watch(&conn);
        conn
    }

    fn rowid(conn: &Connection, id: &str) -> i64 {
        conn.query_row("SELECT rowid FROM threads WHERE id = ?1", [id], |r| {
            r.get(0)
        })
        .unwrap()
    }

    #[test]
    fn a_changed_row_is_dropped_and_the_others_stay() {
        let c = ThreadCache::default();
        let conn = db(&c);
        for id in ["a", "b"] {
            let t = ticket(&c, id);
            c.fill(t, rowid(&conn, id), &thread(id, Value::Null));
        }
        conn.execute("UPDATE threads SET status = 'closed' WHERE id = 'a'", [])
            .unwrap();
        conn.execute("INSERT INTO events VALUES ('b')", []).unwrap();
        assert!(c.cached("a"), "nothing is dropped before the commit");
        c.committed(false, []);
        assert!(!c.cached("a"));
        assert!(c.cached("b"), "a write to another table drops nothing");
        conn.execute("DELETE FROM threads WHERE id = 'b'", [])
            .unwrap();
        c.committed(false, []);
        assert!(!c.cached("b"));
    }

    #[test]
    fn quiet_writes_are_not_noted_and_states_are_written_through() {
        let c = ThreadCache::default();
        let conn = db(&c);
        let t = ticket(&c, "a");
        c.fill(t, rowid(&conn, "a"), &thread("a", Value::Null));
        c.quiet(|| conn.execute("UPDATE threads SET status = 'x' WHERE id = 'a'", []))
            .unwrap();
        c.committed(false, [("a".to_string(), serde_json::json!({"n": 1}))]);
        assert_eq!(state(&c, "a"), serde_json::json!({"n": 1}));
    }

    #[test]
    fn a_read_that_raced_a_commit_is_not_kept() {
        let c = ThreadCache::default();
        let conn = db(&c);
        // Read before the commit, fill after it: the row read may be the old one.
        let before = ticket(&c, "a");
        conn.execute("UPDATE threads SET status = 'closed' WHERE id = 'a'", [])
            .unwrap();
        c.committed(false, []);
        c.fill(before, rowid(&conn, "a"), &thread("a", Value::Null));
        assert!(
            !c.cached("a"),
            "a row not cached is changed: every older read is refused"
        );
        // Same with a state written through (the hook is quiet for it).
        let before = ticket(&c, "a");
        c.committed(false, [("a".to_string(), Value::Bool(true))]);
        c.fill(before, rowid(&conn, "a"), &thread("a", Value::Null));
        assert!(!c.cached("a"));
        // Another process's commit empties the cache and refuses reads begun before it.
        let t = ticket(&c, "b");
        c.fill(t, rowid(&conn, "b"), &thread("b", Value::Null));
        let before = ticket(&c, "a");
        c.committed(true, []);
        assert!(!c.cached("b"));
        c.fill(before, rowid(&conn, "a"), &thread("a", Value::Null));
        assert!(!c.cached("a"));
        // A fill after the commit is kept.
        let after = ticket(&c, "a");
        c.fill(after, rowid(&conn, "a"), &thread("a", Value::Null));
        assert!(c.cached("a"));
    }
}

/// The cache inside the store: each way a thread changes is read back.
#[cfg(test)]
mod store_tests {
    use std::sync::Arc;

    use natter_protocol::{EventPayload, ThreadStatus};
    use serde_json::{json, Value};

    use crate::store::open::NoSink;
    use crate::store::retention::RetentionStore;
    use crate::store::sqlite::{Durability, SqliteStore};
    use crate::store::{visitor_message, NewThread, RunItem, RunOutcome, Store, Thread};

    /// A store in `dir` with these threads created.
    async fn open(dir: &std::path::Path, threads: &[&str]) -> Arc<SqliteStore> {
        let store = SqliteStore::open(dir, Durability::Normal, Arc::new(NoSink))
            .await
            .unwrap();
        for id in threads {
            let public = format!("P-{id}");
            store
                .create_thread(NewThread::plain(id, &public), None)
                .await
                .unwrap();
        }
        Arc::new(store)
    }

    async fn read(store: &SqliteStore, id: &str) -> Thread {
        store.thread(id).await.unwrap().expect("the thread exists")
    }

    #[tokio::test]
    async fn every_change_of_a_thread_is_read_back() {
        let dir = tempfile::tempdir().unwrap();
        let store = open(dir.path(), &["thr_a"]).await;
        assert_eq!(read(&store, "thr_a").await.subject, None);
        assert!(store.threads.cached("thr_a"));

        store
            .send_user_message(
                "thr_a",
                visitor_message("m1", "Where is my order?"),
                None,
                "run_1".into(),
            )
            .await
            .unwrap();
        assert_eq!(
            read(&store, "thr_a").await.subject.as_deref(),
            Some("Where is my order?")
        );

        store
            .set_metadata("thr_a", "plan", Some(json!("gold")))
            .await
            .unwrap();
        assert_eq!(read(&store, "thr_a").await.metadata["plan"], json!("gold"));

        store.add_tag("thr_a", "vip").await.unwrap();
        assert_eq!(read(&store, "thr_a").await.tags, vec!["vip".to_string()]);

        store
            .set_browser_session("thr_a", json!({"url": "https://shop.example/cart"}))
            .await
            .unwrap();
        assert_eq!(
            read(&store, "thr_a").await.browser_session,
            Some(json!({"url": "https://shop.example/cart"}))
        );

        // The agent state is written through: the row stays cached and has it.
        assert!(store.threads.cached("thr_a"));
        store
            .run_batch(
                "thr_a",
                vec![RunItem::Finish {
                    run_id: "run_1".into(),
                    outcome: RunOutcome::Completed,
                    agent_state: Some(json!({"step": 2})),
                }],
            )
            .await
            .unwrap();
        assert!(store.threads.cached("thr_a"));
        assert_eq!(read(&store, "thr_a").await.agent_state, json!({"step": 2}));

        for (to, event) in [
            (
                ThreadStatus::HandedOff,
                EventPayload::ThreadHandedOff { reason: None },
            ),
            (
                ThreadStatus::Closed,
                EventPayload::ThreadClosed {
                    by: "agent".into(),
                    reason: None,
                },
            ),
        ] {
            assert!(store.transition("thr_a", to, event).await.unwrap());
            assert_eq!(read(&store, "thr_a").await.status, to);
        }

        let blobs = crate::attachments::blobs::StoreBlobs(store.clone());
        assert!(store
            .delete_conversation("thr_a", "9999-01-01T00:00:00Z", &blobs)
            .await
            .unwrap());
        assert!(store.thread("thr_a").await.unwrap().is_none());
    }

    #[tokio::test]
    async fn a_row_stays_cached_while_other_threads_are_written() {
        let dir = tempfile::tempdir().unwrap();
        let store = open(dir.path(), &["thr_a", "thr_b"]).await;
        read(&store, "thr_a").await;
        for i in 0..50 {
            store
                .set_metadata("thr_b", "n", Some(json!(i)))
                .await
                .unwrap();
        }
        // Let the checkpoint thread copy the WAL in (it runs every quarter second).
        tokio::time::sleep(std::time::Duration::from_millis(600)).await;
        store
            .set_metadata("thr_b", "n", Some(json!("last")))
            .await
            .unwrap();
        assert!(
            store.threads.cached("thr_a"),
            "neither other threads' writes nor checkpoints drop a row"
        );
        assert_eq!(read(&store, "thr_b").await.metadata["n"], json!("last"));
    }

    #[tokio::test]
    async fn another_process_commit_is_seen_after_the_next_group() {
        let dir = tempfile::tempdir().unwrap();
        let store = open(dir.path(), &["thr_a"]).await;
        // The first message sets the subject (a change the hook sees): before the other write.
        store
            .send_user_message(
                "thr_a",
                visitor_message("m1", "hello"),
                None,
                "run_1".into(),
            )
            .await
            .unwrap();
        read(&store, "thr_a").await;
        assert!(store.threads.cached("thr_a"));
        // Like `natter action test --conversation` on the same data directory.
        let other = rusqlite::Connection::open(dir.path().join("natter.db")).unwrap();
        other
            .busy_timeout(std::time::Duration::from_secs(10))
            .unwrap();
        other
            .execute(
                "UPDATE threads SET metadata = '{\"from\":\"cli\"}' WHERE id = 'thr_a'",
                [],
            )
            .unwrap();
        drop(other);
        // The visitor's next message is a group of the writer's, before the run reads.
        store
            .send_user_message(
                "thr_a",
                visitor_message("m2", "again"),
                None,
                "run_2".into(),
            )
            .await
            .unwrap();
        assert_eq!(read(&store, "thr_a").await.metadata["from"], json!("cli"));
    }

    #[tokio::test]
    async fn reads_beside_writes_see_each_acknowledged_write() {
        let dir = tempfile::tempdir().unwrap();
        let store = open(dir.path(), &["thr_a"]).await;
        let done = Arc::new(std::sync::atomic::AtomicBool::new(false));
        let readers: Vec<_> = (0..4)
            .map(|_| {
                let (store, done) = (store.clone(), done.clone());
                tokio::spawn(async move {
                    let mut reads = 0u32;
                    while !done.load(std::sync::atomic::Ordering::Relaxed) {
                        read(&store, "thr_a").await;
                        reads += 1;
                        tokio::task::yield_now().await;
                    }
                    reads
                })
            })
            .collect();
        for i in 0..200 {
            store
                .set_metadata("thr_a", "n", Some(json!(i)))
                .await
                .unwrap();
            assert_eq!(read(&store, "thr_a").await.metadata["n"], json!(i));
        }
        done.store(true, std::sync::atomic::Ordering::Relaxed);
        for r in readers {
            assert!(r.await.unwrap() > 0);
        }
        let fresh: (String,) = sqlx::query_as("SELECT metadata FROM threads WHERE id = 'thr_a'")
            .fetch_one(&store.read)
            .await
            .unwrap();
        let fresh: Value = serde_json::from_str(&fresh.0).unwrap();
        assert_eq!(read(&store, "thr_a").await.metadata["n"], fresh["n"]);
        assert_eq!(fresh["n"], json!(199));
    }
}
