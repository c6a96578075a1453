-- Natter store, version 8: several instances on one database (PostgreSQL, postgres/0008). Each
-- live instance has a row it refreshes (heartbeat); a run belongs to the instance running it,
-- and a run whose instance stopped refreshing is re-run by another one; an outbox lease
-- held by such an instance is void. One SQLite file has one
-- server, which recovers every running run at start: the tables are here so both engines keep
-- the same schema.
CREATE TABLE instances (
    id           TEXT PRIMARY KEY,
    started_at   INTEGER NOT NULL,
    heartbeat_at INTEGER NOT NULL
);
ALTER TABLE runs ADD COLUMN owner TEXT;
-- The instance holding an outbox job's lease: the lease ends with that instance's heartbeat.
ALTER TABLE outbox ADD COLUMN lease_owner TEXT;
