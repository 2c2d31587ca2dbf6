-- The manager log's file: the same chain tables as the main file, for the
-- one log that lives here (see ManagerLogPath).

-- +goose Up
CREATE TABLE audit (
    tenant TEXT NOT NULL,
    log    TEXT NOT NULL,
    seq    INTEGER NOT NULL,
    time   INTEGER NOT NULL,
    actor  TEXT NOT NULL,
    event  TEXT NOT NULL,
    data   TEXT,  -- JSON object, no PII values in the clear
    prev   BLOB,
    hash   BLOB NOT NULL,
    PRIMARY KEY (tenant, log, seq)
);
CREATE INDEX audit_time ON audit (tenant, log, time);

CREATE TABLE audit_heads (
    tenant TEXT NOT NULL,
    log    TEXT NOT NULL,
    seq    INTEGER NOT NULL,
    hash   BLOB NOT NULL,
    time   INTEGER NOT NULL,
    mac    BLOB NOT NULL,
    PRIMARY KEY (tenant, log)
);

CREATE TABLE audit_checkpoints (
    tenant TEXT NOT NULL,
    log    TEXT NOT NULL,
    seq    INTEGER NOT NULL,
    hash   BLOB NOT NULL,
    time   INTEGER NOT NULL,
    mac    BLOB NOT NULL,
    PRIMARY KEY (tenant, log, seq)
);

-- +goose Down
DROP TABLE audit_checkpoints;
DROP TABLE audit_heads;
DROP INDEX audit_time;
DROP TABLE audit;
