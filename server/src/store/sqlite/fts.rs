//! The console's full-text index of message texts (`messages_fts`, contentless, migration 0010):
//! what a message puts in it, in one place for the writer that adds it and for retention that
//! removes it (a contentless index deletes an entry only when given the very text it indexed).
//!
//! An entry's rowid is its thread's rowid × 2³² + the message's seq, so a search finds its
//! conversations from the index alone (`rowid >> 32`).
//!
//! The store writer indexes the messages of a group commit after the group's jobs, outside
//! their savepoints: FTS5 writes its pending terms to disk whenever a savepoint ends, so with
//! one savepoint per job an index trigger on `messages` wrote a new index segment per message
//! (and merged them again), about a tenth of the writer's time (bench/server/README.md). Now
//! the group's terms are written once, at its COMMIT.

/// The text a message `m` puts in the index: its content items' texts, space-separated.
macro_rules! message_text {
    () => {
        "(SELECT group_concat(json_extract(value, '$.text'), ' ') FROM json_each(m.body, '$.content'))"
    };
}

/// Indexes the message whose rowid is `?1`.
pub(in crate::store) const INDEX_MESSAGE: &str = concat!(
    "INSERT INTO messages_fts (rowid, text) SELECT t.rowid * 4294967296 + m.seq, ",
    message_text!(),
    " FROM messages m JOIN threads t ON t.id = m.thread_id WHERE m.rowid = ?1"
);

/// Removes the index entries of thread `?1`'s messages.
pub(in crate::store) const UNINDEX_THREAD: &str = concat!(
    "INSERT INTO messages_fts (messages_fts, rowid, text) SELECT 'delete', t.rowid * 4294967296 + m.seq, ",
    message_text!(),
    " FROM messages m JOIN threads t ON t.id = m.thread_id WHERE m.thread_id = ?1"
);
