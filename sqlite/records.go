package sqlite

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"sort"
	"strings"

	"github.com/lethe-privacy/lethe"
)

// recordCols are the columns scanRecord reads, in order.
const recordCols = `rid, tenant, collection, id, origin, created_at, updated_at, state, plain, sealed,
	plan_action, plan_rule, due_at, embedding`

// The statements of a single record's read, prepared once (see prepared).
const (
	qRecord         = "SELECT " + recordCols + " FROM records WHERE tenant = ? AND collection = ? AND id = ?"
	qRecordSubjects = "SELECT rec, kind, field, hash, uniq FROM subjects WHERE rec = ? ORDER BY rowid"
)

// rowScanner is *sql.Row or *sql.Rows.
type rowScanner interface{ Scan(dest ...any) error }

// scanRecord reads one row of recordCols.
func scanRecord(sc rowScanner) (int64, *lethe.Record, error) {
	var (
		rid              int64
		r                lethe.Record
		created, updated int64
		state, plain     string
		sealed           []byte
		action, rule     sql.NullString
		due              sql.NullInt64
	)
	err := sc.Scan(&rid, &r.Tenant, &r.Collection, &r.ID, &r.Origin, &created, &updated, &state, &plain,
		&sealed, &action, &rule, &due, &r.Embedding)
	if err != nil {
		return 0, nil, err
	}
	r.CreatedAt = fromMillis(created)
	r.UpdatedAt = fromMillis(updated)
	r.State = lethe.State(state)
	if r.Plain, err = lethe.DecodePlain([]byte(plain)); err != nil {
		return 0, nil, fmt.Errorf("record %s/%s: %w", r.Collection, r.ID, err)
	}
	if r.Sealed, err = lethe.DecodeSealed(sealed); err != nil {
		return 0, nil, fmt.Errorf("record %s/%s: %w", r.Collection, r.ID, err)
	}
	r.Plan.Action = lethe.Action(action.String)
	r.Plan.Rule = rule.String
	if due.Valid {
		r.Plan.DueAt = fromMillis(due.Int64)
	}
	return rid, &r, nil
}

// read runs fn in one read transaction on the reader pool, so that its
// queries see one snapshot.
func (s *Store) read(ctx context.Context, fn func(tx *sql.Tx) error) error {
	if s.isClosed() {
		return errClosed
	}
	tx, err := s.reader.BeginTx(ctx, nil)
	if err != nil {
		return mapErr(err)
	}
	defer tx.Rollback()
	return mapErr(fn(tx))
}

// Record reads one record with its subjects; lethe.ErrNotFound when absent.
func (s *Store) Record(ctx context.Context, ref lethe.RecordRef) (*lethe.Record, error) {
	var r *lethe.Record
	err := s.read(ctx, func(tx *sql.Tx) error {
		p := newStmts(ctx, tx, s.rhot)
		defer p.close()
		st, err := p.prepare(qRecord)
		if err != nil {
			return err
		}
		rid, rec, err := scanRecord(st.QueryRowContext(ctx, ref.Tenant, ref.Collection, ref.ID))
		if errors.Is(err, sql.ErrNoRows) {
			return lethe.ErrNotFound
		}
		if err != nil {
			return err
		}
		r = rec
		st, err = p.prepare(qRecordSubjects)
		if err != nil {
			return err
		}
		rows, err := st.QueryContext(ctx, rid)
		return scanSubjects(rows, err, map[int64]*lethe.Record{rid: rec})
	})
	if err != nil {
		return nil, fmt.Errorf("record %s/%s: %w", ref.Collection, ref.ID, err)
	}
	return r, nil
}

// maxVars caps the bound parameters of one IN (...) list.
const maxVars = 500

// fillSubjects loads the subjects of the given records, in the order they
// were written.
func fillSubjects(ctx context.Context, tx *sql.Tx, recs map[int64]*lethe.Record) error {
	rids := make([]int64, 0, len(recs))
	for rid := range recs {
		rids = append(rids, rid)
	}
	for len(rids) > 0 {
		n := min(len(rids), maxVars)
		chunk := rids[:n]
		rids = rids[n:]
		args := make([]any, len(chunk))
		for i, rid := range chunk {
			args[i] = rid
		}
		rows, err := tx.QueryContext(ctx,
			"SELECT rec, kind, field, hash, uniq FROM subjects WHERE rec IN ("+placeholders(len(chunk))+") ORDER BY rowid",
			args...)
		if err := scanSubjects(rows, err, recs); err != nil {
			return err
		}
	}
	return nil
}

// scanSubjects appends each row of subjects to its record in recs.
func scanSubjects(rows *sql.Rows, err error, recs map[int64]*lethe.Record) error {
	if err != nil {
		return err
	}
	defer rows.Close()
	for rows.Next() {
		var (
			rid int64
			sub lethe.Subject
		)
		if err := rows.Scan(&rid, &sub.Kind, &sub.Field, &sub.Hash, &sub.Unique); err != nil {
			return err
		}
		if r := recs[rid]; r != nil {
			r.Subjects = append(r.Subjects, sub)
		}
	}
	return rows.Err()
}

func placeholders(n int) string {
	return strings.TrimSuffix(strings.Repeat("?,", n), ",")
}

// UpdateRecord replaces a record's origin, fields, state, subjects and
// plan; lethe.ErrNotFound when absent. CreatedAt is kept as stored; a zero
// UpdatedAt is set from the store's clock.
func (s *Store) UpdateRecord(ctx context.Context, r *lethe.Record) error {
	if r == nil {
		return fmt.Errorf("update record: %w: nil record", lethe.ErrInvalid)
	}
	err := s.write(ctx, func(tx *sql.Tx) error {
		p := newStmts(ctx, tx, s.whot)
		defer p.close()
		found, err := s.updateRecord(p, r)
		if err != nil {
			return err
		}
		if !found {
			return fmt.Errorf("record %s/%s: %w", r.Collection, r.ID, lethe.ErrNotFound)
		}
		return nil
	})
	if err != nil {
		return fmt.Errorf("update: %w", err)
	}
	return nil
}

// DeleteRecord removes a record and its subjects; lethe.ErrNotFound when
// absent.
func (s *Store) DeleteRecord(ctx context.Context, ref lethe.RecordRef) error {
	return s.write(ctx, func(tx *sql.Tx) error {
		p := newStmts(ctx, tx, s.whot)
		defer p.close()
		found, err := deleteRecord(p, ref)
		if err != nil {
			return err
		}
		if !found {
			return fmt.Errorf("delete record %s/%s: %w", ref.Collection, ref.ID, lethe.ErrNotFound)
		}
		return nil
	})
}

// RecordsBySubject returns the tenant's records holding any of the hashes,
// each once, with their subjects, ordered by collection and id. It reads
// through the (tenant, hash) index only.
func (s *Store) RecordsBySubject(ctx context.Context, tenant string, hashes [][]byte) ([]*lethe.Record, error) {
	recs := make(map[int64]*lethe.Record)
	err := s.read(ctx, func(tx *sql.Tx) error {
		for len(hashes) > 0 {
			n := min(len(hashes), maxVars)
			args := make([]any, 0, n+1)
			args = append(args, tenant)
			for _, h := range hashes[:n] {
				args = append(args, h)
			}
			hashes = hashes[n:]
			rows, err := tx.QueryContext(ctx, "SELECT "+recordCols+` FROM records WHERE rid IN (
				SELECT rec FROM subjects WHERE tenant = ? AND hash IN (`+placeholders(n)+"))", args...)
			if err != nil {
				return err
			}
			for rows.Next() {
				rid, r, err := scanRecord(rows)
				if err != nil {
					rows.Close()
					return err
				}
				if r.Tenant == tenant {
					recs[rid] = r
				}
			}
			rows.Close()
			if err := rows.Err(); err != nil {
				return err
			}
		}
		return fillSubjects(ctx, tx, recs)
	})
	if err != nil {
		return nil, fmt.Errorf("records by subject of %s: %w", tenant, err)
	}
	out := make([]*lethe.Record, 0, len(recs))
	for _, r := range recs {
		out = append(out, r)
	}
	sort.Slice(out, func(i, j int) bool {
		if out[i].Collection != out[j].Collection {
			return out[i].Collection < out[j].Collection
		}
		return out[i].ID < out[j].ID
	})
	return out, nil
}

// ScanRecords pages through a collection in id order after afterID ("" for
// the start); limit <= 0 means 100. Subjects are not loaded on this path.
func (s *Store) ScanRecords(ctx context.Context, tenant, collection, afterID string, limit int) ([]*lethe.Record, error) {
	if limit <= 0 {
		limit = 100
	}
	rows, err := s.query(ctx, "SELECT "+recordCols+` FROM records
		WHERE tenant = ? AND collection = ? AND id > ? ORDER BY id LIMIT ?`,
		tenant, collection, afterID, limit)
	if err != nil {
		return nil, fmt.Errorf("scan %s/%s: %w", tenant, collection, err)
	}
	out, err := scanRecords(rows)
	if err != nil {
		return nil, fmt.Errorf("scan %s/%s: %w", tenant, collection, err)
	}
	return out, nil
}

// scanRecords reads every row of recordCols and closes rows.
func scanRecords(rows *sql.Rows) ([]*lethe.Record, error) {
	defer rows.Close()
	var out []*lethe.Record
	for rows.Next() {
		_, r, err := scanRecord(rows)
		if err != nil {
			return nil, mapErr(err)
		}
		out = append(out, r)
	}
	return out, mapErr(rows.Err())
}
