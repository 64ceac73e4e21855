-- Quantforge store, initial schema (SQLite).
-- Times are BIGINT (integer affinity) nanoseconds since the Unix epoch, UTC; JSON is TEXT;
-- booleans are 0/1.
-- Kept column-for-column identical to ../postgres/0001_init.sql, which adds row-level security.

CREATE TABLE tenants (
    id          TEXT PRIMARY KEY,
    name        TEXT NOT NULL,
    created_at  BIGINT NOT NULL
);

-- Users are global (one login, many tenants); the only table without a tenant.
CREATE TABLE users (
    id             TEXT PRIMARY KEY,
    email          TEXT NOT NULL UNIQUE,  -- stored lowercased
    name           TEXT NOT NULL,
    password_hash  TEXT NOT NULL,
    created_at     BIGINT NOT NULL
);

CREATE TABLE memberships (
    tenant_id   TEXT NOT NULL REFERENCES tenants (id),
    user_id     TEXT NOT NULL REFERENCES users (id),
    role        TEXT NOT NULL,
    created_at  BIGINT NOT NULL,
    PRIMARY KEY (tenant_id, user_id)
);
CREATE INDEX memberships_user ON memberships (user_id);

CREATE TABLE invitations (
    id           TEXT PRIMARY KEY,
    tenant_id    TEXT NOT NULL REFERENCES tenants (id),
    email        TEXT NOT NULL,
    role         TEXT NOT NULL,
    token_hash   TEXT NOT NULL UNIQUE,
    expires_at   BIGINT NOT NULL,
    accepted_at  BIGINT,
    revoked_at   BIGINT,
    created_at   BIGINT NOT NULL
);
CREATE INDEX invitations_tenant ON invitations (tenant_id, id);

CREATE TABLE api_keys (
    id            TEXT PRIMARY KEY,
    tenant_id     TEXT NOT NULL REFERENCES tenants (id),
    name          TEXT NOT NULL,
    prefix        TEXT NOT NULL,
    key_hash      TEXT NOT NULL UNIQUE,
    role          TEXT NOT NULL,
    scopes        TEXT NOT NULL,          -- JSON array of strings
    created_by    TEXT REFERENCES users (id),
    expires_at    BIGINT,
    last_used_at  BIGINT,
    revoked_at    BIGINT,
    created_at    BIGINT NOT NULL
);
CREATE INDEX api_keys_tenant ON api_keys (tenant_id, id);

CREATE TABLE sessions (
    id                  TEXT PRIMARY KEY,
    tenant_id           TEXT NOT NULL REFERENCES tenants (id),
    user_id             TEXT NOT NULL REFERENCES users (id),
    role                TEXT NOT NULL,
    token_hash          TEXT NOT NULL UNIQUE,
    refresh_hash        TEXT NOT NULL UNIQUE,
    expires_at          BIGINT NOT NULL,
    refresh_expires_at  BIGINT NOT NULL,
    revoked_at          BIGINT,
    created_at          BIGINT NOT NULL
);
CREATE INDEX sessions_tenant ON sessions (tenant_id, id);

CREATE TABLE datasets (
    id          TEXT PRIMARY KEY,
    tenant_id   TEXT NOT NULL REFERENCES tenants (id),
    name        TEXT NOT NULL,
    format      TEXT NOT NULL,
    row_count   BIGINT NOT NULL,
    byte_count  BIGINT NOT NULL,
    symbols     TEXT NOT NULL,            -- JSON array of strings
    quality     TEXT NOT NULL,            -- JSON
    created_at  BIGINT NOT NULL
);
CREATE INDEX datasets_tenant ON datasets (tenant_id, id);
CREATE INDEX datasets_tenant_name ON datasets (tenant_id, name);

CREATE TABLE strategies (
    id              TEXT PRIMARY KEY,
    tenant_id       TEXT NOT NULL REFERENCES tenants (id),
    name            TEXT NOT NULL,
    kind            TEXT NOT NULL,
    latest_version  BIGINT NOT NULL,
    created_at      BIGINT NOT NULL,
    updated_at      BIGINT NOT NULL,
    UNIQUE (tenant_id, name)
);
CREATE INDEX strategies_tenant ON strategies (tenant_id, id);

CREATE TABLE strategy_versions (
    tenant_id    TEXT NOT NULL REFERENCES tenants (id),
    strategy_id  TEXT NOT NULL REFERENCES strategies (id),
    version      BIGINT NOT NULL,
    source       TEXT NOT NULL,
    sha256       TEXT NOT NULL,
    params       TEXT NOT NULL,           -- JSON
    created_at   BIGINT NOT NULL,
    PRIMARY KEY (strategy_id, version)
);

-- A run outlives its dataset (history stays readable), so dataset_id has no foreign key;
-- deleting a dataset that a live run needs is refused by the store instead.
CREATE TABLE runs (
    id                TEXT PRIMARY KEY,
    tenant_id         TEXT NOT NULL REFERENCES tenants (id),
    kind              TEXT NOT NULL,
    status            TEXT NOT NULL,
    dataset_id        TEXT NOT NULL,
    strategy_id       TEXT NOT NULL,
    strategy_version  BIGINT NOT NULL,
    request           TEXT NOT NULL,      -- JSON
    result            TEXT,               -- JSON
    error             TEXT,               -- JSON
    job_id            TEXT NOT NULL,
    created_at        BIGINT NOT NULL,
    started_at        BIGINT,
    finished_at       BIGINT,
    FOREIGN KEY (strategy_id, strategy_version) REFERENCES strategy_versions (strategy_id, version)
);
CREATE INDEX runs_tenant_kind ON runs (tenant_id, kind, id);
CREATE INDEX runs_dataset_live ON runs (dataset_id) WHERE status IN ('queued', 'running');

CREATE TABLE jobs (
    id                TEXT PRIMARY KEY,
    tenant_id         TEXT NOT NULL REFERENCES tenants (id),
    kind              TEXT NOT NULL,
    run_id            TEXT REFERENCES runs (id),
    state             TEXT NOT NULL,
    priority          BIGINT NOT NULL,
    attempts          BIGINT NOT NULL,
    max_attempts      BIGINT NOT NULL,
    run_after         BIGINT NOT NULL,
    lease_owner       TEXT,
    lease_expires_at  BIGINT,
    cancel_requested  BIGINT NOT NULL DEFAULT 0,
    last_error        TEXT,
    created_at        BIGINT NOT NULL,
    started_at        BIGINT,
    finished_at       BIGINT
);
CREATE INDEX jobs_tenant ON jobs (tenant_id, id);
-- The claim walks this index in claim order and stops at the first eligible row.
CREATE INDEX jobs_claim ON jobs (priority DESC, run_after, id) WHERE state IN ('queued', 'running');
-- Expired leases and per-tenant running counts read only the (few) running jobs.
CREATE INDEX jobs_running ON jobs (lease_expires_at, tenant_id) WHERE state = 'running';

CREATE TABLE idempotency_keys (
    tenant_id     TEXT NOT NULL REFERENCES tenants (id),
    scope         TEXT NOT NULL,
    idem_key      TEXT NOT NULL,
    request_hash  TEXT NOT NULL,
    status        BIGINT NOT NULL,
    body          TEXT NOT NULL,
    created_at    BIGINT NOT NULL,
    PRIMARY KEY (tenant_id, scope, idem_key)
);
CREATE INDEX idempotency_keys_created ON idempotency_keys (created_at);
