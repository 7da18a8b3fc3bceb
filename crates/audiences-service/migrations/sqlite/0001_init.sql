-- The reference service's schema (SQLite).
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
-- returns it (JSON), so a page is read without joins.
CREATE TABLE prospects (
    audience_id TEXT    NOT NULL REFERENCES audiences (id),
    id          TEXT    NOT NULL,
    created_at  INTEGER NOT NULL, -- microseconds since the Unix epoch
    data        TEXT    NOT NULL,
    PRIMARY KEY (audience_id, id)
);

-- Keyset pagination: every page is one range scan of this index.
CREATE INDEX prospects_page ON prospects (audience_id, created_at, id);

CREATE TABLE api_keys (
    id               TEXT PRIMARY KEY,
    account_group_id TEXT NOT NULL REFERENCES account_groups (id),
    key_hash         BLOB NOT NULL UNIQUE, -- SHA-256 of the key; the key itself is never stored
    permissions      TEXT NOT NULL,        -- space-separated
    revoked_at       INTEGER
);

CREATE TABLE settings (
    name  TEXT PRIMARY KEY,
    value TEXT NOT NULL
);
