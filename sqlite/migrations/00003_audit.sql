-- +goose Up
-- Signed checkpoints of the audit chains (see package audit). MACs are
-- HMAC-SHA256 under a key derived from the tenant's receipt key.

-- The signed head of each chain: replaced in the same transaction as every
-- group-committed append, so an entry appended or cut off behind Lethe's
-- back no longer matches it.
CREATE TABLE audit_heads (
    tenant TEXT NOT NULL,
    log    TEXT NOT NULL,
    seq    INTEGER NOT NULL,
    hash   BLOB NOT NULL,
    time   INTEGER NOT NULL,
    mac    BLOB NOT NULL,
    PRIMARY KEY (tenant, log)
);

-- Periodic checkpoints: the anchors retention cuts at.
CREATE TABLE audit_checkpoints (
    tenant TEXT NOT NULL,
    log    TEXT NOT NULL,
    seq    INTEGER NOT NULL,
    hash   BLOB NOT NULL,
    time   INTEGER NOT NULL,
    mac    BLOB NOT NULL,
    PRIMARY KEY (tenant, log, seq)
);

-- Retention finds a chain's expired prefix by time.
CREATE INDEX audit_time ON audit (tenant, log, time);

-- +goose Down
DROP INDEX audit_time;
DROP TABLE audit_checkpoints;
DROP TABLE audit_heads;
