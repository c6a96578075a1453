-- Natter store, version 8 (PostgreSQL; as ../0008_instances.sql): several instances on one
-- database. Each live instance has a row it refreshes (heartbeat); a run belongs to the
-- instance running it, and a run whose instance stopped refreshing is re-run by another one.
CREATE TABLE instances (
    id           TEXT PRIMARY KEY,
    started_at   BIGINT NOT NULL,   -- unix ms
    heartbeat_at BIGINT NOT NULL    -- unix ms
);
ALTER TABLE runs ADD COLUMN owner TEXT;
-- The instance holding an outbox job's lease: the lease ends with that instance's heartbeat.
ALTER TABLE outbox ADD COLUMN lease_owner TEXT;
CREATE INDEX runs_owner ON runs (owner) WHERE status = 'running';
