-- Natter store, version 15: the store writer indexes messages in `messages_fts` once per group
-- commit (server/src/store/sqlite/fts.rs); the per-row trigger made FTS5 write an index segment
-- for every message, at the end of each write's savepoint.
DROP TRIGGER IF EXISTS messages_fts_insert;
