-- Natter store, version 14: console sign-in sessions, kept in the store so that every instance
-- on it knows them (signing in on one instance and being answered by another works; signing out
-- on one ends the session on all). The cookie's session id itself is never stored: only its
-- SHA-256, so reading this table gives no session.
CREATE TABLE console_sessions (
    id_hash    TEXT PRIMARY KEY,   -- hex SHA-256 of the session id
    csrf       TEXT NOT NULL,      -- the session's CSRF token
    created_at BIGINT NOT NULL,    -- ms since the Unix epoch
    expires_at BIGINT NOT NULL     -- ms since the Unix epoch
);
CREATE INDEX console_sessions_created ON console_sessions (created_at);
