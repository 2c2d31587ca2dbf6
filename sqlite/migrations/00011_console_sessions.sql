-- +goose Up
-- The console's deny list: sessions signed out before their token
-- expired. The id is the token's random jti, no personal data; an entry
-- is pruned once expires_at has passed.
CREATE TABLE console_revoked_sessions (
    id         TEXT PRIMARY KEY,
    expires_at INTEGER NOT NULL -- unix ms
);
CREATE INDEX console_revoked_sessions_expiry ON console_revoked_sessions (expires_at);

-- +goose Down
DROP TABLE console_revoked_sessions;
