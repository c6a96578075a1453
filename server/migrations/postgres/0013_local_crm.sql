-- Natter store, version 13 (PostgreSQL; as ../0013_local_crm.sql): the built-in local CRM's
-- state, shared by every instance on the database: conversations (their status is the queue),
-- their lines, the webhook ids taken, and when each agent console last looked.
CREATE TABLE local_crm_conversations (
    ord                      BIGINT GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    bot                      TEXT NOT NULL,
    platform_conversation_id TEXT NOT NULL,
    status                   TEXT NOT NULL,   -- waiting | active | ended
    updated_at               TEXT NOT NULL,
    UNIQUE (bot, platform_conversation_id)
);
CREATE TABLE local_crm_lines (
    ord          BIGINT GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    conversation BIGINT NOT NULL,             -- local_crm_conversations.ord
    sender       TEXT NOT NULL,               -- visitor | agent | system
    text         TEXT NOT NULL,
    files        TEXT NOT NULL DEFAULT '[]',  -- JSON [{id, name, type, size}] (URLs are signed when read)
    created_at   TEXT NOT NULL
);
CREATE INDEX local_crm_lines_conversation ON local_crm_lines (conversation, ord);
CREATE TABLE local_crm_webhooks (
    id          TEXT PRIMARY KEY,             -- webhook-id
    received_at BIGINT NOT NULL               -- unix ms
);
CREATE INDEX local_crm_webhooks_received ON local_crm_webhooks (received_at);
CREATE TABLE local_crm_agents (
    bot     TEXT NOT NULL,
    agent   TEXT NOT NULL,
    seen_at BIGINT NOT NULL,                  -- unix ms
    PRIMARY KEY (bot, agent)
);
