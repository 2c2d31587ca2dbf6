-- +goose Up
-- Named leases on background work (the sweep): one owner at a time, so
-- that several instances on one database never act on a record twice.
-- ApplyBatch reads the row FOR SHARE, so a take-over waits for a fenced
-- batch in flight to commit.
CREATE TABLE leases (
    name  text COLLATE "C" PRIMARY KEY,
    owner text NOT NULL,
    until timestamptz NOT NULL
);

-- +goose Down
DROP TABLE leases;
