-- +goose Up
-- Named leases on background work (the sweep): one owner at a time, so
-- that several instances on one database never act on a record twice.
CREATE TABLE leases (
    name  TEXT PRIMARY KEY,
    owner TEXT NOT NULL,
    until INTEGER NOT NULL -- unix ms
);

-- +goose Down
DROP TABLE leases;
