package sqlite

import (
	"database/sql"
	"errors"
	"fmt"
	"net/url"

	"github.com/lethe-privacy/lethe"
)

// PeekMeta reads one meta value without writing anything: the database is
// opened read-only and immutable (no lock, no WAL, no -shm file), so the
// files stay byte-identical. Start-up uses it to check the master key before
// the database is opened for writing; values it needs are checkpointed into
// the main file when they are first written.
func PeekMeta(path, key string) ([]byte, error) {
	u := url.URL{Scheme: "file", Path: path, RawQuery: "mode=ro&immutable=1"}
	db, err := sql.Open("sqlite", u.String())
	if err != nil {
		return nil, fmt.Errorf("peek %s: %w", path, err)
	}
	defer db.Close()
	var v []byte
	err = db.QueryRow(`SELECT value FROM meta WHERE key = ?`, key).Scan(&v)
	if errors.Is(err, sql.ErrNoRows) {
		return nil, fmt.Errorf("meta %s: %w", key, lethe.ErrNotFound)
	}
	if err != nil {
		return nil, fmt.Errorf("peek %s: %w", path, err)
	}
	return v, nil
}
