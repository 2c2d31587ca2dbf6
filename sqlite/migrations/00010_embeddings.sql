-- +goose Up
-- The plain search vector of a record of a vectors collection (ADR 0019):
-- little-endian float32, as vectors.Encode writes it; NULL for every other
-- record. It sits in the record's own row so that every delete of the
-- record deletes it in the same statement.
ALTER TABLE records ADD COLUMN embedding BLOB;

-- +goose Down
ALTER TABLE records DROP COLUMN embedding;
