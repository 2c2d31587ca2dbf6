-- +goose Up
-- The roles of each API key, comma-separated in the order of
-- lethe.AllRoles. Keys made before roles existed keep what they
-- effectively could do: read, write and file requests.
ALTER TABLE api_keys ADD COLUMN roles text NOT NULL DEFAULT 'reader,writer,requests';

-- +goose Down
ALTER TABLE api_keys DROP COLUMN roles;
