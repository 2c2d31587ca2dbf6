// Package sqlite is Lethe's embedded default Store, on SQLite through the
// pure-Go modernc.org/sqlite driver (no cgo).
//
// The database runs in WAL mode with synchronous=FULL, so that a confirmed
// erasure survives a power loss, and secure_delete=ON, so that erased bytes
// do not linger in free pages. All writes go through a single connection,
// which makes "database is locked" between Lethe's own writers impossible;
// reads use a separate pool of read-only connections and never wait for the
// writer. Inserts from concurrent callers are group-committed: one
// transaction and one fsync for many callers.
package sqlite

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"net/url"
	"strconv"
	"sync"
	"time"

	"github.com/lethe-privacy/lethe"
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

// Store is a lethe.Store on one SQLite database file.
type Store struct {
	path   string
	now    func() time.Time
	writer *sql.DB   // one connection: every write goes through it
	reader *sql.DB   // read-only pool
	whot   *prepared // the writer's hot statements (see prepared)
	rhot   *prepared // the readers'

	// Group commit of InsertRecords (see insert.go).
	mu      sync.RWMutex // guards closed against sends on inserts
	closed  bool
	inserts chan *insertCall
	done    chan struct{} // closed when the commit loop has drained and ended
}

// Open opens or creates the database at path, applies the migrations the
// binary embeds and starts the group-commit loop.
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
	busy := strconv.FormatInt(opts.BusyTimeout.Milliseconds(), 10)

	writer, err := sql.Open("sqlite", dsn(path, []string{
		"journal_mode(WAL)",
		"busy_timeout(" + busy + ")",
		// FULL on every commit: a confirmed erasure must survive power
		// loss; group commit amortizes the fsync.
		"synchronous(FULL)",
		"secure_delete(ON)",
		"foreign_keys(ON)",
	}, true))
	if err != nil {
		return nil, fmt.Errorf("open sqlite store %s: %w", path, err)
	}
	writer.SetMaxOpenConns(1)
	writer.SetMaxIdleConns(1)
	writer.SetConnMaxLifetime(0)
	writer.SetConnMaxIdleTime(0)

	if err := migrate(ctx, writer); err != nil {
		writer.Close()
		return nil, fmt.Errorf("open sqlite store %s: %w", path, mapErr(err))
	}

	// The reader pool opens after the writer has switched the file to WAL:
	// a query_only connection could not do that itself.
	reader, err := sql.Open("sqlite", dsn(path, []string{
		"busy_timeout(" + busy + ")",
		"foreign_keys(ON)",
		"query_only(1)",
	}, false))
	if err != nil {
		writer.Close()
		return nil, fmt.Errorf("open sqlite store %s: %w", path, err)
	}
	reader.SetMaxOpenConns(opts.ReadConns)
	reader.SetMaxIdleConns(opts.ReadConns)
	if err := reader.PingContext(ctx); err != nil {
		writer.Close()
		reader.Close()
		return nil, fmt.Errorf("open sqlite store %s: %w", path, mapErr(err))
	}

	whot, err := prepare(ctx, writer, qAuditHead, qAuditInsert, qAuditHeadPut)
	if err != nil {
		writer.Close()
		reader.Close()
		return nil, fmt.Errorf("open sqlite store %s: %w", path, mapErr(err))
	}
	rhot, err := prepare(ctx, reader, qRecord, qRecordSubjects)
	if err != nil {
		whot.close()
		writer.Close()
		reader.Close()
		return nil, fmt.Errorf("open sqlite store %s: %w", path, mapErr(err))
	}

	s := &Store{
		path:    path,
		now:     opts.Now,
		writer:  writer,
		reader:  reader,
		whot:    whot,
		rhot:    rhot,
		inserts: make(chan *insertCall, 1024),
		done:    make(chan struct{}),
	}
	go s.commitLoop()
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

// IntegrityCheck runs PRAGMA integrity_check and fails unless SQLite
// answers "ok".
func (s *Store) IntegrityCheck(ctx context.Context) error {
	rows, err := s.reader.QueryContext(ctx, "PRAGMA integrity_check")
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
		return fmt.Errorf("integrity check of %s failed: %v", s.path, problems)
	}
	return nil
}

// Checkpoint copies committed pages into the database file and truncates
// the write-ahead log, so that erased bytes do not linger in it. It fails
// with lethe.ErrUnavailable when a long reader keeps it from completing.
func (s *Store) Checkpoint(ctx context.Context) error {
	var busy, logFrames, done int
	err := s.writer.QueryRowContext(ctx, "PRAGMA wal_checkpoint(TRUNCATE)").Scan(&busy, &logFrames, &done)
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
	close(s.inserts)
	s.mu.Unlock()
	<-s.done

	errCk := s.Checkpoint(context.Background())
	errH := errors.Join(s.rhot.close(), s.whot.close())
	errR := s.reader.Close()
	errW := s.writer.Close()
	return errors.Join(errCk, errH, errR, errW)
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
