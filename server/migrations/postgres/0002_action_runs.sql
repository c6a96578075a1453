-- Natter store, version 2 (PostgreSQL; as ../0002_action_runs.sql): tags with ids, sticky A/B
-- variants, and the log of every action run.
CREATE TABLE thread_tags (
    id         TEXT PRIMARY KEY,
    thread_id  TEXT NOT NULL REFERENCES threads(id),
    tag        TEXT NOT NULL,
    created_at TEXT NOT NULL,
    ord        BIGINT GENERATED ALWAYS AS IDENTITY,
    UNIQUE (thread_id, tag)
);

CREATE TABLE ab_variants (
    thread_id  TEXT NOT NULL REFERENCES threads(id),
    test_name  TEXT NOT NULL,
    variant    TEXT NOT NULL,
    created_at TEXT NOT NULL,
    PRIMARY KEY (thread_id, test_name)
);

CREATE TABLE action_runs (
    id          TEXT PRIMARY KEY,
    bot         TEXT NOT NULL,
    action      TEXT NOT NULL,
    kind        TEXT NOT NULL,
    thread_id   TEXT,
    run_id      TEXT,
    test        BOOLEAN NOT NULL,
    status      TEXT NOT NULL,
    args        TEXT NOT NULL,
    result      TEXT NOT NULL,
    error       TEXT,
    stdout      TEXT NOT NULL DEFAULT '',
    stderr      TEXT NOT NULL DEFAULT '',
    log         TEXT NOT NULL DEFAULT '[]',
    duration_ms BIGINT NOT NULL,
    created_at  TEXT NOT NULL,
    ord         BIGINT GENERATED ALWAYS AS IDENTITY
);
CREATE INDEX action_runs_bot ON action_runs (bot, created_at);
CREATE INDEX action_runs_thread ON action_runs (thread_id, created_at);
