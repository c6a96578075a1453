-- Natter store, version 7 (PostgreSQL; as ../0007_console.sql): what the console's lists, search
-- and overview read. Search: `messages.search_text` holds the words of a message's text items
-- (lower case, accents removed, written by the store with the row) under a GIN full-text index.
CREATE INDEX threads_created ON threads (created_at, id);
CREATE INDEX threads_bot_created ON threads (bot, created_at, id);
CREATE INDEX threads_status_created ON threads (status, created_at, id);
CREATE INDEX threads_bot_status_created ON threads (bot, status, created_at, id);
CREATE INDEX thread_tags_tag ON thread_tags (tag, thread_id);
CREATE INDEX feedback_thread ON feedback (thread_id, created_at);
CREATE INDEX handler_runs_thread ON handler_runs (thread_id, started_at);
ALTER TABLE messages ADD COLUMN search_text TEXT NOT NULL DEFAULT '';
CREATE INDEX messages_search ON messages USING GIN (to_tsvector('simple', search_text));
