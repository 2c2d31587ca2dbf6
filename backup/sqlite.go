package backup

import (
	"context"
	"database/sql"
	"fmt"
	"io"
	"net/url"
	"os"

	_ "modernc.org/sqlite" // the driver of the store itself
)

// SQLiteSource snapshots the SQLite database at path with VACUUM INTO on a
// read-only connection of its own: one read transaction, so the copy is
// consistent while a server keeps writing (SQLite's WAL lets it), and
// compact, since free pages (secure_delete zeroes them anyway) are not
// copied.
func SQLiteSource(name, path string) Source {
	return Source{Name: name, Snapshot: func(ctx context.Context, dst string) error {
		q := url.Values{}
		q.Add("_pragma", "busy_timeout(10000)")
		q.Set("mode", "ro")
		u := url.URL{Scheme: "file", OmitHost: true, Path: path}
		db, err := sql.Open("sqlite", u.String()+"?"+q.Encode())
		if err != nil {
			return err
		}
		defer db.Close()
		if _, err := db.ExecContext(ctx, "VACUUM INTO ?", dst); err != nil {
			return fmt.Errorf("VACUUM INTO: %w", err)
		}
		return os.Chmod(dst, 0o600)
	}}
}

// FileSource copies a file as it is; copy, when set, writes a consistent
// copy of it (the erasure journal's own copy under its lock).
func FileSource(name string, copy func(io.Writer) error) Source {
	return Source{Name: name, Snapshot: func(ctx context.Context, dst string) error {
		out, err := os.OpenFile(dst, os.O_CREATE|os.O_EXCL|os.O_WRONLY, 0o600)
		if err != nil {
			return err
		}
		if err := copy(out); err != nil {
			out.Close()
			return err
		}
		return out.Close()
	}}
}
