-- +goose Up
-- Signed checkpoints of the audit chains (see package audit). MACs are
-- HMAC-SHA256 under a key derived from the tenant's receipt key.

-- The signed head of each chain: replaced in the same transaction as every
-- append, so an entry appended or cut off behind Lethe's back no longer
-- matches it.
CREATE TABLE audit_heads (
    tenant text COLLATE "C" NOT NULL,
    log    text COLLATE "C" NOT NULL,
    seq    bigint NOT NULL,
    hash   bytea NOT NULL,
    time   timestamptz NOT NULL,
    mac    bytea NOT NULL,
    PRIMARY KEY (tenant, log)
);

-- Periodic checkpoints: the anchors retention cuts at.
CREATE TABLE audit_checkpoints (
    tenant text COLLATE "C" NOT NULL,
    log    text COLLATE "C" NOT NULL,
    seq    bigint NOT NULL,
    hash   bytea NOT NULL,
    time   timestamptz NOT NULL,
    mac    bytea NOT NULL,
    PRIMARY KEY (tenant, log, seq)
);

-- Retention finds a chain's expired prefix by time.
CREATE INDEX audit_time ON audit (tenant, log, time);

-- +goose Down
DROP INDEX audit_time;
DROP TABLE audit_checkpoints;
DROP TABLE audit_heads;
