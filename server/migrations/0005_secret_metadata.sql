-- Natter store, version 5: sanitized CRM action results. Kept apart from
-- threads.metadata so nothing that shows metadata (admin API, Python context and helpers,
-- events, history) can show them; only action arguments `$secret.<key>` read them, at call time.
CREATE TABLE secret_metadata (
    thread_id  TEXT NOT NULL REFERENCES threads(id),
    key        TEXT NOT NULL,
    value      TEXT NOT NULL,
    updated_at TEXT NOT NULL,
    PRIMARY KEY (thread_id, key)
) WITHOUT ROWID;
