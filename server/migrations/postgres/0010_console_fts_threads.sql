-- Natter store, version 10 (kept in step with SQLite's): on SQLite this keys the full-text
-- index by conversation. PostgreSQL's GIN index (version 7) already yields a word's threads
-- directly, so there is nothing to change here.
SELECT 1;
