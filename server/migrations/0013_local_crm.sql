-- Natter store, version 13: the built-in local CRM's state (the agent console's back end), so
-- every instance on one database shows the same queue. A conversation the local CRM heard of
-- (its status is the queue: waiting, active, ended), its lines, the webhook ids it took (the
-- outbox delivers at least once) and when each agent console last looked (isTeamOnline).
CREATE TABLE local_crm_conversations (
    ord                      INTEGER PRIMARY KEY AUTOINCREMENT,
    bot                      TEXT NOT NULL,
    platform_conversation_id TEXT NOT NULL,
    status                   TEXT NOT NULL,   -- waiting | active | ended
    updated_at               TEXT NOT NULL,
    UNIQUE (bot, platform_conversation_id)
);
CREATE TABLE local_crm_lines (
    ord          INTEGER PRIMARY KEY AUTOINCREMENT,
    conversation INTEGER NOT NULL,            -- local_crm_conversations.ord
    sender       TEXT NOT NULL,               -- visitor | agent | system
    text         TEXT NOT NULL,
    files        TEXT NOT NULL DEFAULT '[]',  -- JSON [{id, name, type, size}] (URLs are signed when read)
    created_at   TEXT NOT NULL
);
CREATE INDEX local_crm_lines_conversation ON local_crm_lines (conversation, ord);
CREATE TABLE local_crm_webhooks (
    id          TEXT PRIMARY KEY,             -- webhook-id
    received_at INTEGER NOT NULL              -- unix ms
);
CREATE INDEX local_crm_webhooks_received ON local_crm_webhooks (received_at);
CREATE TABLE local_crm_agents (
    bot     TEXT NOT NULL,
    agent   TEXT NOT NULL,
    seen_at INTEGER NOT NULL,                 -- unix ms
    PRIMARY KEY (bot, agent)
);
