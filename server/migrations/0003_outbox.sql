-- The durable outbox, event handler runs, and the CRM-channel conversation map.
--
-- outbox: one row per thing to do after a commit (an event handler to run, a CRM webhook to
-- deliver), inserted in the SAME transaction as the change that caused it, so a crash can
-- neither lose it nor do it without its cause. A worker claims rows with a lease; a lease left
-- by a dead process expires (and is cleared at start: one SQLite file has one server).
CREATE TABLE outbox (
    seq         INTEGER PRIMARY KEY AUTOINCREMENT,  -- global queue order
    id          TEXT NOT NULL UNIQUE,               -- stable job id = the webhook-id
    thread_id   TEXT NOT NULL,
    bot         TEXT NOT NULL,
    kind        TEXT NOT NULL CHECK (kind IN ('handler', 'webhook')),
    lane        TEXT,                               -- jobs of one lane run strictly in seq order
    target      TEXT NOT NULL,                      -- handler name, or the webhook's eventType
    event_type  TEXT NOT NULL,                      -- conversation_closed, conversation_handed_off, ...
    body        TEXT NOT NULL,                      -- webhook body JSON (signed byte for byte)
    status      TEXT NOT NULL CHECK (status IN ('pending', 'done', 'failed')),
    attempts    INTEGER NOT NULL DEFAULT 0,
    due_at      INTEGER NOT NULL,                   -- unix ms
    lease_until INTEGER,                            -- unix ms; claimed while in the future
    last_error  TEXT,
    created_at  INTEGER NOT NULL,                   -- unix ms
    done_at     INTEGER
);
CREATE INDEX outbox_pending ON outbox (due_at, seq) WHERE status = 'pending';
CREATE INDEX outbox_lane ON outbox (lane, seq) WHERE status = 'pending' AND lane IS NOT NULL;

-- Every event handler run (from the outbox, or a Run Test), with its log.
CREATE TABLE handler_runs (
    id          TEXT PRIMARY KEY,
    job_id      TEXT,                               -- outbox id; NULL for a Run Test
    bot         TEXT NOT NULL,
    handler     TEXT NOT NULL,
    event_type  TEXT NOT NULL,
    thread_id   TEXT NOT NULL,
    test        INTEGER NOT NULL DEFAULT 0,
    status      TEXT NOT NULL,                      -- ok, exception, timeout, ...
    result      TEXT,                               -- JSON
    stdout      TEXT NOT NULL DEFAULT '',
    stderr      TEXT NOT NULL DEFAULT '',
    traceback   TEXT,
    duration_ms INTEGER NOT NULL,
    started_at  TEXT NOT NULL
);
CREATE INDEX handler_runs_bot ON handler_runs (bot, started_at);

-- Conversations whose channel is the CRM (`POST /converse/chat`): the CRM's id → the thread.
CREATE TABLE crm_conversations (
    bot                      TEXT NOT NULL,
    platform_conversation_id TEXT NOT NULL,
    thread_id                TEXT NOT NULL UNIQUE,  -- written just before its thread: see create_crm_thread
    PRIMARY KEY (bot, platform_conversation_id)
);
