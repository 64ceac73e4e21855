-- Issue 15, defects found from outside.
--
-- An API key created with another API key records that key (created_by names users only).
ALTER TABLE api_keys ADD COLUMN created_by_key TEXT REFERENCES api_keys (id);

-- Refresh tokens a session has rotated away from. Presenting one again means the token was
-- copied: the whole session (the token family) is revoked. Kept until the session's refresh
-- expiry, after which the session is unusable anyway.
CREATE TABLE session_retired_refresh (
    refresh_hash  TEXT PRIMARY KEY,
    session_id    TEXT NOT NULL REFERENCES sessions (id),
    tenant_id     TEXT NOT NULL REFERENCES tenants (id),
    retired_at    BIGINT NOT NULL
);
CREATE INDEX session_retired_refresh_session ON session_retired_refresh (session_id);

ALTER TABLE session_retired_refresh ENABLE ROW LEVEL SECURITY;
ALTER TABLE session_retired_refresh FORCE ROW LEVEL SECURITY;
CREATE POLICY tenant_isolation ON session_retired_refresh
    USING (tenant_id = current_setting('qf.tenant', true) OR current_setting('qf.tenant', true) = '*')
    WITH CHECK (tenant_id = current_setting('qf.tenant', true) OR current_setting('qf.tenant', true) = '*');
