package sqlite

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"strconv"
	"sync/atomic"
	"time"
)

// file is one SQLite database file: a single writer connection, a pool of
// read-only ones, and the hot statements prepared on each.
type file struct {
	path   string
	writer *sql.DB   // one connection: every write goes through it
	reader *sql.DB   // read-only pool
	whot   *prepared // the writer's hot statements (see prepared)
	rhot   *prepared // the readers'

	lazy    bool         // commits are lazy unless they ask for a flush (see schema.lazy)
	flushed atomic.Int64 // unix nanoseconds of the last flushed commit (see maxUnflushed)
	flushes atomic.Int64 // flushed commits so far
}

// schema is what a file holds: its migrations and the statements worth
// preparing once.
type schema struct {
	migrations string   // folder of the embedded migrations
	whot, rhot []string // hot statements of the writer and the readers
	// lazy opens the writer with synchronous=NORMAL rather than FULL: for
	// a file whose commits are nearly all lazy (the manager log's, read
	// entries), a commit then needs no pragma before and after it; the
	// rare flushed one switches to FULL for itself (see file.commit).
	lazy bool
}

var (
	mainSchema = schema{migrations: "migrations",
		// The group commit of single-record creates runs the record and
		// subject inserts and a savepoint per call in transactions of a
		// few calls each: prepared per transaction, their parsing cost
		// more CPU on the one writer than the inserts.
		whot: []string{qAuditHead, qAuditInsert, qAuditHeadPut,
			insertRecordSQL, insertSubjectSQL, qSavepoint, qRelease, qRollbackTo},
		// Every API request authenticates (qAPIKey; qMeta for the admin
		// token): parsing that SQL each time was over half the CPU of a
		// one-record create.
		rhot: []string{qRecord, qRecordSubjects, qAPIKey, qMeta}}
	managerLogSchema = schema{migrations: "migrations_manager_log",
		whot: []string{qAuditHead, qAuditInsert, qAuditHeadPut}, lazy: true}
)

// openFile opens or creates the database file at path with its schema.
func openFile(ctx context.Context, path string, busyTimeout time.Duration, readConns int, sc schema) (f *file, err error) {
	if err := createPrivate(path); err != nil {
		return nil, err
	}
	busy := strconv.FormatInt(busyTimeout.Milliseconds(), 10)
	f = &file{path: path, lazy: sc.lazy}
	sync := syncLevel(!sc.lazy)
	f.flushed.Store(time.Now().UnixNano())
	defer func() {
		if err != nil {
			f.close()
		}
	}()
	f.writer, err = sql.Open("sqlite", dsn(path, []string{
		"journal_mode(WAL)",
		"busy_timeout(" + busy + ")",
		// FULL on every commit of the main file: a confirmed erasure
		// must survive power loss; group commit amortizes the fsync.
		"synchronous(" + sync + ")",
		"secure_delete(ON)",
		"foreign_keys(ON)",
	}, true))
	if err != nil {
		return f, err
	}
	f.writer.SetMaxOpenConns(1)
	f.writer.SetMaxIdleConns(1)
	f.writer.SetConnMaxLifetime(0)
	f.writer.SetConnMaxIdleTime(0)
	if err := migrate(ctx, f.writer, sc.migrations); err != nil {
		return f, mapErr(err)
	}

	// The reader pool opens after the writer has switched the file to WAL:
	// a query_only connection could not do that itself.
	f.reader, err = sql.Open("sqlite", dsn(path, []string{
		"busy_timeout(" + busy + ")",
		"foreign_keys(ON)",
		"query_only(1)",
	}, false))
	if err != nil {
		return f, err
	}
	f.reader.SetMaxOpenConns(readConns)
	f.reader.SetMaxIdleConns(readConns)
	if err := f.reader.PingContext(ctx); err != nil {
		return f, mapErr(err)
	}
	// The -wal and -shm files exist now.
	if err := checkPrivate(path+"-wal", path+"-shm"); err != nil {
		return f, fmt.Errorf("database file mode: %w", err)
	}
	if f.whot, err = prepare(ctx, f.writer, sc.whot...); err != nil {
		return f, mapErr(err)
	}
	if f.rhot, err = prepare(ctx, f.reader, sc.rhot...); err != nil {
		return f, mapErr(err)
	}
	return f, nil
}

// close closes the statements and connections that are open.
func (f *file) close() error {
	errs := []error{f.rhot.close(), f.whot.close()}
	for _, db := range []*sql.DB{f.reader, f.writer} {
		if db != nil {
			errs = append(errs, db.Close())
		}
	}
	return errors.Join(errs...)
}
