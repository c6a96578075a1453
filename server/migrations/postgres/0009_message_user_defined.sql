-- Natter store, version 9 (PostgreSQL; same table as ../0009_message_user_defined.sql): data a
-- host page keeps with one message of a conversation (docs/ibm.md), given back with the history
-- after a reload. One row per message; a new write replaces the old one.
CREATE TABLE message_user_defined (
    thread_id  TEXT NOT NULL REFERENCES threads(id),
    message_id TEXT NOT NULL REFERENCES messages(id),
    data       TEXT NOT NULL,   -- a JSON object
    updated_at TEXT NOT NULL,
    PRIMARY KEY (thread_id, message_id)
);
