-- +goose Up
-- A record's subject rows go with it inside SQLite, in the statement that
-- deletes the record, instead of in a second statement from Go per record
-- (a sweep deletes thousands in one transaction; the round trip was a
-- third of its time). Every path that deletes records (sweep, requests,
-- DELETE, tenant removal) gets it, so none can leave an orphan behind.
-- +goose StatementBegin
CREATE TRIGGER records_delete_subjects AFTER DELETE ON records
BEGIN
	DELETE FROM subjects WHERE rec = OLD.rid;
END;
-- +goose StatementEnd

-- +goose Down
DROP TRIGGER records_delete_subjects;
