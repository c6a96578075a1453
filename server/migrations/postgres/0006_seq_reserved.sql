-- Natter store, version 6 (PostgreSQL; as ../0006_seq_reserved.sql). The column is kept for the
-- same schema; the PostgreSQL store commits every streamed event (asynchronously, see
-- store/postgres.rs), so it reserves no seqs ahead.
ALTER TABLE threads ADD COLUMN seq_reserved BIGINT NOT NULL DEFAULT 0;
