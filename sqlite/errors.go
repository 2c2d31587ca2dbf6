package sqlite

import (
	"errors"
	"fmt"

	"github.com/lethe-privacy/lethe"
	"modernc.org/sqlite"
	sqlite3 "modernc.org/sqlite/lib"
)

// mapErr gives a driver error its domain meaning, keeping the driver's
// message for the log:
//   - SQLITE_FULL (disk or database full) is lethe.ErrStorageFull: nothing
//     was written, the caller may retry once space is freed;
//   - SQLITE_BUSY or SQLITE_LOCKED that outlived busy_timeout (another
//     process holds the file) is lethe.ErrUnavailable;
//   - a UNIQUE or PRIMARY KEY violation is lethe.ErrConflict; callers that
//     know what collided wrap it with that (see conflict).
//
// Other errors are returned unchanged.
func mapErr(err error) error {
	if err == nil {
		return nil
	}
	var se *sqlite.Error
	if !errors.As(err, &se) {
		return err
	}
	switch se.Code() & 0xff {
	case sqlite3.SQLITE_FULL:
		return fmt.Errorf("%w: %w", lethe.ErrStorageFull, err)
	case sqlite3.SQLITE_BUSY, sqlite3.SQLITE_LOCKED:
		return fmt.Errorf("%w: %w", lethe.ErrUnavailable, err)
	case sqlite3.SQLITE_CONSTRAINT:
		if isUniqueViolation(se) {
			return fmt.Errorf("%w: %w", lethe.ErrConflict, err)
		}
	}
	return err
}

// isUniqueViolation reports whether err is a UNIQUE or PRIMARY KEY
// constraint failure.
func isUniqueViolation(se *sqlite.Error) bool {
	switch se.Code() {
	case sqlite3.SQLITE_CONSTRAINT_UNIQUE, sqlite3.SQLITE_CONSTRAINT_PRIMARYKEY:
		return true
	}
	return false
}

// isConflict reports whether err, as returned by the driver, is a unique
// violation.
func isConflict(err error) bool {
	var se *sqlite.Error
	return errors.As(err, &se) && isUniqueViolation(se)
}
