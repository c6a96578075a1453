-- Natter store, version 3 (PostgreSQL; as ../0003_outbox.sql): the durable outbox, handler runs
-- and the CRM-channel conversation map. Several instances claim outbox rows with
-- FOR UPDATE SKIP LOCKED and a lease; a lease of a dead instance expires and another takes the job.
CREATE TABLE outbox (
    seq         BIGINT GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    id          TEXT NOT NULL UNIQUE,
    thread_id   TEXT NOT NULL,
    bot         TEXT NOT NULL,
    kind        TEXT NOT NULL CHECK (kind IN ('handler', 'webhook')),
    lane        TEXT,
    target      TEXT NOT NULL,
    event_type  TEXT NOT NULL,
    body        TEXT NOT NULL,
    status      TEXT NOT NULL CHECK (status IN ('pending', 'done', 'failed')),
    attempts    BIGINT NOT NULL DEFAULT 0,
    due_at      BIGINT NOT NULL,
    lease_until BIGINT,
    last_error  TEXT,
    created_at  BIGINT NOT NULL,
    done_at     BIGINT
);
CREATE INDEX outbox_pending ON outbox (due_at, seq) WHERE status = 'pending';
CREATE INDEX outbox_lane ON outbox (lane, seq) WHERE status = 'pending' AND lane IS NOT NULL;

CREATE TABLE handler_runs (
    id          TEXT PRIMARY KEY,
    job_id      TEXT,
    bot         TEXT NOT NULL,
    handler     TEXT NOT NULL,
    event_type  TEXT NOT NULL,
    thread_id   TEXT NOT NULL,
    test        BIGINT NOT NULL DEFAULT 0,
    status      TEXT NOT NULL,
    result      TEXT,
    stdout      TEXT NOT NULL DEFAULT '',
    stderr      TEXT NOT NULL DEFAULT '',
    traceback   TEXT,
    duration_ms BIGINT NOT NULL,
    started_at  TEXT NOT NULL,
    ord         BIGINT GENERATED ALWAYS AS IDENTITY
);
CREATE INDEX handler_runs_bot ON handler_runs (bot, started_at);

CREATE TABLE crm_conversations (
    bot                      TEXT NOT NULL,
    platform_conversation_id TEXT NOT NULL,
    thread_id                TEXT NOT NULL UNIQUE,
    PRIMARY KEY (bot, platform_conversation_id)
);
