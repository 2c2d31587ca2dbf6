-- +goose Up
-- Times are timestamptz cut to the millisecond by the store, the
-- precision every Lethe store keeps. Keys, ids and names that are sorted or
-- paged through use the "C" collation: byte order, the same on every
-- server whatever its locale, and the cheapest comparison for an index.

-- Server-wide values: admin token hash, master key id.
CREATE TABLE meta (
    key   text COLLATE "C" PRIMARY KEY,
    value bytea
);

CREATE TABLE tenants (
    id         text COLLATE "C" PRIMARY KEY,
    packs      text[] NOT NULL DEFAULT '{}',
    created_at timestamptz NOT NULL
);

-- Tenant keys, only ever wrapped by the master key.
CREATE TABLE keys (
    tenant     text COLLATE "C" NOT NULL,
    purpose    text COLLATE "C" NOT NULL,
    version    bigint NOT NULL, -- uint32 in Go
    kek_id     text NOT NULL,
    wrapped    bytea NOT NULL,
    created_at timestamptz NOT NULL,
    retired    boolean NOT NULL DEFAULT false,
    PRIMARY KEY (tenant, purpose, version)
);

CREATE TABLE api_keys (
    prefix     text COLLATE "C" PRIMARY KEY,
    tenant     text NOT NULL,
    hash       bytea NOT NULL,
    created_at timestamptz NOT NULL,
    revoked    boolean NOT NULL DEFAULT false
);

CREATE TABLE settings (
    tenant     text COLLATE "C" NOT NULL,
    collection text COLLATE "C" NOT NULL,
    body       jsonb NOT NULL, -- lethe.Settings
    updated_at timestamptz NOT NULL,
    PRIMARY KEY (tenant, collection)
);

-- Records keep a bigint rid: rows are large (sealed fields), and subjects
-- point at the short rid instead of repeating the text key. InsertRecords
-- draws rids from the sequence in one round trip and COPYs records and
-- subjects with them.
CREATE SEQUENCE records_rid;
CREATE TABLE records (
    rid         bigint PRIMARY KEY DEFAULT nextval('records_rid'),
    tenant      text COLLATE "C" NOT NULL,
    collection  text COLLATE "C" NOT NULL,
    id          text COLLATE "C" NOT NULL,
    origin      text COLLATE "C" NOT NULL DEFAULT '',
    created_at  timestamptz NOT NULL,
    updated_at  timestamptz NOT NULL,
    state       text NOT NULL,
    plain       jsonb NOT NULL DEFAULT '{}', -- non-PII fields
    sealed      bytea,                       -- lethe.EncodeSealed
    plan_action text,
    plan_rule   text,
    due_at      timestamptz                  -- NULL when nothing is planned
);
ALTER SEQUENCE records_rid OWNED BY records.rid;
-- Ciphertexts do not compress: spare TOAST the attempt.
ALTER TABLE records ALTER COLUMN sealed SET STORAGE EXTERNAL;
CREATE UNIQUE INDEX records_ref ON records (tenant, collection, id);
-- The sweeper's work queue: a range scan over planned records only.
CREATE INDEX records_due ON records (due_at) WHERE due_at IS NOT NULL;
-- A tenant's dry run (PlanSummary) without walking other tenants' plans.
CREATE INDEX records_tenant_due ON records (tenant, due_at) WHERE due_at IS NOT NULL;

-- Blind-index entries, pos-th of their record. The hash is 16 bytes:
-- index keys stay short, since a long blind-index key costs insert speed
-- several times over. No foreign key: subjects are deleted with their
-- record in the same statement, and a per-row foreign-key check would cost
-- every COPY.
CREATE TABLE subjects (
    rec        bigint NOT NULL, -- records.rid
    pos        integer NOT NULL,
    tenant     text COLLATE "C" NOT NULL,
    collection text COLLATE "C" NOT NULL,
    kind       text COLLATE "C" NOT NULL,
    field      text NOT NULL,
    hash       bytea NOT NULL,
    uniq       boolean NOT NULL DEFAULT false,
    PRIMARY KEY (rec, pos)
);
CREATE INDEX subjects_hash ON subjects (tenant, hash);
-- C6: a unique identifier (a voucher code) is issued once per collection,
-- enforced by the database rather than read-then-write.
CREATE UNIQUE INDEX subjects_unique ON subjects (tenant, collection, kind, hash) WHERE uniq;

-- Hash-chained audit logs, one chain per tenant and log. data is kept as
-- bytes, not jsonb: the chain hash covers its exact bytes.
CREATE TABLE audit (
    tenant text COLLATE "C" NOT NULL,
    log    text COLLATE "C" NOT NULL,
    seq    bigint NOT NULL,
    time   timestamptz NOT NULL,
    actor  text NOT NULL,
    event  text NOT NULL,
    data   bytea,
    prev   bytea,
    hash   bytea NOT NULL,
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
