-- Re-runs after a crash (docs/protocol.md §7): a run the crash interrupted is queued again at
-- start for the same user message. `attempt` counts how many times that message's answer was
-- re-run (0 for the first run), so a reply that crashes the server is re-run a bounded number
-- of times.
ALTER TABLE runs ADD COLUMN attempt INTEGER NOT NULL DEFAULT 0
