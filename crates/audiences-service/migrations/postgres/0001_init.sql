-- The reference service's schema (PostgreSQL). Same tables and meaning as
-- migrations/sqlite/0001_init.sql; only the types differ.
CREATE TABLE account_groups (
    id   TEXT PRIMARY KEY,
    name TEXT NOT NULL
);

CREATE TABLE audiences (
    id               TEXT PRIMARY KEY,
    account_group_id TEXT NOT NULL REFERENCES account_groups (id),
    name             TEXT NOT NULL,
    -- 'ready', or 'populating' while a prospecting job fills it (409).
    status           TEXT NOT NULL CHECK (status IN ('ready', 'populating'))
);

-- One row per prospect of an audience; `data` is the prospect as the API
-- returns it (JSON text, returned as stored), so a page is read without joins.
CREATE TABLE prospects (
    audience_id TEXT   COLLATE "C" NOT NULL REFERENCES audiences (id),
    id          TEXT   COLLATE "C" NOT NULL, -- byte order, as SQLite compares
    created_at  BIGINT NOT NULL, -- microseconds since the Unix epoch
    data        TEXT   NOT NULL,
    PRIMARY KEY (audience_id, id)
);

-- Keyset pagination: every page is one range scan of this index.
CREATE INDEX prospects_page ON prospects (audience_id, created_at, id);

CREATE TABLE api_keys (
    id               TEXT PRIMARY KEY,
    account_group_id TEXT NOT NULL REFERENCES account_groups (id),
    key_hash         BYTEA NOT NULL UNIQUE, -- SHA-256 of the key; the key itself is never stored
    permissions      TEXT NOT NULL,         -- space-separated
    revoked_at       BIGINT
);

CREATE TABLE settings (
    name  TEXT PRIMARY KEY,
    value TEXT NOT NULL
);
