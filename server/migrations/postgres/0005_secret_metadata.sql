-- Natter store, version 5 (PostgreSQL; as ../0005_secret_metadata.sql): sanitized CRM action
-- results, apart from the metadata.
CREATE TABLE secret_metadata (
    thread_id  TEXT NOT NULL REFERENCES threads(id),
    key        TEXT NOT NULL,
    value      TEXT NOT NULL,
    updated_at TEXT NOT NULL,
    PRIMARY KEY (thread_id, key)
);
