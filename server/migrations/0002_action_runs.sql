-- Natter store, version 2: what actions do to a conversation and the log of every
-- action run. Tags keep their ids here (threads.tags stays the list of names, updated in the
-- same job); A/B variants are sticky per (thread, test).
CREATE TABLE thread_tags (
    id         TEXT PRIMARY KEY,
    thread_id  TEXT NOT NULL REFERENCES threads(id),
    tag        TEXT NOT NULL,
    created_at TEXT NOT NULL,
    UNIQUE (thread_id, tag)
);

CREATE TABLE ab_variants (
    thread_id  TEXT NOT NULL REFERENCES threads(id),
    test_name  TEXT NOT NULL,
    variant    TEXT NOT NULL,
    created_at TEXT NOT NULL,
    PRIMARY KEY (thread_id, test_name)
) WITHOUT ROWID;

-- One row per action call: from a workflow (run_id set), or a "Run Test" (test = 1).
CREATE TABLE action_runs (
    id          TEXT PRIMARY KEY,
    bot         TEXT NOT NULL,
    action      TEXT NOT NULL,
    kind        TEXT NOT NULL,            -- api | python | crm
    thread_id   TEXT,                     -- NULL for a test run without a conversation
    run_id      TEXT,
    test        INTEGER NOT NULL,
    status      TEXT NOT NULL,            -- ok | error | timeout | exception | refused | ...
    args        TEXT NOT NULL,            -- JSON
    result      TEXT NOT NULL,            -- JSON: what the bot got
    error       TEXT,                     -- the cause, for the bot owner
    stdout      TEXT NOT NULL DEFAULT '',
    stderr      TEXT NOT NULL DEFAULT '',
    log         TEXT NOT NULL DEFAULT '[]', -- JSON array of lines (runtime notes, traceback)
    duration_ms INTEGER NOT NULL,
    created_at  TEXT NOT NULL
);
CREATE INDEX action_runs_bot ON action_runs (bot, created_at);
CREATE INDEX action_runs_thread ON action_runs (thread_id, created_at);
