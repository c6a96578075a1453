-- Natter store, version 4 (PostgreSQL; as ../0004_run_attempts.sql): re-runs after a crash.
ALTER TABLE runs ADD COLUMN attempt BIGINT NOT NULL DEFAULT 0;
