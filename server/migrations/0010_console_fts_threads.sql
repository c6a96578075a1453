-- Natter store, version 10: the full-text index keyed by conversation.
--
-- A message's row in `messages_fts` gets rowid = its thread's rowid * 2^32 + the message's seq,
-- so a search finds its conversations from the index alone (`rowid >> 32`) without looking up
-- any message: a common word's conversations are a set of integers, cheap to build and probe.
-- Threads are never deleted (their rowids are never reused) and seqs stay below 2^32.
DROP TRIGGER messages_fts_insert;
DROP TABLE messages_fts;
CREATE VIRTUAL TABLE messages_fts USING fts5(text, content = '', tokenize = 'unicode61 remove_diacritics 2');
CREATE TRIGGER messages_fts_insert AFTER INSERT ON messages BEGIN
    INSERT INTO messages_fts (rowid, text)
    SELECT (SELECT rowid FROM threads WHERE id = new.thread_id) * 4294967296 + new.seq,
           group_concat(json_extract(value, '$.text'), ' ')
    FROM json_each(new.body, '$.content');
END;
INSERT INTO messages_fts (rowid, text)
SELECT t.rowid * 4294967296 + m.seq,
       (SELECT group_concat(json_extract(value, '$.text'), ' ') FROM json_each(m.body, '$.content'))
FROM messages m JOIN threads t ON t.id = m.thread_id;
