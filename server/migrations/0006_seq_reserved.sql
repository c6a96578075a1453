-- Natter store, version 6: the durable seq reservation of each thread. Events of a reply in
-- progress are streamed from memory with seqs up to this value before they are written; after
-- a crash the next start records the seqs the log lacks up to it as `stream.lost`.
ALTER TABLE threads ADD COLUMN seq_reserved INTEGER NOT NULL DEFAULT 0;
