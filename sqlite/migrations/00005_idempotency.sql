-- +goose Up
-- Answers of requests made with an Idempotency-Key, kept 24 hours so that
-- a client's retry gets the first answer instead of running twice. The
-- response is sealed by the engine with the tenant's data key (the system
-- tenant's for admin routes without a tenant): it may hold personal data
-- or a new API key. request_hash is keyed (HMAC), not a plain hash of a
-- body that may hold personal data.
CREATE TABLE idempotency (
    tenant       TEXT NOT NULL, -- '' for admin routes without a tenant
    principal    TEXT NOT NULL,
    key          TEXT NOT NULL,
    request_hash BLOB NOT NULL,
    token        TEXT NOT NULL,
    done         INTEGER NOT NULL DEFAULT 0,
    status       INTEGER NOT NULL DEFAULT 0,
    response     BLOB,
    locked_until INTEGER NOT NULL,
    created_at   INTEGER NOT NULL,
    expires_at   INTEGER NOT NULL,
    PRIMARY KEY (tenant, principal, key)
);
-- Expired entries are deleted by a range scan.
CREATE INDEX idempotency_expiry ON idempotency (expires_at);

-- A tenant's request jobs are listed in id order, all of them or those of
-- one state, by a range scan of its own rows.
CREATE INDEX requests_tenant ON requests (tenant, id);
CREATE INDEX requests_tenant_state ON requests (tenant, state, id);

-- +goose Down
DROP INDEX requests_tenant_state;
DROP INDEX requests_tenant;
DROP TABLE idempotency;
