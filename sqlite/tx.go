package sqlite

import (
	"context"
	"database/sql"
	"database/sql/driver"
	"fmt"
	"time"

	"github.com/lethe-privacy/lethe"
)

// errClosed answers calls made after Close.
var errClosed = fmt.Errorf("sqlite store: %w: closed", lethe.ErrUnavailable)

// write runs fn in one transaction on the main file's writer connection
// (see file.write).
func (s *Store) write(ctx context.Context, fn func(tx *sql.Tx) error) error {
	if s.isClosed() {
		return errClosed
	}
	return s.file.write(ctx, fn)
}

// write runs fn in one transaction on the writer connection and flushes
// it (synchronous=FULL). The transaction begins IMMEDIATE (see dsn), so
// it holds the write lock from its first statement and a read-then-write
// inside fn cannot fail half-way with SQLITE_BUSY. Errors are mapped with
// mapErr.
func (f *file) write(ctx context.Context, fn func(tx *sql.Tx) error) error {
	return f.commit(ctx, true, fn)
}

// maxUnflushed bounds how long lazy commits stay unflushed: a lazy commit
// made when the file's last flushed commit is older than this is flushed
// itself. In the main file erasures flush often anyway; in the manager
// log's file nothing else would, and a power cut could take every read
// entry since the last automatic checkpoint. With the bound it takes at
// most about a second of them.
const maxUnflushed = time.Second

// writeLazy runs fn like write, but commits with synchronous=NORMAL: in
// WAL mode the commit is appended to the log without an fsync. A process
// crash keeps it (the operating system has the pages); a power cut may
// lose it together with any later lazy commits, but never a commit that
// a later synchronous one follows, since that one's fsync of the log
// covers every frame before it.
func (f *file) writeLazy(ctx context.Context, fn func(tx *sql.Tx) error) error {
	flush := time.Since(time.Unix(0, f.flushed.Load())) >= maxUnflushed
	return f.commit(ctx, flush, fn)
}

// commit runs fn in one transaction, flushed or not. A commit of the
// file's own kind (see schema.lazy) runs as it is; one of the other kind
// sets synchronous for itself on the writer connection and sets it back
// before the connection serves anyone else. Should setting it back fail,
// the connection is discarded and the pool opens a new one with the
// DSN's setting.
func (f *file) commit(ctx context.Context, flush bool, fn func(tx *sql.Tx) error) (err error) {
	if flush != f.lazy {
		tx, err := f.writer.BeginTx(ctx, nil)
		if err != nil {
			return mapErr(err)
		}
		return f.run(tx, flush, fn)
	}
	conn, err := f.writer.Conn(ctx)
	if err != nil {
		return mapErr(err)
	}
	defer func() {
		if rerr := f.restoreSync(ctx, conn); rerr != nil && err == nil {
			err = rerr
		}
		conn.Close()
	}()
	if _, err := conn.ExecContext(ctx, "PRAGMA synchronous="+syncLevel(flush)); err != nil {
		return mapErr(err)
	}
	tx, err := conn.BeginTx(ctx, nil)
	if err != nil {
		return mapErr(err)
	}
	return f.run(tx, flush, fn)
}

// run runs fn in tx and commits, noting a flushed commit.
func (f *file) run(tx *sql.Tx, flush bool, fn func(tx *sql.Tx) error) error {
	if err := fn(tx); err != nil {
		tx.Rollback()
		return mapErr(err)
	}
	if err := tx.Commit(); err != nil {
		return mapErr(err)
	}
	if flush {
		f.flushed.Store(time.Now().UnixNano())
		f.flushes.Add(1)
	}
	return nil
}

// restoreSync sets a writer connection back to the file's synchronous
// setting; should that fail it discards the connection.
func (f *file) restoreSync(ctx context.Context, conn *sql.Conn) error {
	_, err := conn.ExecContext(context.WithoutCancel(ctx), "PRAGMA synchronous="+syncLevel(!f.lazy))
	if err != nil {
		conn.Raw(func(any) error { return driver.ErrBadConn })
		return fmt.Errorf("restore synchronous=%s: %w", syncLevel(!f.lazy), err)
	}
	return nil
}

// syncLevel is the synchronous setting of a flushed commit or a lazy one.
func syncLevel(flush bool) string {
	if flush {
		return "FULL"
	}
	return "NORMAL"
}

// isClosed reports whether Close has begun.
func (s *Store) isClosed() bool {
	s.mu.RLock()
	defer s.mu.RUnlock()
	return s.closed
}

// queryRow runs a single-row query on the reader pool.
func (s *Store) queryRow(ctx context.Context, query string, args ...any) *sql.Row {
	if st := s.rhot.stmt(query); st != nil {
		return st.QueryRowContext(ctx, args...)
	}
	return s.reader.QueryRowContext(ctx, query, args...)
}

// query runs a query on the main file's reader pool.
func (s *Store) query(ctx context.Context, query string, args ...any) (*sql.Rows, error) {
	if s.isClosed() {
		return nil, errClosed
	}
	return s.file.query(ctx, query, args...)
}

// query runs a query on the reader pool.
func (f *file) query(ctx context.Context, query string, args ...any) (*sql.Rows, error) {
	rows, err := f.reader.QueryContext(ctx, query, args...)
	return rows, mapErr(err)
}
