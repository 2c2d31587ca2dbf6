package bench

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"net/url"
	"time"

	"github.com/google/uuid"
	_ "modernc.org/sqlite" // the driver the store uses
)

// rawSchema is the store's records and subjects tables with their indexes,
// copied from sqlite/migrations (a test keeps the copy in step). The raw
// baseline writes into it, in a database file of its own.
const rawSchema = `
CREATE TABLE records (
    rid         INTEGER PRIMARY KEY,
    tenant      TEXT NOT NULL,
    collection  TEXT NOT NULL,
    id          TEXT NOT NULL,
    origin      TEXT NOT NULL DEFAULT '',
    created_at  INTEGER NOT NULL,
    updated_at  INTEGER NOT NULL,
    state       TEXT NOT NULL,
    plain       TEXT NOT NULL DEFAULT '{}',
    sealed      BLOB,
    plan_action TEXT,
    plan_rule   TEXT,
    due_at      INTEGER
);
CREATE UNIQUE INDEX records_ref ON records (tenant, collection, id);
CREATE INDEX records_due ON records (due_at) WHERE due_at IS NOT NULL;
CREATE INDEX records_tenant_due ON records (tenant, due_at) WHERE due_at IS NOT NULL;
CREATE TABLE subjects (
    rec        INTEGER NOT NULL,
    tenant     TEXT NOT NULL,
    collection TEXT NOT NULL,
    kind       TEXT NOT NULL,
    field      TEXT NOT NULL,
    hash       BLOB NOT NULL,
    uniq       INTEGER NOT NULL DEFAULT 0
);
CREATE INDEX subjects_hash ON subjects (tenant, hash);
CREATE INDEX subjects_rec ON subjects (rec);
CREATE UNIQUE INDEX subjects_unique ON subjects (tenant, collection, kind, hash) WHERE uniq = 1;
`

// rawPragmas are the store writer's pragmas (sqlite.Open): WAL, FULL
// synchronous commits, secure delete. A baseline with weaker durability
// would measure a different promise.
var rawPragmas = []string{
	"journal_mode(WAL)",
	"busy_timeout(5000)",
	"synchronous(FULL)",
	"secure_delete(ON)",
	"foreign_keys(ON)",
}

// RawRow is one plaintext record as an application without Lethe stores
// it.
type RawRow struct {
	Tenant, Collection, ID, Origin string
	Created                        time.Time
	Plain                          string // every field, personal ones included, as JSON
	Action, Rule                   string
	Due                            time.Time
	Subjects                       []RawSubject
}

// RawSubject is an identifier indexed as its normalized text.
type RawSubject struct {
	Kind, Field string
	Value       []byte
}

// Raw is the baseline database: the store's table shape, driver and
// pragmas, plain database/sql, no encryption, no audit, no group commit.
type Raw struct {
	db *sql.DB
}

// OpenRaw creates the baseline database at path.
func OpenRaw(ctx context.Context, path string) (*Raw, error) {
	q := url.Values{}
	for _, p := range rawPragmas {
		q.Add("_pragma", p)
	}
	q.Set("_txlock", "immediate")
	u := url.URL{Scheme: "file", OmitHost: true, Path: path}
	db, err := sql.Open("sqlite", u.String()+"?"+q.Encode())
	if err != nil {
		return nil, fmt.Errorf("open raw baseline %s: %w", path, err)
	}
	// One connection, like the store's writer: no "database is locked"
	// between the baseline's own statements.
	db.SetMaxOpenConns(1)
	db.SetConnMaxLifetime(0)
	db.SetConnMaxIdleTime(0)
	if _, err := db.ExecContext(ctx, rawSchema); err != nil {
		db.Close()
		return nil, fmt.Errorf("raw baseline schema: %w", err)
	}
	return &Raw{db: db}, nil
}

// Close closes the database.
func (r *Raw) Close() error { return r.db.Close() }

// Insert stores rows and their subjects in one transaction, with prepared
// statements, as the store's insert path does.
func (r *Raw) Insert(ctx context.Context, rows []RawRow) error {
	return r.tx(ctx, func(tx *sql.Tx) error {
		rec, err := tx.PrepareContext(ctx, `INSERT INTO records
			(tenant, collection, id, origin, created_at, updated_at, state, plain, sealed, plan_action, plan_rule, due_at)
			VALUES (?, ?, ?, ?, ?, ?, 'active', ?, NULL, ?, ?, ?)`)
		if err != nil {
			return err
		}
		defer rec.Close()
		sub, err := tx.PrepareContext(ctx, `INSERT INTO subjects (rec, tenant, collection, kind, field, hash, uniq)
			VALUES (?, ?, ?, ?, ?, ?, 0)`)
		if err != nil {
			return err
		}
		defer sub.Close()
		for _, row := range rows {
			ms := row.Created.UnixMilli()
			res, err := rec.ExecContext(ctx, row.Tenant, row.Collection, row.ID, row.Origin, ms, ms,
				row.Plain, row.Action, row.Rule, row.Due.UnixMilli())
			if err != nil {
				return err
			}
			rid, err := res.LastInsertId()
			if err != nil {
				return err
			}
			for _, s := range row.Subjects {
				if _, err := sub.ExecContext(ctx, rid, row.Tenant, row.Collection, s.Kind, s.Field, s.Value); err != nil {
					return err
				}
			}
		}
		return nil
	})
}

// Lookup reads the tenant's records holding the identifier through the
// (tenant, hash) index, the query shape of the store's RecordsBySubject;
// it returns how many it found.
func (r *Raw) Lookup(ctx context.Context, tenant string, value []byte) (int, error) {
	rows, err := r.db.QueryContext(ctx, `SELECT rid, tenant, collection, id, origin, created_at, updated_at,
		state, plain, sealed, plan_action, plan_rule, due_at FROM records
		WHERE rid IN (SELECT rec FROM subjects WHERE tenant = ? AND hash = ?)`, tenant, value)
	if err != nil {
		return 0, fmt.Errorf("raw lookup: %w", err)
	}
	defer rows.Close()
	n := 0
	for rows.Next() {
		var (
			rid, created, updated              int64
			tn, coll, id, origin, state, plain string
			sealed                             []byte
			action, rule                       sql.NullString
			due                                sql.NullInt64
		)
		if err := rows.Scan(&rid, &tn, &coll, &id, &origin, &created, &updated, &state, &plain, &sealed,
			&action, &rule, &due); err != nil {
			return 0, fmt.Errorf("raw lookup: %w", err)
		}
		n++
	}
	return n, rows.Err()
}

// DeleteDue deletes every row due at or before now with its subjects, in
// transactions of batch rows, oldest due first, then truncates the log as
// the sweeper does. It returns how many rows it deleted.
func (r *Raw) DeleteDue(ctx context.Context, now time.Time, batch int) (int, error) {
	total := 0
	for {
		n, err := r.sweepOnce(ctx, now, batch, func(tx *sql.Tx) (func(d dueRow) error, func(), error) {
			del, err := tx.PrepareContext(ctx, "DELETE FROM records WHERE rid = ?")
			if err != nil {
				return nil, nil, err
			}
			return func(d dueRow) error {
				_, err := del.ExecContext(ctx, d.rid)
				return err
			}, func() { del.Close() }, nil
		})
		total += n
		if err != nil {
			return total, err
		}
		if n == 0 {
			return total, r.Checkpoint(ctx)
		}
	}
}

// AnonymizeDue rewrites up to limit rows due at or before now, oldest due
// first, in one transaction: the plain JSON replaced by its anonymized
// form (forms, by record id), the subjects dropped, the plan moved to
// deletion ten years after creation. It returns how many rows it
// rewrote; call it until that is 0, then Checkpoint. The caller builds the
// forms of each batch before timing it, so the baseline times SQL only.
func (r *Raw) AnonymizeDue(ctx context.Context, now time.Time, limit int, forms map[string]string) (int, error) {
	return r.sweepOnce(ctx, now, limit, func(tx *sql.Tx) (func(d dueRow) error, func(), error) {
		up, err := tx.PrepareContext(ctx, `UPDATE records SET updated_at = ?, state = 'anonymized', plain = ?,
			sealed = NULL, plan_action = 'delete', plan_rule = 'delete', due_at = ? WHERE rid = ?`)
		if err != nil {
			return nil, nil, err
		}
		return func(d dueRow) error {
			plain, ok := forms[d.id]
			if !ok {
				return fmt.Errorf("no anonymized form of %s", d.id)
			}
			due := time.UnixMilli(d.created).AddDate(10, 0, 0).UnixMilli()
			_, err := up.ExecContext(ctx, now.UnixMilli(), plain, due, d.rid)
			return err
		}, func() { up.Close() }, nil
	})
}

// dueRow is what the raw sweep reads of a due row.
type dueRow struct {
	rid     int64
	id      string
	created int64
}

// sweepOnce runs act on up to limit due rows, oldest due first, found
// through the records_due index, and drops their subjects, all in one
// transaction, as the store's ApplyBatch does. It returns how many rows
// it acted on.
func (r *Raw) sweepOnce(ctx context.Context, now time.Time, limit int,
	prepare func(tx *sql.Tx) (act func(d dueRow) error, done func(), err error)) (int, error) {
	n := 0
	err := r.tx(ctx, func(tx *sql.Tx) error {
		rows, err := tx.QueryContext(ctx, `SELECT rid, id, created_at FROM records
			WHERE due_at IS NOT NULL AND due_at <= ? ORDER BY due_at LIMIT ?`, now.UnixMilli(), limit)
		if err != nil {
			return err
		}
		var due []dueRow
		for rows.Next() {
			var d dueRow
			if err := rows.Scan(&d.rid, &d.id, &d.created); err != nil {
				rows.Close()
				return err
			}
			due = append(due, d)
		}
		rows.Close()
		if err := rows.Err(); err != nil {
			return err
		}
		if len(due) == 0 {
			return nil
		}
		act, done, err := prepare(tx)
		if err != nil {
			return err
		}
		defer done()
		subs, err := tx.PrepareContext(ctx, "DELETE FROM subjects WHERE rec = ?")
		if err != nil {
			return err
		}
		defer subs.Close()
		for _, d := range due {
			if err := act(d); err != nil {
				return err
			}
			if _, err := subs.ExecContext(ctx, d.rid); err != nil {
				return err
			}
		}
		n = len(due)
		return nil
	})
	if err != nil {
		return 0, fmt.Errorf("raw sweep: %w", err)
	}
	return n, nil
}

// Checkpoint truncates the write-ahead log, as the store does after a
// sweep so that erased bytes do not linger there.
func (r *Raw) Checkpoint(ctx context.Context) error {
	var busy, frames, done int
	if err := r.db.QueryRowContext(ctx, "PRAGMA wal_checkpoint(TRUNCATE)").Scan(&busy, &frames, &done); err != nil {
		return fmt.Errorf("raw checkpoint: %w", err)
	}
	if busy != 0 {
		return errors.New("raw checkpoint: log not truncated")
	}
	return nil
}

func (r *Raw) tx(ctx context.Context, fn func(tx *sql.Tx) error) error {
	tx, err := r.db.BeginTx(ctx, nil)
	if err != nil {
		return err
	}
	if err := fn(tx); err != nil {
		tx.Rollback()
		return err
	}
	return tx.Commit()
}

// newID is a UUIDv7, the id the engine gives a record without one.
func newID() string { return uuid.Must(uuid.NewV7()).String() }
