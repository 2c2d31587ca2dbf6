-- +goose Up
-- How long a tenant's chat session tokens live, as a period ("30m",
-- "14d"); "0s" is off, the default, so that no tenant keeps state in
-- browsers until it chooses to.
ALTER TABLE tenants ADD COLUMN session_lifetime TEXT NOT NULL DEFAULT '0s';
-- The web origins (JSON array) whose pages may call the chat's public
-- routes from the browser (CORS); none by default.
ALTER TABLE tenants ADD COLUMN chat_origins TEXT NOT NULL DEFAULT '[]';

-- +goose Down
ALTER TABLE tenants DROP COLUMN chat_origins;
ALTER TABLE tenants DROP COLUMN session_lifetime;
