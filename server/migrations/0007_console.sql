-- Natter store, version 7: what the console's lists, search and overview read.
--
-- Conversations are listed newest first by (created_at, id), as a whole, per bot, per status
-- and per bot and status; counts per status read the same indexes. Tags are found by name.
CREATE INDEX threads_created ON threads (created_at, id);
CREATE INDEX threads_bot_created ON threads (bot, created_at, id);
CREATE INDEX threads_status_created ON threads (status, created_at, id);
CREATE INDEX threads_bot_status_created ON threads (bot, status, created_at, id);
CREATE INDEX thread_tags_tag ON thread_tags (tag, thread_id);
CREATE INDEX feedback_thread ON feedback (thread_id, created_at);
CREATE INDEX handler_runs_thread ON handler_runs (thread_id, started_at);

-- Full-text search over what was said: the text items of every message (not the JSON keys).
-- Contentless (the text lives in messages.body); rowid = messages.rowid. Messages are never
-- updated or deleted, so an insert trigger keeps it complete.
CREATE VIRTUAL TABLE messages_fts USING fts5(text, content = '', tokenize = 'unicode61 remove_diacritics 2');
CREATE TRIGGER messages_fts_insert AFTER INSERT ON messages BEGIN
    INSERT INTO messages_fts (rowid, text)
    SELECT new.rowid, group_concat(json_extract(value, '$.text'), ' ')
    FROM json_each(new.body, '$.content');
END;
INSERT INTO messages_fts (rowid, text)
SELECT m.rowid, (SELECT group_concat(json_extract(value, '$.text'), ' ') FROM json_each(m.body, '$.content'))
FROM messages m;
