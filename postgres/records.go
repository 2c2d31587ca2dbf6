package postgres

import (
	"context"
	"fmt"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgconn"
	"github.com/lethe-privacy/lethe"
)

// querier is what the pool and a transaction have in common.
type querier interface {
	Exec(ctx context.Context, sql string, args ...any) (pgconn.CommandTag, error)
	Query(ctx context.Context, sql string, args ...any) (pgx.Rows, error)
	QueryRow(ctx context.Context, sql string, args ...any) pgx.Row
	SendBatch(ctx context.Context, b *pgx.Batch) pgx.BatchResults
	CopyFrom(ctx context.Context, table pgx.Identifier, columns []string, src pgx.CopyFromSource) (int64, error)
}

// recordCols are the columns scanRecord reads, in order, from records r.
const recordCols = `r.tenant, r.collection, r.id, r.origin, r.created_at, r.updated_at, r.state, r.plain,
	r.sealed, r.plan_action, r.plan_rule, r.due_at, r.embedding`

// withSubjects selects records r with their subjects as four arrays in
// write order, so that a record and its subjects come in one statement
// (one round trip, one snapshot). The lateral subquery reads the subjects'
// primary key (rec, pos).
const withSubjects = "SELECT " + recordCols + `, s.kinds, s.fields, s.hashes, s.uniqs
	FROM records r LEFT JOIN LATERAL (
		SELECT array_agg(kind ORDER BY pos) AS kinds, array_agg(field ORDER BY pos) AS fields,
			array_agg(hash ORDER BY pos) AS hashes, array_agg(uniq ORDER BY pos) AS uniqs
		FROM subjects WHERE rec = r.rid) s ON true`

// scanRecord reads one row of recordCols, followed by the four subject
// arrays of withSubjects when subjects is set.
func scanRecord(row pgx.CollectableRow, subjects bool) (*lethe.Record, error) {
	var (
		r             lethe.Record
		state         string
		plain, sealed []byte
		action, rule  *string
		due           *time.Time
		kinds, fields []string
		hashes        [][]byte
		uniqs         []bool
		dest          = []any{&r.Tenant, &r.Collection, &r.ID, &r.Origin, &r.CreatedAt, &r.UpdatedAt, &state, &plain, &sealed, &action, &rule, &due, &r.Embedding}
		err           error
	)
	if subjects {
		dest = append(dest, &kinds, &fields, &hashes, &uniqs)
	}
	if err := row.Scan(dest...); err != nil {
		return nil, err
	}
	r.CreatedAt, r.UpdatedAt = r.CreatedAt.UTC(), r.UpdatedAt.UTC()
	r.State = lethe.State(state)
	if r.Plain, err = lethe.DecodePlain(plain); err != nil {
		return nil, fmt.Errorf("record %s/%s: %w", r.Collection, r.ID, err)
	}
	if r.Sealed, err = lethe.DecodeSealed(sealed); err != nil {
		return nil, fmt.Errorf("record %s/%s: %w", r.Collection, r.ID, err)
	}
	if action != nil {
		r.Plan.Action = lethe.Action(*action)
	}
	if rule != nil {
		r.Plan.Rule = *rule
	}
	r.Plan.DueAt = fromNull(due)
	if n := len(kinds); n > 0 {
		if len(fields) != n || len(hashes) != n || len(uniqs) != n {
			return nil, fmt.Errorf("record %s/%s: subject arrays of unequal length", r.Collection, r.ID)
		}
		r.Subjects = make([]lethe.Subject, n)
		for i := range kinds {
			r.Subjects[i] = lethe.Subject{Kind: kinds[i], Field: fields[i], Hash: hashes[i], Unique: uniqs[i]}
		}
	}
	return &r, nil
}

// collectRecords reads every row of rows (see scanRecord).
func collectRecords(rows pgx.Rows, subjects bool) ([]*lethe.Record, error) {
	out, err := pgx.CollectRows(rows, func(row pgx.CollectableRow) (*lethe.Record, error) {
		return scanRecord(row, subjects)
	})
	return out, mapErr(err)
}

// queryRecords runs a query on the pool and reads its records.
func (s *Store) queryRecords(ctx context.Context, subjects bool, query string, args ...any) ([]*lethe.Record, error) {
	db, err := s.db()
	if err != nil {
		return nil, err
	}
	rows, err := db.Query(ctx, query, args...)
	if err != nil {
		return nil, mapErr(err)
	}
	return collectRecords(rows, subjects)
}

// Record reads one record with its subjects; lethe.ErrNotFound when absent.
func (s *Store) Record(ctx context.Context, ref lethe.RecordRef) (*lethe.Record, error) {
	recs, err := s.queryRecords(ctx, true, withSubjects+" WHERE r.tenant = $1 AND r.collection = $2 AND r.id = $3",
		ref.Tenant, ref.Collection, ref.ID)
	if err != nil {
		return nil, fmt.Errorf("record %s/%s: %w", ref.Collection, ref.ID, err)
	}
	if len(recs) == 0 {
		return nil, fmt.Errorf("record %s/%s: %w", ref.Collection, ref.ID, lethe.ErrNotFound)
	}
	return recs[0], nil
}

// RecordsBySubject returns the tenant's records holding any of the hashes,
// each once, with their subjects, ordered by collection and id. It reads
// through the (tenant, hash) index only.
func (s *Store) RecordsBySubject(ctx context.Context, tenant string, hashes [][]byte) ([]*lethe.Record, error) {
	if len(hashes) == 0 {
		return nil, nil
	}
	recs, err := s.queryRecords(ctx, true, withSubjects+` WHERE r.tenant = $1 AND r.rid IN (
			SELECT rec FROM subjects WHERE tenant = $1 AND hash = ANY($2::bytea[]))
		ORDER BY r.collection, r.id`, tenant, hashes)
	if err != nil {
		return nil, fmt.Errorf("records by subject of %s: %w", tenant, err)
	}
	return recs, nil
}

// ScanRecords pages through a collection in id order after afterID ("" for
// the start); limit <= 0 means 100. Subjects are not loaded on this path.
func (s *Store) ScanRecords(ctx context.Context, tenant, collection, afterID string, limit int) ([]*lethe.Record, error) {
	if limit <= 0 {
		limit = 100
	}
	recs, err := s.queryRecords(ctx, false, "SELECT "+recordCols+` FROM records r
		WHERE r.tenant = $1 AND r.collection = $2 AND r.id > $3 ORDER BY r.id LIMIT $4`,
		tenant, collection, afterID, limit)
	if err != nil {
		return nil, fmt.Errorf("scan %s/%s: %w", tenant, collection, err)
	}
	return recs, nil
}
