// Package sqlite is Lethe's embedded default Store, on SQLite through the
// pure-Go modernc.org/sqlite driver (no cgo).
//
// The database runs in WAL mode with synchronous=FULL, so that a confirmed
// erasure survives a power loss, and secure_delete=ON, so that erased bytes
// do not linger in free pages. All writes go through a single connection,
// which makes "database is locked" between Lethe's own writers impossible;
// reads use a separate pool of read-only connections and never wait for the
// writer. Inserts from concurrent callers are group-committed: one
// transaction and one fsync for many callers. The manager log (every read
// of PII) lives in a second file with its own writer and readers (see
// ManagerLogPath), so that logging reads leaves the record readers' page
// caches alone.
package sqlite

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"net/url"
	"sync"
	"time"

	"github.com/lethe-privacy/lethe"
	"github.com/lethe-privacy/lethe/audit"
)

var _ lethe.Store = (*Store)(nil)

// Options configure a Store. The zero value is usable.
type Options struct {
	// Now is the clock for timestamps the store fills in (a record's
	// UpdatedAt on update when unset, a tenant's CreatedAt, an audit entry's
	// Time). Defaults to time.Now.
	Now func() time.Time
	// BusyTimeout is how long a statement waits for a lock held by another
	// process before failing with lethe.ErrUnavailable. Defaults to 5s.
	BusyTimeout time.Duration
	// ReadConns is the size of the read-only connection pool. Defaults to 4.
	ReadConns int
}

// Store is a lethe.Store on SQLite: the data, the security and runtime
// logs in one database file, the manager log in a second file beside it
// (see ManagerLogPath).
type Store struct {
	*file            // the main database file
	managerLog *file // the manager log: reads of PII (ADR 0008)
	now        func() time.Time

	mu      sync.RWMutex // guards closed
	closed  bool
	inserts *audit.Batcher[*insertCall] // group commit of InsertRecords (see insert.go)
}

// Open opens or creates the database at path and its manager log, applies
// the migrations the binary embeds and starts the group-commit loop.
func Open(ctx context.Context, path string, opts Options) (*Store, error) {
	if path == "" {
		return nil, fmt.Errorf("open sqlite store: %w: empty path", lethe.ErrInvalid)
	}
	if opts.Now == nil {
		opts.Now = time.Now
	}
	if opts.BusyTimeout <= 0 {
		opts.BusyTimeout = 5 * time.Second
	}
	if opts.ReadConns <= 0 {
		opts.ReadConns = 4
	}
	main, err := openFile(ctx, path, opts.BusyTimeout, opts.ReadConns, mainSchema)
	if err != nil {
		return nil, fmt.Errorf("open sqlite store %s: %w", path, err)
	}
	mlog := ManagerLogPath(path)
	managerLog, err := openFile(ctx, mlog, opts.BusyTimeout, 2, managerLogSchema)
	if err != nil {
		main.close()
		return nil, fmt.Errorf("open sqlite store %s: manager log %s: %w", path, mlog, err)
	}
	s := &Store{
		file:       main,
		managerLog: managerLog,
		now:        opts.Now,
	}
	if err := s.moveManagerLog(ctx); err != nil {
		main.close()
		managerLog.close()
		return nil, fmt.Errorf("open sqlite store %s: %w", path, err)
	}
	s.inserts = newInsertBatcher(s)
	return s, nil
}

// dsn builds the driver's data source name. The path is escaped so that a
// '?' or '&' in a file name cannot inject parameters.
func dsn(path string, pragmas []string, immediate bool) string {
	q := url.Values{}
	for _, p := range pragmas {
		q.Add("_pragma", p)
	}
	if immediate {
		// Without it a read-then-write transaction fails at once with
		// SQLITE_BUSY instead of waiting for the lock.
		q.Set("_txlock", "immediate")
	}
	u := url.URL{Scheme: "file", OmitHost: true, Path: path}
	return u.String() + "?" + q.Encode()
}

// Path returns the database file's path.
func (s *Store) Path() string { return s.path }

// IntegrityCheck runs PRAGMA integrity_check on both files and fails
// unless SQLite answers "ok" for each.
func (s *Store) IntegrityCheck(ctx context.Context) error {
	return errors.Join(s.file.integrityCheck(ctx), s.managerLog.integrityCheck(ctx))
}

func (f *file) integrityCheck(ctx context.Context) error {
	rows, err := f.reader.QueryContext(ctx, "PRAGMA integrity_check")
	if err != nil {
		return fmt.Errorf("integrity check: %w", mapErr(err))
	}
	defer rows.Close()
	var problems []string
	for rows.Next() {
		var line string
		if err := rows.Scan(&line); err != nil {
			return fmt.Errorf("integrity check: %w", mapErr(err))
		}
		if line != "ok" {
			problems = append(problems, line)
		}
	}
	if err := rows.Err(); err != nil {
		return fmt.Errorf("integrity check: %w", mapErr(err))
	}
	if len(problems) > 0 {
		return fmt.Errorf("integrity check of %s failed: %v", f.path, problems)
	}
	return nil
}

// Checkpoint copies committed pages into the main database file and
// truncates its write-ahead log, so that erased bytes do not linger in it.
// It fails with lethe.ErrUnavailable when a long reader keeps it from
// completing. (The manager log holds no PII values; SQLite's automatic
// checkpoints keep its log short.)
func (s *Store) Checkpoint(ctx context.Context) error {
	return s.file.checkpoint(ctx)
}

func (f *file) checkpoint(ctx context.Context) error {
	var busy, logFrames, done int
	err := f.writer.QueryRowContext(ctx, "PRAGMA wal_checkpoint(TRUNCATE)").Scan(&busy, &logFrames, &done)
	if err != nil {
		return fmt.Errorf("checkpoint: %w", mapErr(err))
	}
	if busy != 0 {
		return fmt.Errorf("checkpoint: %w: readers kept the log from being truncated", lethe.ErrUnavailable)
	}
	return nil
}

// Close drains the inserts already handed over, checkpoints the log and
// closes the database. Calls after Close fail with lethe.ErrUnavailable.
func (s *Store) Close() error {
	s.mu.Lock()
	if s.closed {
		s.mu.Unlock()
		return nil
	}
	s.closed = true
	s.mu.Unlock()
	s.inserts.Close() // commits the calls already handed over

	errCk := errors.Join(s.file.checkpoint(context.Background()), s.managerLog.checkpoint(context.Background()))
	return errors.Join(errCk, s.file.close(), s.managerLog.close())
}

// millis stores a time as unix milliseconds.
func millis(t time.Time) int64 { return t.UnixMilli() }

// fromMillis reads a stored time back in UTC.
func fromMillis(ms int64) time.Time { return time.UnixMilli(ms).UTC() }

// nullMillis stores a zero time as NULL.
func nullMillis(t time.Time) sql.NullInt64 {
	if t.IsZero() {
		return sql.NullInt64{}
	}
	return sql.NullInt64{Int64: t.UnixMilli(), Valid: true}
}

// orNow returns t, or the store's clock when t is zero.
func (s *Store) orNow(t time.Time) time.Time {
	if t.IsZero() {
		return s.now()
	}
	return t
}
