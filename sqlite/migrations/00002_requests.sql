-- +goose Up
-- Data-subject and data-origin request jobs. A job's progress (phase,
-- cursor, counts) is rewritten in the same transaction as each batch of
-- its work, so a restart resumes exactly after the last committed batch.
CREATE TABLE requests (
    id                TEXT PRIMARY KEY,
    tenant            TEXT NOT NULL,
    type              TEXT NOT NULL,
    scope             TEXT NOT NULL, -- JSON of lethe.RequestScope: hashes, never identifier values
    scope_key         TEXT NOT NULL,
    dry_run           INTEGER NOT NULL,
    actor             TEXT NOT NULL,
    state             TEXT NOT NULL,
    phase             TEXT NOT NULL DEFAULT '',
    cursor_collection TEXT NOT NULL DEFAULT '',
    cursor_id         TEXT NOT NULL DEFAULT '',
    total             INTEGER NOT NULL DEFAULT 0,
    processed         INTEGER NOT NULL DEFAULT 0,
    result            TEXT,
    receipt           BLOB,
    error             TEXT NOT NULL DEFAULT '',
    export_chunks     INTEGER NOT NULL DEFAULT 0,
    export_expires_at INTEGER,
    owner             TEXT NOT NULL DEFAULT '',
    lease_until       INTEGER,
    created_at        INTEGER NOT NULL,
    updated_at        INTEGER NOT NULL,
    finished_at       INTEGER
);
-- Idempotency: one active job per identical request, decided by the
-- database rather than read-then-write.
CREATE UNIQUE INDEX requests_active ON requests (tenant, type, scope_key, dry_run)
    WHERE state IN ('pending', 'running');
-- The runners' work queue.
CREATE INDEX requests_queue ON requests (created_at) WHERE state IN ('pending', 'running');
-- Exports expire: found by a range scan.
CREATE INDEX requests_export_expiry ON requests (export_expires_at) WHERE export_chunks > 0;

-- What a job did (or would do) to each record: ids and field names only.
CREATE TABLE request_items (
    seq        INTEGER PRIMARY KEY,
    request    TEXT NOT NULL,
    tenant     TEXT NOT NULL,
    collection TEXT NOT NULL,
    record_id  TEXT NOT NULL,
    action     TEXT NOT NULL,
    fields     TEXT NOT NULL DEFAULT '[]',
    reason     TEXT NOT NULL DEFAULT '',
    until      INTEGER
);
CREATE INDEX request_items_request ON request_items (request, seq);

-- Exports are personal data: each chunk is sealed with the tenant's data key.
CREATE TABLE request_exports (
    request TEXT NOT NULL,
    idx     INTEGER NOT NULL,
    body    BLOB NOT NULL,
    PRIMARY KEY (request, idx)
);

-- Origin requests and the origin switch-on page through one origin's
-- records without a table scan.
CREATE INDEX records_origin ON records (tenant, origin, collection, id);

-- +goose Down
DROP INDEX records_origin;
DROP TABLE request_exports;
DROP TABLE request_items;
DROP TABLE requests;
