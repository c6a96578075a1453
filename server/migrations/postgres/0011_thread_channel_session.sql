-- Natter store, version 11 (PostgreSQL; same change as ../0011_thread_channel_session.sql): what
-- a conversation came through (`web`, `ibm_web_chat`, `ibm_orchestrate`, `api`, `crm`; set once at
-- creation) and the browser session the widget last sent (a JSON object as text, NULL when none).
ALTER TABLE threads ADD COLUMN channel TEXT NOT NULL DEFAULT 'web';
ALTER TABLE threads ADD COLUMN browser_session TEXT;
UPDATE threads SET channel = 'crm' WHERE substr(id, 1, 4) = 'crm_';
