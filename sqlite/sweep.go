package sqlite

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"maps"
	"regexp"
	"time"

	"github.com/lethe-privacy/lethe"
)

// DueRecords returns up to limit records whose plan is due at or before
// now, oldest due first, across tenants. The query is a range scan of the
// partial index records_due. Subjects are not loaded on this path: the
// sweeper deletes or rewrites whole records and does not need them.
func (s *Store) DueRecords(ctx context.Context, now time.Time, limit int) ([]*lethe.Record, error) {
	if limit <= 0 {
		return nil, nil
	}
	rows, err := s.query(ctx, dueQuery, millis(now), limit)
	if err != nil {
		return nil, fmt.Errorf("due records: %w", err)
	}
	out, err := scanRecords(rows)
	if err != nil {
		return nil, fmt.Errorf("due records: %w", err)
	}
	return out, nil
}

// TenantDueRecords returns up to limit of one tenant's records due at or
// before now, oldest due first, through the records_tenant_due index.
func (s *Store) TenantDueRecords(ctx context.Context, tenant string, now time.Time, limit int) ([]*lethe.Record, error) {
	if limit <= 0 {
		return nil, nil
	}
	rows, err := s.query(ctx, "SELECT "+recordCols+` FROM records
		WHERE tenant = ? AND due_at IS NOT NULL AND due_at <= ? ORDER BY due_at LIMIT ?`, tenant, millis(now), limit)
	if err != nil {
		return nil, fmt.Errorf("due records of %s: %w", tenant, err)
	}
	out, err := scanRecords(rows)
	if err != nil {
		return nil, fmt.Errorf("due records of %s: %w", tenant, err)
	}
	return out, nil
}

// dueQuery is the sweeper's work queue (see DueRecords).
const dueQuery = "SELECT " + recordCols + ` FROM records
	WHERE due_at IS NOT NULL AND due_at <= ? ORDER BY due_at LIMIT ?`

// ApplyBatch performs deletes (records and their subjects), updates (as
// UpdateRecord) and audit entries in one durable transaction. A record of
// Deletes or Updates that no longer exists is skipped, not an error: a
// sweep retried after a crash finds part of its work already done.
func (s *Store) ApplyBatch(ctx context.Context, b *lethe.Batch) error {
	if b == nil {
		return nil
	}
	if err := lethe.CheckBatchAudit(b.Audit); err != nil {
		return fmt.Errorf("apply batch: %w", err)
	}
	err := s.write(ctx, func(tx *sql.Tx) error {
		p := newStmts(ctx, tx, s.whot)
		defer p.close()
		if err := checkLease(p, b.Lease); err != nil {
			return err
		}
		// Guarded deletes check in the DELETE itself; only the guarded
		// records that are not deleted need a read.
		rest := b.Unchanged
		for _, ref := range b.Deletes {
			at, guarded := b.Unchanged[ref]
			if !guarded {
				if _, err := deleteRecord(p, ref); err != nil {
					return err
				}
				continue
			}
			deleted, err := deleteRecordIf(p, ref, at)
			if err != nil {
				return err
			}
			if !deleted {
				return fmt.Errorf("%w: %s/%s was written or deleted since it was read", lethe.ErrConflict, ref.Collection, ref.ID)
			}
			if len(rest) == len(b.Unchanged) {
				rest = maps.Clone(b.Unchanged)
			}
			delete(rest, ref)
		}
		if err := checkUnchanged(p, rest); err != nil {
			return err
		}
		for _, r := range b.Updates {
			if _, err := s.updateRecord(p, r); err != nil {
				return err
			}
		}
		return s.appendAudit(p, b.Audit)
	})
	if err != nil {
		return fmt.Errorf("apply batch: %w", err)
	}
	return nil
}

// PlanSummary counts a tenant's planned actions due up to until, by
// collection, action and UTC day of the due time, ordered by day, then
// collection, then action.
func (s *Store) PlanSummary(ctx context.Context, tenant string, until time.Time) ([]lethe.PlanBucket, error) {
	rows, err := s.query(ctx, `SELECT collection, coalesce(plan_action, ''),
			strftime('%Y-%m-%d', due_at / 1000, 'unixepoch') AS day, count(*)
		FROM records WHERE tenant = ? AND due_at IS NOT NULL AND due_at <= ?
		GROUP BY day, collection, plan_action ORDER BY day, collection, plan_action`,
		tenant, millis(until))
	if err != nil {
		return nil, fmt.Errorf("plan summary of %s: %w", tenant, err)
	}
	defer rows.Close()
	var out []lethe.PlanBucket
	for rows.Next() {
		var (
			b      lethe.PlanBucket
			action string
		)
		if err := rows.Scan(&b.Collection, &action, &b.Day, &b.Count); err != nil {
			return nil, fmt.Errorf("plan summary of %s: %w", tenant, mapErr(err))
		}
		b.Action = lethe.Action(action)
		out = append(out, b)
	}
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("plan summary of %s: %w", tenant, mapErr(err))
	}
	return out, nil
}

// Overdue reports how many records are due at or before now and the due
// time of the oldest (zero when none), for the sweep-lag metric.
func (s *Store) Overdue(ctx context.Context, now time.Time) (int64, time.Time, error) {
	if s.isClosed() {
		return 0, time.Time{}, errClosed
	}
	var (
		n      int64
		oldest sql.NullInt64
	)
	err := s.queryRow(ctx, "SELECT count(*), min(due_at) FROM records WHERE due_at IS NOT NULL AND due_at <= ?",
		millis(now)).Scan(&n, &oldest)
	if err != nil {
		return 0, time.Time{}, fmt.Errorf("overdue: %w", mapErr(err))
	}
	if !oldest.Valid {
		return n, time.Time{}, nil
	}
	return n, fromMillis(oldest.Int64), nil
}

// statField is what Stats accepts as a field name: the name becomes part of
// a JSON path, so nothing but a plain identifier may reach it.
var statField = regexp.MustCompile(`^[a-z][a-z0-9_]*$`)

// Stats counts a collection's records grouped by a top-level plain field
// and, when perDay, by UTC creation day. Values come back as the JSON
// decoding gives them (string, int64, float64, bool), nil when the field is
// absent or null; an object or array value comes back as its JSON text.
// Rows are ordered by day, then value.
func (s *Store) Stats(ctx context.Context, tenant, collection, field string, perDay bool) ([]lethe.StatRow, error) {
	if !statField.MatchString(field) {
		return nil, fmt.Errorf("stats %s/%s: %w: field %q is not a plain field name", tenant, collection, lethe.ErrInvalid, field)
	}
	day := "''"
	if perDay {
		day = "strftime('%Y-%m-%d', created_at / 1000, 'unixepoch')"
	}
	path := "$." + field
	rows, err := s.query(ctx, `SELECT json_type(plain, ?1) AS t, json_extract(plain, ?1) AS v, `+day+` AS d, count(*)
		FROM records WHERE tenant = ?2 AND collection = ?3
		GROUP BY d, t, v ORDER BY d, v, t`, path, tenant, collection)
	if err != nil {
		return nil, fmt.Errorf("stats %s/%s: %w", tenant, collection, err)
	}
	defer rows.Close()
	var out []lethe.StatRow
	for rows.Next() {
		var (
			typ sql.NullString
			v   any
			row lethe.StatRow
		)
		if err := rows.Scan(&typ, &v, &row.Day, &row.Count); err != nil {
			return nil, fmt.Errorf("stats %s/%s: %w", tenant, collection, mapErr(err))
		}
		row.Value = statValue(typ.String, v)
		out = append(out, row)
	}
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("stats %s/%s: %w", tenant, collection, mapErr(err))
	}
	lethe.SortStatRows(out)
	return out, nil
}

// statValue turns json_extract's SQL value back into the JSON type it came
// from: SQLite answers true and false as 1 and 0, and objects as text.
func statValue(jsonType string, v any) any {
	switch jsonType {
	case "true":
		return true
	case "false":
		return false
	case "", "null":
		return nil
	}
	switch v := v.(type) {
	case []byte:
		return string(v)
	case int64, float64, string:
		return v
	}
	return v
}

// checkUnchanged fails with lethe.ErrConflict unless every record is still
// stored with the UpdatedAt its reader saw (see lethe.Batch.Unchanged).
// Inside the write transaction nothing can change in between.
func checkUnchanged(p *stmts, want map[lethe.RecordRef]time.Time) error {
	for ref, at := range want {
		var stored int64
		err := p.scanRow("SELECT updated_at FROM records WHERE tenant = ? AND collection = ? AND id = ?",
			[]any{ref.Tenant, ref.Collection, ref.ID}, &stored)
		if errors.Is(err, sql.ErrNoRows) {
			return fmt.Errorf("%w: %s/%s was deleted since it was read", lethe.ErrConflict, ref.Collection, ref.ID)
		}
		if err != nil {
			return err
		}
		if stored != millis(at) {
			return fmt.Errorf("%w: %s/%s was written since it was read", lethe.ErrConflict, ref.Collection, ref.ID)
		}
	}
	return nil
}
