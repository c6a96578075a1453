-- Natter store, version 11: what a conversation came through and the visitor's browser session.
--
-- `channel` is set once, when the thread is created: `web` (the Natter widget), `ibm_web_chat` /
-- `ibm_orchestrate` (the IBM web chat compatibility loaders), `api` (a protocol client that named
-- none), `crm` (a CRM-channel conversation). Threads older than this version came through the
-- widget or the API (`web`) or the CRM channel (their ids start with `crm_`).
-- `browser_session` is the JSON object the widget last sent about the page (URL, title, referrer,
-- user agent, language, time zone, screen size, the host's `context`); NULL when none was sent.
ALTER TABLE threads ADD COLUMN channel TEXT NOT NULL DEFAULT 'web';
ALTER TABLE threads ADD COLUMN browser_session TEXT;
UPDATE threads SET channel = 'crm' WHERE substr(id, 1, 4) = 'crm_';
