-- Natter store, version 1 (PostgreSQL; same tables as ../0001_init.sql). Threads, messages, the
-- per-thread event log, runs and feedback. Timestamps are RFC 3339 text and JSON is text, as in
-- SQLite, so both engines return the same bytes. `ord` columns give insertion order where
-- SQLite reads its rowid.
CREATE TABLE threads (
    id          TEXT PRIMARY KEY,
    public_id   TEXT NOT NULL UNIQUE,
    bot         TEXT NOT NULL,            -- businessSlug
    sub         TEXT,                     -- owner (JWT sub); NULL for anonymous bots
    subject     TEXT,
    status      TEXT NOT NULL CHECK (status IN ('open', 'handed_off', 'closed')),
    tags        TEXT NOT NULL DEFAULT '[]',
    metadata    TEXT NOT NULL DEFAULT '{}',
    agent_state TEXT NOT NULL DEFAULT 'null',
    created_at  TEXT NOT NULL,
    updated_at  TEXT NOT NULL,
    -- The last seq given to an event of this thread: written under the row lock by every
    -- write, so seqs are gap-free in commit order across instances.
    last_seq    BIGINT NOT NULL DEFAULT 0
);

CREATE TABLE messages (
    id                TEXT PRIMARY KEY,
    thread_id         TEXT NOT NULL REFERENCES threads(id),
    seq               BIGINT NOT NULL,
    role              TEXT NOT NULL,
    body              TEXT NOT NULL,
    client_message_id TEXT,
    context           TEXT,
    created_at        TEXT NOT NULL,
    ord               BIGINT GENERATED ALWAYS AS IDENTITY
);
CREATE UNIQUE INDEX messages_client_id ON messages (thread_id, client_message_id)
    WHERE client_message_id IS NOT NULL;
CREATE INDEX messages_thread_seq ON messages (thread_id, seq);

CREATE TABLE events (
    thread_id  TEXT NOT NULL REFERENCES threads(id),
    seq        BIGINT NOT NULL,
    type       TEXT NOT NULL,
    data       TEXT NOT NULL,
    created_at TEXT NOT NULL,
    PRIMARY KEY (thread_id, seq)
);

CREATE TABLE runs (
    id         TEXT PRIMARY KEY,
    thread_id  TEXT NOT NULL REFERENCES threads(id),
    message_id TEXT NOT NULL,
    status     TEXT NOT NULL CHECK (status IN ('running', 'completed', 'failed')),
    error      TEXT,
    started_at TEXT NOT NULL,
    ended_at   TEXT,
    ord        BIGINT GENERATED ALWAYS AS IDENTITY
);
CREATE INDEX runs_running ON runs (status) WHERE status = 'running';

CREATE TABLE feedback (
    id               TEXT PRIMARY KEY,
    thread_id        TEXT NOT NULL REFERENCES threads(id),
    message_id       TEXT NOT NULL REFERENCES messages(id),
    is_positive      BIGINT NOT NULL,
    interaction_type TEXT NOT NULL,
    text             TEXT,
    categories       TEXT NOT NULL DEFAULT '[]',
    created_at       TEXT NOT NULL,
    ord              BIGINT GENERATED ALWAYS AS IDENTITY
);
