-- Natter store, version 16: the store writer indexes messages for search in batches (every
-- 200 ms while writes go on) instead of in every group commit.
--
-- `fts_progress.upto`: every message with a rowid up to it is in `messages_fts`; messages above
-- it are indexed by the writer soon, or at the next start.
--
-- The index is rebuilt with `columnsize = 0`: no `messages_fts_docsize` row per message (its
-- size in tokens, used only for ranking, which the console does not do). Its rowids follow the
-- conversations, not the time, so every message added one there on a page of its own.
DROP TABLE messages_fts;
CREATE VIRTUAL TABLE messages_fts USING fts5(text, content = '', columnsize = 0, tokenize = 'unicode61 remove_diacritics 2');
INSERT INTO messages_fts (rowid, text)
SELECT t.rowid * 4294967296 + m.seq,
       (SELECT group_concat(json_extract(value, '$.text'), ' ') FROM json_each(m.body, '$.content'))
FROM messages m JOIN threads t ON t.id = m.thread_id
ORDER BY 1;
CREATE TABLE fts_progress (
    id INTEGER PRIMARY KEY CHECK (id = 1),
    upto INTEGER NOT NULL
);
INSERT INTO fts_progress (id, upto) SELECT 1, coalesce(max(rowid), 0) FROM messages;
