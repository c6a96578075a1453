//! The console's full-text index of message texts (`messages_fts`, contentless, migration 0010):
//! what a message puts in it, in one place for the writer that adds it and for retention that
//! removes it (a contentless index deletes an entry only when given the very text it indexed).
//!
//! An entry's rowid is its thread's rowid × 2³² + the message's seq, so a search finds its
//! conversations from the index alone (`rowid >> 32`).
//!
//! The store writer indexes the messages of a group commit after the group's jobs, outside
//! their savepoints, in one statement: FTS5 writes its pending terms to disk whenever a
//! savepoint begins or ends (each statement on it inside a transaction opens one), so an index
//! trigger on `messages`, run in each job's savepoint, wrote a new index segment per message
//! (and merged them again). Now the group's terms are written once, at its COMMIT.

/// The text a message `m` puts in the index: its content items' texts, space-separated.
macro_rules! message_text {
    () => {
        "(SELECT group_concat(json_extract(value, '$.text'), ' ') FROM json_each(m.body, '$.content'))"
    };
}

/// Indexes the messages whose rowids are in `?1`, a JSON array.
pub(in crate::store) const INDEX_MESSAGES: &str = concat!(
    "INSERT INTO messages_fts (rowid, text) SELECT t.rowid * 4294967296 + m.seq, ",
    message_text!(),
    " FROM messages m JOIN threads t ON t.id = m.thread_id",
    " WHERE m.rowid IN (SELECT value FROM json_each(?1))"
);

/// Removes the index entries of thread `?1`'s messages.
pub(in crate::store) const UNINDEX_THREAD: &str = concat!(
    "INSERT INTO messages_fts (messages_fts, rowid, text) SELECT 'delete', t.rowid * 4294967296 + m.seq, ",
    message_text!(),
    " FROM messages m JOIN threads t ON t.id = m.thread_id WHERE m.thread_id = ?1"
);
