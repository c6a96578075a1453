-- Natter store, version 1. Threads (conversations), their messages, the per-thread event log,
-- runs (one per answered user message) and feedback.
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
    updated_at  TEXT NOT NULL
);

CREATE TABLE messages (
    id                TEXT PRIMARY KEY,
    thread_id         TEXT NOT NULL REFERENCES threads(id),
    seq               INTEGER NOT NULL,   -- seq of the event that stored it: orders history
    role              TEXT NOT NULL,
    body              TEXT NOT NULL,      -- the protocol Message as JSON
    client_message_id TEXT,
    context           TEXT,
    created_at        TEXT NOT NULL
);
CREATE UNIQUE INDEX messages_client_id ON messages (thread_id, client_message_id)
    WHERE client_message_id IS NOT NULL;
CREATE INDEX messages_thread_seq ON messages (thread_id, seq);

CREATE TABLE events (
    thread_id  TEXT NOT NULL REFERENCES threads(id),
    seq        INTEGER NOT NULL,
    type       TEXT NOT NULL,
    data       TEXT NOT NULL,             -- the whole EventEnvelope as JSON, served verbatim
    created_at TEXT NOT NULL,
    PRIMARY KEY (thread_id, seq)
) WITHOUT ROWID;

CREATE TABLE runs (
    id         TEXT PRIMARY KEY,
    thread_id  TEXT NOT NULL REFERENCES threads(id),
    message_id TEXT NOT NULL,
    status     TEXT NOT NULL CHECK (status IN ('running', 'completed', 'failed')),
    error      TEXT,
    started_at TEXT NOT NULL,
    ended_at   TEXT
);
CREATE INDEX runs_running ON runs (status) WHERE status = 'running';

CREATE TABLE feedback (
    id               TEXT PRIMARY KEY,
    thread_id        TEXT NOT NULL REFERENCES threads(id),
    message_id       TEXT NOT NULL REFERENCES messages(id),
    is_positive      INTEGER NOT NULL,
    interaction_type TEXT NOT NULL,
    text             TEXT,
    categories       TEXT NOT NULL DEFAULT '[]',
    created_at       TEXT NOT NULL
);
