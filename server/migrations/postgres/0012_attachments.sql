-- Natter store, version 12 (PostgreSQL; same tables as ../0012_attachments.sql): files attached
-- to conversations. A row is written `pending` when an
-- upload starts and becomes `ready` in one statement when the last byte is stored; readers only
-- see ready rows, so a cut upload is never half visible (its rows are removed when the cut is
-- noticed, or by the sweep of stale pending rows). At most one ready row per (thread, client
-- id): a retried upload finds the first one. The bytes are in `attachment_chunks` (fixed-size
-- pieces in order, so neither upload nor download holds a whole file) unless an object store
-- is configured.
CREATE TABLE attachments (
    id         TEXT PRIMARY KEY,
    thread_id  TEXT NOT NULL REFERENCES threads(id),
    client_id  TEXT NOT NULL,
    name       TEXT NOT NULL,
    mime       TEXT NOT NULL DEFAULT '',
    size       BIGINT NOT NULL DEFAULT 0,
    ready      INTEGER NOT NULL DEFAULT 0,   -- 0 pending, 1 ready
    created_at TEXT NOT NULL
);
CREATE UNIQUE INDEX attachments_client ON attachments (thread_id, client_id) WHERE ready = 1;
CREATE INDEX attachments_thread ON attachments (thread_id);

CREATE TABLE attachment_chunks (
    attachment_id TEXT NOT NULL,
    n             INTEGER NOT NULL,
    data          BYTEA NOT NULL,
    PRIMARY KEY (attachment_id, n)
);
