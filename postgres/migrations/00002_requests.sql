-- +goose Up
-- Data-subject and data-origin request jobs. A job's progress (phase,
-- cursor, counts) is rewritten in the same transaction as each batch of
-- its work, so a restart resumes exactly after the last committed batch.
CREATE TABLE requests (
    id                text COLLATE "C" PRIMARY KEY,
    tenant            text COLLATE "C" NOT NULL,
    type              text NOT NULL,
    scope             jsonb NOT NULL, -- lethe.RequestScope: hashes, never identifier values
    scope_key         text NOT NULL,
    dry_run           boolean NOT NULL,
    actor             text NOT NULL,
    state             text NOT NULL,
    phase             text NOT NULL DEFAULT '',
    cursor_collection text COLLATE "C" NOT NULL DEFAULT '',
    cursor_id         text COLLATE "C" NOT NULL DEFAULT '',
    total             bigint NOT NULL DEFAULT 0,
    processed         bigint NOT NULL DEFAULT 0,
    result            bytea, -- the engine's tally, opaque to the store
    receipt           bytea,
    error             text NOT NULL DEFAULT '',
    export_chunks     integer NOT NULL DEFAULT 0,
    export_expires_at timestamptz,
    owner             text NOT NULL DEFAULT '',
    lease_until       timestamptz,
    created_at        timestamptz NOT NULL,
    updated_at        timestamptz NOT NULL,
    finished_at       timestamptz
);
-- Idempotency: one active job per identical request, decided by the
-- database rather than read-then-write.
CREATE UNIQUE INDEX requests_active ON requests (tenant, type, scope_key, dry_run)
    WHERE state IN ('pending', 'running');
-- The runners' work queue (claimed with FOR UPDATE SKIP LOCKED).
CREATE INDEX requests_queue ON requests (created_at, id) WHERE state IN ('pending', 'running');
-- Exports expire: found by a range scan.
CREATE INDEX requests_export_expiry ON requests (export_expires_at) WHERE export_chunks > 0;

-- What a job did (or would do) to each record: ids and field names only.
CREATE TABLE request_items (
    seq        bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    request    text COLLATE "C" NOT NULL,
    tenant     text COLLATE "C" NOT NULL,
    collection text NOT NULL,
    record_id  text NOT NULL,
    action     text NOT NULL,
    fields     text[] NOT NULL DEFAULT '{}',
    reason     text NOT NULL DEFAULT '',
    until      timestamptz
);
CREATE INDEX request_items_request ON request_items (request, seq);

-- Exports are personal data: each chunk is sealed with the tenant's data key.
CREATE TABLE request_exports (
    request text COLLATE "C" NOT NULL,
    idx     integer NOT NULL,
    body    bytea NOT NULL,
    PRIMARY KEY (request, idx)
);
ALTER TABLE request_exports ALTER COLUMN body SET STORAGE EXTERNAL;

-- Origin requests and the origin switch-on page through one origin's
-- records without a table scan.
CREATE INDEX records_origin ON records (tenant, origin, collection, id);

-- +goose Down
DROP INDEX records_origin;
DROP TABLE request_exports;
DROP TABLE request_items;
DROP TABLE requests;
