//! The console's full-text index of message texts (`messages_fts`, contentless, no per-entry
//! sizes: migrations 0010 and 0016): what a message puts in it, in one place for the writer that
//! adds it and for retention that removes it (a contentless index deletes an entry only when
//! given the very text it indexed).
//!
//! An entry's rowid is its thread's rowid × 2³² + the message's seq, so a search finds its
//! conversations from the index alone (`rowid >> 32`).
//!
//! The store writer indexes committed messages in batches ([`Pending`]): at most
//! [`INDEX_EVERY`] after their commit, in the next group's transaction, in one statement, in
//! rowid order. FTS5 starts a new index segment (and later merges it) for every statement and
//! for every rowid lower than the one before, so indexing each group's few messages, in the
//! order of their conversations, wrote about a segment per message; a batch writes one. A
//! search first asks the writer to index what is waiting ([`Pending::force`]), so it never
//! misses a stored message.
//!
//! Invariant, with `fts_progress.upto` (migration 0016) written in the same transactions:
//! every message with a rowid ≤ `upto` is in the index, and every committed message above it
//! is in the writer's [`Pending`] list, or, after a crash, indexed by [`catch_up`] at start.
//! Retention removes only the entries up to `upto` and, when the newest messages go with their
//! conversation, lowers `upto` to the largest rowid left, so a rowid SQLite gives out again is
//! above it.

use std::time::{Duration, Instant};

use rusqlite::Connection;

/// The text a message `m` puts in the index: its content items' texts, space-separated.
macro_rules! message_text {
    () => {
        "(SELECT group_concat(json_extract(value, '$.text'), ' ') FROM json_each(m.body, '$.content'))"
    };
}

macro_rules! index_where {
    ($cond:literal) => {
        concat!(
            "INSERT INTO messages_fts (rowid, text) SELECT t.rowid * 4294967296 + m.seq, ",
            message_text!(),
            " FROM messages m JOIN threads t ON t.id = m.thread_id WHERE ",
            $cond,
            " ORDER BY 1"
        )
    };
}

/// Indexes the messages whose rowids are in `?1`, a JSON array.
const INDEX_MESSAGES: &str = index_where!("m.rowid IN (SELECT value FROM json_each(?1))");

/// Indexes the messages above `upto` (a start after a crash).
const INDEX_ABOVE: &str = index_where!("m.rowid > (SELECT upto FROM fts_progress)");

/// Removes the index entries of thread `?1`'s messages (those indexed: up to `upto`).
pub(in crate::store) const UNINDEX_THREAD: &str = concat!(
    "INSERT INTO messages_fts (messages_fts, rowid, text) SELECT 'delete', t.rowid * 4294967296 + m.seq, ",
    message_text!(),
    " FROM messages m JOIN threads t ON t.id = m.thread_id",
    " WHERE m.thread_id = ?1 AND m.rowid <= (SELECT upto FROM fts_progress)"
);

/// After messages were deleted: `upto` no higher than the largest rowid left.
pub(in crate::store) const AFTER_DELETE: &str =
    "UPDATE fts_progress SET upto = min(upto, (SELECT coalesce(max(rowid), 0) FROM messages))";

/// How long a committed message waits at most (while writes go on) before it is indexed: at
/// 2,000 turns/s a batch is about 1,000 messages and holds the writer about 6 ms (longer
/// batches hold it longer at once, shorter ones write more segments).
const INDEX_EVERY: Duration = Duration::from_millis(200);
/// Messages waiting that make the next group index them at once.
const INDEX_MAX: usize = 8_192;

/// Committed messages not in the index yet (see the module doc).
#[derive(Debug, Default)]
pub(in crate::store) struct Pending {
    rowids: Vec<i64>,
    /// When the oldest of them was committed.
    since: Option<Instant>,
    forced: bool,
}

impl Pending {
    /// Messages of a group that committed.
    pub fn committed(&mut self, rowids: impl IntoIterator<Item = i64>) {
        let before = self.rowids.len();
        self.rowids.extend(rowids);
        if before == 0 && !self.rowids.is_empty() {
            self.since = Some(Instant::now());
        }
    }

    /// Makes the group being built index everything pending (a search waits for it).
    pub fn force(&mut self) {
        self.forced = true;
    }

    /// The messages the group being built must index, if it is time: taken out, to be put
    /// back with [`Pending::restore`] if the group does not commit.
    pub fn due(&mut self) -> Option<Vec<i64>> {
        let forced = std::mem::take(&mut self.forced);
        let old = self.since.is_some_and(|t| t.elapsed() >= INDEX_EVERY);
        if self.rowids.is_empty() || !(forced || old || self.rowids.len() >= INDEX_MAX) {
            return None;
        }
        self.since = None;
        Some(std::mem::take(&mut self.rowids))
    }

    pub fn restore(&mut self, mut rowids: Vec<i64>) {
        rowids.append(&mut self.rowids);
        self.rowids = rowids;
        self.since.get_or_insert_with(Instant::now);
    }
}

/// Indexes `list` (message rowids) and moves `upto` past them, inside the caller's
/// transaction.
pub(in crate::store) fn write(conn: &Connection, mut list: Vec<i64>) -> rusqlite::Result<()> {
    // A rowid can come twice: a message deleted before it was indexed, its rowid given out again.
    list.sort_unstable();
    list.dedup();
    let Some(&last) = list.last() else {
        return Ok(());
    };
    let json = serde_json::to_string(&list).expect("integers serialize");
    conn.prepare_cached(INDEX_MESSAGES)?.execute([json])?;
    conn.prepare_cached("UPDATE fts_progress SET upto = max(upto, ?1)")?
        .execute([last])?;
    Ok(())
}

/// At start: indexes the messages a crash left out, in a transaction of its own.
pub(in crate::store) fn catch_up(conn: &Connection) -> rusqlite::Result<usize> {
    conn.execute_batch("BEGIN IMMEDIATE")?;
    let done = conn.execute(INDEX_ABOVE, []).and_then(|n| {
        conn.execute(
            "UPDATE fts_progress SET upto = (SELECT coalesce(max(rowid), 0) FROM messages)",
            [],
        )?;
        Ok(n)
    });
    match done {
        Ok(n) => conn.execute_batch("COMMIT").map(|_| n),
        Err(e) => {
            let _ = conn.execute_batch("ROLLBACK");
            Err(e)
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn messages_wait_until_a_second_has_passed_or_a_search_asks() {
        let mut p = Pending::default();
        assert_eq!(p.due(), None);
        p.committed([3, 4]);
        assert_eq!(p.due(), None, "committed just now");
        p.force();
        assert_eq!(p.due(), Some(vec![3, 4]));
        assert_eq!(p.due(), None);
        p.committed([5]);
        p.since = Some(Instant::now() - INDEX_EVERY);
        assert_eq!(p.due(), Some(vec![5]));
        p.committed(0..INDEX_MAX as i64);
        assert_eq!(
            p.due().map(|r| r.len()),
            Some(INDEX_MAX),
            "a full list goes at once"
        );
    }

    #[test]
    fn a_group_that_did_not_commit_gives_its_messages_back_first() {
        let mut p = Pending::default();
        p.committed([1, 2]);
        p.force();
        let taken = p.due().unwrap();
        p.committed([3]);
        p.restore(taken);
        p.force();
        assert_eq!(p.due(), Some(vec![1, 2, 3]));
    }

    use std::sync::Arc;

    use natter_protocol::{EventPayload, ThreadStatus};

    use crate::store::console::ConversationQuery;
    use crate::store::open::NoSink;
    use crate::store::retention::RetentionStore;
    use crate::store::sqlite::{Durability, SqliteStore};
    use crate::store::{visitor_message, NewThread, Store};

    async fn open(dir: &std::path::Path) -> SqliteStore {
        SqliteStore::open(dir, Durability::Normal, Arc::new(NoSink))
            .await
            .unwrap()
    }

    async fn say(store: &SqliteStore, thread: &str, words: &str) {
        store
            .create_thread(NewThread::plain(thread, &format!("P-{thread}")), None)
            .await
            .unwrap();
        let message = visitor_message(&format!("msg_{thread}"), words);
        store
            .send_user_message(thread, message, None, format!("run_{thread}"))
            .await
            .unwrap();
    }

    async fn found(store: &SqliteStore, words: &str) -> Vec<String> {
        let q = ConversationQuery {
            search: Some(words.into()),
            limit: 50,
            ..Default::default()
        };
        let mut ids: Vec<String> = (store.list_conversations(&q).await.unwrap())
            .conversations
            .into_iter()
            .map(|c| c.id)
            .collect();
        ids.sort();
        ids
    }

    /// FTS5's own check, and every stored message in the index exactly once: its entry count
    /// (the first varint of the averages record, one byte here) equals the messages (a
    /// `delete` of an entry never indexed lowers the count).
    fn index_is_sound(dir: &std::path::Path) {
        let db = rusqlite::Connection::open(dir.join("natter.db")).unwrap();
        db.execute(
            "INSERT INTO messages_fts (messages_fts, rank) VALUES ('integrity-check', 0)",
            [],
        )
        .unwrap();
        let count = |sql: &str| -> i64 { db.query_row(sql, [], |r| r.get(0)).unwrap() };
        let messages = count("SELECT count(*) FROM messages");
        assert!((1..128).contains(&messages));
        let averages: Vec<u8> = db
            .query_row(
                "SELECT block FROM messages_fts_data WHERE id = 1",
                [],
                |r| r.get(0),
            )
            .unwrap();
        assert_eq!(i64::from(averages[0]), messages, "entries the index counts");
    }

    /// Indexing waits up to a second, but a search never misses what was stored before it.
    #[tokio::test]
    async fn a_message_is_found_the_moment_it_is_stored() {
        let dir = tempfile::tempdir().unwrap();
        let store = open(dir.path()).await;
        say(&store, "thr_a", "where is my parcel").await;
        assert_eq!(found(&store, "parcel").await, ["thr_a"]);
        say(&store, "thr_b", "parcel lost").await;
        say(&store, "thr_c", "refund please").await;
        assert_eq!(found(&store, "parcel").await, ["thr_a", "thr_b"]);
        assert_eq!(found(&store, "refund").await, ["thr_c"]);
        store.close().await;
        index_is_sound(dir.path());
    }

    /// Messages committed but not indexed when the process stops: the next start indexes them,
    /// once (a crash, simulated by a store whose writer is never told to stop: its pending
    /// messages are only in its memory).
    #[tokio::test]
    async fn messages_a_crash_kept_from_the_index_are_indexed_at_the_next_start() {
        let dir = tempfile::tempdir().unwrap();
        let store = open(dir.path()).await;
        say(&store, "thr_a", "broken kettle").await;
        say(&store, "thr_b", "kettle again").await;
        let db = rusqlite::Connection::open(dir.path().join("natter.db")).unwrap();
        let indexed = |word: &str| -> i64 {
            db.query_row(
                "SELECT count(*) FROM messages_fts WHERE messages_fts MATCH ?1",
                [word],
                |r| r.get(0),
            )
            .unwrap()
        };
        let upto: i64 = db
            .query_row("SELECT upto FROM fts_progress", [], |r| r.get(0))
            .unwrap();
        let max: i64 = db
            .query_row("SELECT max(rowid) FROM messages", [], |r| r.get(0))
            .unwrap();
        if indexed("kettle") == 0 {
            assert!(upto < max, "upto covers messages not in the index");
        }
        std::mem::forget(store);
        // A second store on the same file plays the restarted server.
        let store = open(dir.path()).await;
        assert_eq!(indexed("kettle"), 2);
        assert_eq!(found(&store, "kettle").await, ["thr_a", "thr_b"]);
        assert_eq!(indexed("kettle"), 2, "indexed once");
        store.close().await;
        index_is_sound(dir.path());
    }

    /// A conversation deleted before its messages reached the index: nothing of it is removed
    /// from the index (it was never there), nothing of it is added later, and a message that
    /// gets its rowid again is found.
    #[tokio::test]
    async fn a_conversation_deleted_before_it_was_indexed_leaves_the_index_sound() {
        let dir = tempfile::tempdir().unwrap();
        let store = Arc::new(open(dir.path()).await);
        say(&store, "thr_a", "walrus tusk").await;
        assert_eq!(found(&store, "walrus").await, ["thr_a"]);
        say(&store, "thr_b", "walrus again").await;
        let ev = EventPayload::ThreadClosed {
            by: "user".into(),
            reason: None,
        };
        assert!(store
            .transition("thr_b", ThreadStatus::Closed, ev)
            .await
            .unwrap());
        let blobs = crate::attachments::blobs::StoreBlobs(store.clone());
        assert!(store
            .delete_conversation("thr_b", "9999-01-01T00:00:00Z", &blobs)
            .await
            .unwrap());
        say(&store, "thr_c", "walrus three").await;
        assert_eq!(found(&store, "walrus").await, ["thr_a", "thr_c"]);
        assert_eq!(found(&store, "again").await, Vec::<String>::new());
        assert_eq!(found(&store, "three").await, ["thr_c"]);
        store.close().await;
        index_is_sound(dir.path());
    }

    /// A database from before migration 0016 (the index with per-message sizes, no progress
    /// row): the upgrade rebuilds the index from the messages, and search finds them.
    #[tokio::test]
    async fn the_upgrade_rebuilds_the_index_from_the_messages() {
        let dir = tempfile::tempdir().unwrap();
        let store = open(dir.path()).await;
        say(&store, "thr_a", "old toaster").await;
        say(&store, "thr_b", "toaster smoke").await;
        store.close().await;
        let db = rusqlite::Connection::open(dir.path().join("natter.db")).unwrap();
        db.execute_batch(
            "DROP TABLE fts_progress; DELETE FROM schema_version WHERE version = 16;
             DROP TABLE messages_fts;
             CREATE VIRTUAL TABLE messages_fts USING fts5(text, content = '', tokenize = 'unicode61 remove_diacritics 2');",
        )
        .unwrap();
        drop(db);
        let store = open(dir.path()).await;
        assert_eq!(found(&store, "toaster").await, ["thr_a", "thr_b"]);
        assert_eq!(found(&store, "smoke").await, ["thr_b"]);
        store.close().await;
        index_is_sound(dir.path());
    }
}
