-- +goose Up
-- Times are INTEGER unix milliseconds in UTC throughout.

-- Server-wide values: admin token hash, master key id.
CREATE TABLE meta (
    key   TEXT PRIMARY KEY,
    value BLOB
);

CREATE TABLE tenants (
    id         TEXT PRIMARY KEY,
    packs      TEXT NOT NULL DEFAULT '[]', -- JSON array of pack names
    created_at INTEGER NOT NULL
);

-- Tenant keys, only ever wrapped by the master key.
CREATE TABLE keys (
    tenant     TEXT NOT NULL,
    purpose    TEXT NOT NULL,
    version    INTEGER NOT NULL,
    kek_id     TEXT NOT NULL,
    wrapped    BLOB NOT NULL,
    created_at INTEGER NOT NULL,
    retired    INTEGER NOT NULL DEFAULT 0,
    PRIMARY KEY (tenant, purpose, version)
);

CREATE TABLE api_keys (
    prefix     TEXT PRIMARY KEY,
    tenant     TEXT NOT NULL,
    hash       BLOB NOT NULL,
    created_at INTEGER NOT NULL,
    revoked    INTEGER NOT NULL DEFAULT 0
);

CREATE TABLE settings (
    tenant     TEXT NOT NULL,
    collection TEXT NOT NULL,
    body       TEXT NOT NULL, -- JSON of lethe.Settings
    updated_at INTEGER NOT NULL,
    PRIMARY KEY (tenant, collection)
);

-- Records keep an integer rowid (rid): rows are large (sealed fields), and
-- subjects point at the short rid instead of repeating the text key.
CREATE TABLE records (
    rid         INTEGER PRIMARY KEY,
    tenant      TEXT NOT NULL,
    collection  TEXT NOT NULL,
    id          TEXT NOT NULL,
    origin      TEXT NOT NULL DEFAULT '',
    created_at  INTEGER NOT NULL,
    updated_at  INTEGER NOT NULL,
    state       TEXT NOT NULL,
    plain       TEXT NOT NULL DEFAULT '{}', -- JSON object of non-PII fields
    sealed      BLOB,                       -- lethe.EncodeSealed
    plan_action TEXT,
    plan_rule   TEXT,
    due_at      INTEGER                     -- NULL when nothing is planned
);
CREATE UNIQUE INDEX records_ref ON records (tenant, collection, id);
-- The sweeper's work queue: a range scan over planned records only.
CREATE INDEX records_due ON records (due_at) WHERE due_at IS NOT NULL;
-- A tenant's dry run (PlanSummary) without walking other tenants' plans.
CREATE INDEX records_tenant_due ON records (tenant, due_at) WHERE due_at IS NOT NULL;

-- Blind-index entries. The hash is 16 bytes: index keys stay short, since a
-- long blind-index key costs insert speed several times over.
CREATE TABLE subjects (
    rec        INTEGER NOT NULL, -- records.rid; deleted with the record in the same transaction
    tenant     TEXT NOT NULL,
    collection TEXT NOT NULL,
    kind       TEXT NOT NULL,
    field      TEXT NOT NULL,
    hash       BLOB NOT NULL,
    uniq       INTEGER NOT NULL DEFAULT 0
);
CREATE INDEX subjects_hash ON subjects (tenant, hash);
CREATE INDEX subjects_rec ON subjects (rec);
-- C6: a unique identifier (a voucher code) is issued once per collection,
-- enforced by the database rather than read-then-write.
CREATE UNIQUE INDEX subjects_unique ON subjects (tenant, collection, kind, hash) WHERE uniq = 1;

-- Hash-chained audit logs, one chain per tenant and log.
CREATE TABLE audit (
    tenant TEXT NOT NULL,
    log    TEXT NOT NULL,
    seq    INTEGER NOT NULL,
    time   INTEGER NOT NULL,
    actor  TEXT NOT NULL,
    event  TEXT NOT NULL,
    data   TEXT,  -- JSON object, no PII values
    prev   BLOB,
    hash   BLOB NOT NULL,
    PRIMARY KEY (tenant, log, seq)
);

-- +goose Down
DROP TABLE audit;
DROP TABLE subjects;
DROP TABLE records;
DROP TABLE settings;
DROP TABLE api_keys;
DROP TABLE keys;
DROP TABLE tenants;
DROP TABLE meta;
