package postgres

import (
	"context"
	"fmt"
	"regexp"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/lethe-privacy/lethe"
)

// DueRecords returns up to limit records whose plan is due at or before
// now, oldest due first, across tenants: a range scan of the partial index
// records_due. Subjects are not loaded on this path: the sweeper deletes or
// rewrites whole records and does not need them.
func (s *Store) DueRecords(ctx context.Context, now time.Time, limit int) ([]*lethe.Record, error) {
	if limit <= 0 {
		return nil, nil
	}
	recs, err := s.queryRecords(ctx, false, "SELECT "+recordCols+` FROM records r
		WHERE r.due_at IS NOT NULL AND r.due_at <= $1 ORDER BY r.due_at LIMIT $2`, ms(now), limit)
	if err != nil {
		return nil, fmt.Errorf("due records: %w", err)
	}
	return recs, nil
}

// TenantDueRecords returns up to limit of one tenant's records due at or
// before now, oldest due first, through the records_tenant_due index.
func (s *Store) TenantDueRecords(ctx context.Context, tenant string, now time.Time, limit int) ([]*lethe.Record, error) {
	if limit <= 0 {
		return nil, nil
	}
	recs, err := s.queryRecords(ctx, false, "SELECT "+recordCols+` FROM records r
		WHERE r.tenant = $1 AND r.due_at IS NOT NULL AND r.due_at <= $2 ORDER BY r.due_at LIMIT $3`, tenant, ms(now), limit)
	if err != nil {
		return nil, fmt.Errorf("due records of %s: %w", tenant, err)
	}
	return recs, nil
}

// ApplyBatch performs deletes (records and their subjects), updates (as
// UpdateRecord) and audit entries in one transaction. A record of Deletes
// or Updates that no longer exists is skipped, not an error: a sweep
// retried after a crash finds part of its work already done.
//
// With b.Lease set, the transaction first reads the lease row FOR SHARE:
// it fails with lethe.ErrLeaseLost unless the lease still names its owner,
// and a TakeLease by another instance waits until the batch has committed,
// so no batch applies after its lease was taken over.
func (s *Store) ApplyBatch(ctx context.Context, b *lethe.Batch) error {
	if b == nil {
		return nil
	}
	if err := lethe.CheckBatchAudit(b.Audit); err != nil {
		return fmt.Errorf("apply batch: %w", err)
	}
	err := s.tx(ctx, func(tx pgx.Tx) error {
		if err := checkLease(ctx, tx, b.Lease); err != nil {
			return err
		}
		if err := checkUnchanged(ctx, tx, b.Unchanged); err != nil {
			return err
		}
		if _, err := deleteRecords(ctx, tx, b.Deletes); err != nil {
			return err
		}
		if _, err := s.updateRecords(ctx, tx, b.Updates); err != nil {
			return err
		}
		return s.appendAudit(ctx, tx, b.Audit)
	})
	if err != nil {
		return fmt.Errorf("apply batch: %w", err)
	}
	return nil
}

// checkUnchanged fails with lethe.ErrConflict unless every record is still
// stored with the UpdatedAt its reader saw (see lethe.Batch.Unchanged). The
// matching rows are locked FOR UPDATE, so no writer can change them
// between this check and the batch's own writes.
func checkUnchanged(ctx context.Context, tx pgx.Tx, want map[lethe.RecordRef]time.Time) error {
	if len(want) == 0 {
		return nil
	}
	n := len(want)
	tenants, colls, ids, updated := make([]string, 0, n), make([]string, 0, n), make([]string, 0, n), make([]time.Time, 0, n)
	for ref, at := range want {
		tenants, colls, ids = append(tenants, ref.Tenant), append(colls, ref.Collection), append(ids, ref.ID)
		updated = append(updated, ms(at))
	}
	rows, err := tx.Query(ctx, `SELECT r.rid FROM records r
		JOIN unnest($1::text[], $2::text[], $3::text[], $4::timestamptz[]) AS u(tenant, collection, id, updated_at)
			ON r.tenant = u.tenant AND r.collection = u.collection AND r.id = u.id AND r.updated_at = u.updated_at
		ORDER BY r.rid FOR UPDATE OF r`, tenants, colls, ids, updated)
	if err != nil {
		return mapErr(err)
	}
	found := 0
	for rows.Next() {
		found++
	}
	if err := rows.Err(); err != nil {
		return mapErr(err)
	}
	if found != n {
		return fmt.Errorf("%w: %d of %d records were written or deleted since they were read", lethe.ErrConflict, n-found, n)
	}
	return nil
}

// UpdatePlans rewrites only the plan columns of records, with one
// statement over arrays of the updates. Each rewrite is guarded by the
// record's UpdatedAt (at the stored millisecond precision): a record
// written since its plan was computed keeps the plan its own write set.
// Missing records are skipped. It returns how many rows changed.
func (s *Store) UpdatePlans(ctx context.Context, updates []lethe.PlanUpdate) (int, error) {
	if len(updates) == 0 {
		return 0, nil
	}
	db, err := s.db()
	if err != nil {
		return 0, err
	}
	n := len(updates)
	var (
		tenants, colls, ids = make([]string, n), make([]string, n), make([]string, n)
		updated             = make([]time.Time, n)
		actions, rules      = make([]*string, n), make([]*string, n)
		dues                = make([]*time.Time, n)
	)
	for i, u := range updates {
		tenants[i], colls[i], ids[i] = u.Ref.Tenant, u.Ref.Collection, u.Ref.ID
		updated[i] = ms(u.UpdatedAt)
		actions[i], rules[i], dues[i] = planCols(u.Plan)
	}
	tag, err := db.Exec(ctx, `UPDATE records r SET plan_action = u.action, plan_rule = u.rule, due_at = u.due
		FROM unnest($1::text[], $2::text[], $3::text[], $4::timestamptz[], $5::text[], $6::text[], $7::timestamptz[])
			AS u(tenant, collection, id, updated_at, action, rule, due)
		WHERE r.tenant = u.tenant AND r.collection = u.collection AND r.id = u.id AND r.updated_at = u.updated_at`,
		tenants, colls, ids, updated, actions, rules, dues)
	if err != nil {
		return 0, fmt.Errorf("update plans: %w", mapErr(err))
	}
	return int(tag.RowsAffected()), nil
}

// PlanSummary counts a tenant's planned actions due up to until, by
// collection, action and UTC day of the due time, ordered by day, then
// collection, then action.
func (s *Store) PlanSummary(ctx context.Context, tenant string, until time.Time) ([]lethe.PlanBucket, error) {
	db, err := s.db()
	if err != nil {
		return nil, err
	}
	rows, err := db.Query(ctx, `SELECT collection, coalesce(plan_action, ''),
			to_char(due_at AT TIME ZONE 'UTC', 'YYYY-MM-DD') AS day, count(*)
		FROM records WHERE tenant = $1 AND due_at IS NOT NULL AND due_at <= $2
		GROUP BY day, collection, plan_action ORDER BY day, collection, plan_action`, tenant, ms(until))
	if err != nil {
		return nil, fmt.Errorf("plan summary of %s: %w", tenant, mapErr(err))
	}
	out, err := pgx.CollectRows(rows, func(row pgx.CollectableRow) (lethe.PlanBucket, error) {
		var (
			b      lethe.PlanBucket
			action string
		)
		err := row.Scan(&b.Collection, &action, &b.Day, &b.Count)
		b.Action = lethe.Action(action)
		return b, err
	})
	if err != nil {
		return nil, fmt.Errorf("plan summary of %s: %w", tenant, mapErr(err))
	}
	return out, nil
}

// Overdue reports how many records are due at or before now and the due
// time of the oldest (zero when none), for the sweep-lag metric.
func (s *Store) Overdue(ctx context.Context, now time.Time) (int64, time.Time, error) {
	db, err := s.db()
	if err != nil {
		return 0, time.Time{}, err
	}
	var (
		n      int64
		oldest *time.Time
	)
	err = db.QueryRow(ctx, "SELECT count(*), min(due_at) FROM records WHERE due_at IS NOT NULL AND due_at <= $1",
		ms(now)).Scan(&n, &oldest)
	if err != nil {
		return 0, time.Time{}, fmt.Errorf("overdue: %w", mapErr(err))
	}
	return n, fromNull(oldest), nil
}

// statField is what Stats accepts as a field name: a plain identifier, as
// the SQLite store requires (there it becomes part of a JSON path; here it
// is a bound parameter either way).
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
	db, err := s.db()
	if err != nil {
		return nil, err
	}
	day := "''"
	if perDay {
		day = "to_char(created_at AT TIME ZONE 'UTC', 'YYYY-MM-DD')"
	}
	rows, err := db.Query(ctx, `SELECT jsonb_typeof(v), v #>> '{}', d, n FROM (
			SELECT plain -> $3::text AS v, `+day+` AS d, count(*) AS n
			FROM records WHERE tenant = $1 AND collection = $2 GROUP BY 1, 2) g
		ORDER BY d`, tenant, collection, field)
	if err != nil {
		return nil, fmt.Errorf("stats %s/%s: %w", tenant, collection, mapErr(err))
	}
	out, err := pgx.CollectRows(rows, func(row pgx.CollectableRow) (lethe.StatRow, error) {
		var (
			typ  *string
			text *string
			r    lethe.StatRow
		)
		if err := row.Scan(&typ, &text, &r.Day, &r.Count); err != nil {
			return r, err
		}
		if typ != nil {
			r.Value = statValue(*typ, text)
		}
		return r, nil
	})
	if err != nil {
		return nil, fmt.Errorf("stats %s/%s: %w", tenant, collection, mapErr(err))
	}
	lethe.SortStatRows(out)
	return out, nil
}
