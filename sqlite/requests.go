package sqlite

import (
	"context"
	"database/sql"
	"encoding/json"
	"errors"
	"fmt"
	"time"

	"github.com/lethe-privacy/lethe"
)

// requestCols are the columns scanRequest reads, in order.
const requestCols = `id, tenant, type, scope, scope_key, dry_run, actor, state, phase, cursor_collection, cursor_id,
	total, processed, result, receipt, error, export_chunks, export_expires_at, owner, lease_until,
	created_at, updated_at, finished_at`

func scanRequest(sc rowScanner) (*lethe.Request, error) {
	var (
		r                        lethe.Request
		scope                    string
		dry                      int
		result                   sql.NullString
		expires, lease, finished sql.NullInt64
		created, updated         int64
		typ, state               string
	)
	err := sc.Scan(&r.ID, &r.Tenant, &typ, &scope, &r.ScopeKey, &dry, &r.Actor, &state, &r.Phase,
		&r.Cursor.Collection, &r.Cursor.ID, &r.Total, &r.Processed, &result, &r.Receipt, &r.Error,
		&r.ExportChunks, &expires, &r.Owner, &lease, &created, &updated, &finished)
	if err != nil {
		return nil, err
	}
	r.Type, r.State, r.DryRun = lethe.RequestType(typ), lethe.RequestState(state), dry != 0
	if err := json.Unmarshal([]byte(scope), &r.Scope); err != nil {
		return nil, fmt.Errorf("request %s: scope: %w", r.ID, err)
	}
	if result.Valid {
		r.Result = []byte(result.String)
	}
	r.CreatedAt, r.UpdatedAt = fromMillis(created), fromMillis(updated)
	if expires.Valid {
		r.ExportExpiresAt = fromMillis(expires.Int64)
	}
	if lease.Valid {
		r.LeaseUntil = fromMillis(lease.Int64)
	}
	if finished.Valid {
		r.FinishedAt = fromMillis(finished.Int64)
	}
	return &r, nil
}

func nullText(b []byte) sql.NullString {
	if b == nil {
		return sql.NullString{}
	}
	return sql.NullString{String: string(b), Valid: true}
}

func boolInt(b bool) int {
	if b {
		return 1
	}
	return 0
}

// CreateRequest inserts a pending job; when the partial unique index
// requests_active says an identical job is active, it returns that one.
// Insert and lookup share one write transaction, so the job returned is
// the one that blocked the insert.
func (s *Store) CreateRequest(ctx context.Context, r *lethe.Request) (*lethe.Request, bool, error) {
	scope, err := json.Marshal(r.Scope)
	if err != nil {
		return nil, false, fmt.Errorf("create request: %w", err)
	}
	created := s.orNow(r.CreatedAt)
	var (
		out *lethe.Request
		ok  bool
	)
	err = s.write(ctx, func(tx *sql.Tx) error {
		res, err := tx.ExecContext(ctx, `INSERT INTO requests (id, tenant, type, scope, scope_key, dry_run, actor, state,
				result, created_at, updated_at)
			VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?) ON CONFLICT (tenant, type, scope_key, dry_run)
			WHERE state IN ('pending', 'running') DO NOTHING`,
			r.ID, r.Tenant, string(r.Type), string(scope), r.ScopeKey, boolInt(r.DryRun), r.Actor,
			string(lethe.RequestPending), nullText(r.Result), millis(created), millis(created))
		if err != nil {
			return err
		}
		n, err := res.RowsAffected()
		if err != nil {
			return err
		}
		ok = n == 1
		q := "SELECT " + requestCols + " FROM requests WHERE id = ?"
		args := []any{r.ID}
		if !ok {
			q = "SELECT " + requestCols + ` FROM requests WHERE tenant = ? AND type = ? AND scope_key = ? AND dry_run = ?
				AND state IN ('pending', 'running')`
			args = []any{r.Tenant, string(r.Type), r.ScopeKey, boolInt(r.DryRun)}
		}
		out, err = scanRequest(tx.QueryRowContext(ctx, q, args...))
		return err
	})
	if err != nil {
		return nil, false, fmt.Errorf("create request: %w", err)
	}
	return out, ok, nil
}

// Request reads one job of a tenant.
func (s *Store) Request(ctx context.Context, tenant, id string) (*lethe.Request, error) {
	if s.isClosed() {
		return nil, errClosed
	}
	r, err := scanRequest(s.queryRow(ctx, "SELECT "+requestCols+" FROM requests WHERE tenant = ? AND id = ?", tenant, id))
	if errors.Is(err, sql.ErrNoRows) {
		return nil, fmt.Errorf("request %s: %w", id, lethe.ErrNotFound)
	}
	if err != nil {
		return nil, fmt.Errorf("request %s: %w", id, mapErr(err))
	}
	return r, nil
}

// ClaimRequest takes the oldest claimable job for owner.
func (s *Store) ClaimRequest(ctx context.Context, owner string, now, leaseUntil time.Time) (*lethe.Request, error) {
	var out *lethe.Request
	err := s.write(ctx, func(tx *sql.Tx) error {
		var err error
		out, err = scanRequest(tx.QueryRowContext(ctx, `UPDATE requests SET state = 'running', owner = ?, lease_until = ?, updated_at = ?
			WHERE id = (SELECT id FROM requests WHERE state IN ('pending', 'running')
				AND (state = 'pending' OR lease_until IS NULL OR lease_until <= ?) ORDER BY created_at, id LIMIT 1)
			RETURNING `+requestCols, owner, millis(leaseUntil), millis(now), millis(now)))
		return err
	})
	if errors.Is(err, sql.ErrNoRows) {
		return nil, lethe.ErrNotFound
	}
	if err != nil {
		return nil, fmt.Errorf("claim request: %w", err)
	}
	return out, nil
}

// ApplyRequestBatch applies one batch of request work and the job's
// progress in one transaction; ErrConflict when the job's owner changed.
func (s *Store) ApplyRequestBatch(ctx context.Context, b *lethe.RequestBatch) error {
	if b == nil || b.Job == nil {
		return fmt.Errorf("apply request batch: %w: no job", lethe.ErrInvalid)
	}
	if err := lethe.CheckBatchAudit(b.Audit); err != nil {
		return fmt.Errorf("apply request batch: %w", err)
	}
	j := b.Job
	err := s.write(ctx, func(tx *sql.Tx) error {
		p := newStmts(ctx, tx, s.whot)
		defer p.close()
		res, err := p.exec(`UPDATE requests SET state = ?, phase = ?, cursor_collection = ?, cursor_id = ?, total = ?,
				processed = ?, result = ?, receipt = ?, error = ?, export_chunks = ?, export_expires_at = ?,
				lease_until = ?, updated_at = ?, finished_at = ?
			WHERE id = ? AND tenant = ? AND owner = ?`,
			string(j.State), j.Phase, j.Cursor.Collection, j.Cursor.ID, j.Total, j.Processed, nullText(j.Result),
			j.Receipt, j.Error, j.ExportChunks, nullMillis(j.ExportExpiresAt), nullMillis(j.LeaseUntil),
			millis(s.orNow(j.UpdatedAt)), nullMillis(j.FinishedAt), j.ID, j.Tenant, j.Owner)
		if err != nil {
			return err
		}
		if n, err := res.RowsAffected(); err != nil {
			return err
		} else if n != 1 {
			return fmt.Errorf("%w: request %s is no longer held by this runner", lethe.ErrConflict, j.ID)
		}
		for _, ref := range b.Deletes {
			if _, err := deleteRecord(p, ref); err != nil {
				return err
			}
		}
		for _, r := range b.Updates {
			if _, err := s.updateRecord(p, r); err != nil {
				return err
			}
		}
		for _, it := range b.Items {
			fields, err := json.Marshal(nonNil(it.Fields))
			if err != nil {
				return err
			}
			if _, err := p.exec(`INSERT INTO request_items (request, tenant, collection, record_id, action, fields, reason, until)
				VALUES (?, ?, ?, ?, ?, ?, ?, ?)`, j.ID, j.Tenant, it.Collection, it.RecordID, string(it.Action),
				string(fields), it.Reason, nullMillis(it.Until)); err != nil {
				return err
			}
		}
		if b.Chunk != nil {
			if _, err := p.exec("INSERT INTO request_exports (request, idx, body) VALUES (?, ?, ?)",
				j.ID, j.ExportChunks-1, b.Chunk); err != nil {
				return err
			}
		}
		return s.appendAudit(p, b.Audit)
	})
	if err != nil {
		return fmt.Errorf("apply request batch %s: %w", j.ID, err)
	}
	return nil
}

func nonNil(s []string) []string {
	if s == nil {
		return []string{}
	}
	return s
}

// ScopeRecords pages through a tenant's records (or one origin's) in
// (collection, id) order, on the records_ref or records_origin index.
func (s *Store) ScopeRecords(ctx context.Context, q lethe.ScopeQuery) ([]*lethe.Record, error) {
	if q.Limit <= 0 {
		return nil, nil
	}
	var (
		rows *sql.Rows
		err  error
	)
	if q.Origin == "" {
		rows, err = s.query(ctx, "SELECT "+recordCols+` FROM records WHERE tenant = ? AND (collection, id) > (?, ?)
			ORDER BY collection, id LIMIT ?`, q.Tenant, q.After.Collection, q.After.ID, q.Limit)
	} else {
		rows, err = s.query(ctx, "SELECT "+recordCols+` FROM records WHERE tenant = ? AND origin = ? AND (collection, id) > (?, ?)
			ORDER BY collection, id LIMIT ?`, q.Tenant, q.Origin, q.After.Collection, q.After.ID, q.Limit)
	}
	if err != nil {
		return nil, fmt.Errorf("scope records of %s: %w", q.Tenant, err)
	}
	out, err := scanRecords(rows)
	if err != nil {
		return nil, fmt.Errorf("scope records of %s: %w", q.Tenant, mapErr(err))
	}
	return out, nil
}

// CountScope counts a tenant's records, or one origin's.
func (s *Store) CountScope(ctx context.Context, tenant, origin string) (int64, error) {
	if s.isClosed() {
		return 0, errClosed
	}
	var n int64
	var err error
	if origin == "" {
		err = s.queryRow(ctx, "SELECT count(*) FROM records WHERE tenant = ?", tenant).Scan(&n)
	} else {
		err = s.queryRow(ctx, "SELECT count(*) FROM records WHERE tenant = ? AND origin = ?", tenant, origin).Scan(&n)
	}
	if err != nil {
		return 0, fmt.Errorf("count scope of %s: %w", tenant, mapErr(err))
	}
	return n, nil
}

// RequestItems pages through a job's items.
func (s *Store) RequestItems(ctx context.Context, q lethe.ItemQuery) ([]lethe.RequestItem, error) {
	if q.Limit <= 0 {
		return nil, nil
	}
	rows, err := s.query(ctx, `SELECT seq, collection, record_id, action, fields, reason, until FROM request_items
		WHERE request = ? AND tenant = ? AND seq > ? AND (? = '' OR action = ?) ORDER BY seq LIMIT ?`,
		q.Request, q.Tenant, q.AfterSeq, string(q.Action), string(q.Action), q.Limit)
	if err != nil {
		return nil, fmt.Errorf("request items %s: %w", q.Request, err)
	}
	defer rows.Close()
	var out []lethe.RequestItem
	for rows.Next() {
		var (
			it     lethe.RequestItem
			action string
			fields string
			until  sql.NullInt64
		)
		if err := rows.Scan(&it.Seq, &it.Collection, &it.RecordID, &action, &fields, &it.Reason, &until); err != nil {
			return nil, fmt.Errorf("request items %s: %w", q.Request, mapErr(err))
		}
		it.Action = lethe.Action(action)
		if err := json.Unmarshal([]byte(fields), &it.Fields); err != nil {
			return nil, fmt.Errorf("request items %s: fields: %w", q.Request, err)
		}
		if until.Valid {
			it.Until = fromMillis(until.Int64)
		}
		out = append(out, it)
	}
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("request items %s: %w", q.Request, mapErr(err))
	}
	return out, nil
}

// ExportChunk reads one sealed export chunk of a tenant's job.
func (s *Store) ExportChunk(ctx context.Context, tenant, request string, index int) ([]byte, error) {
	if s.isClosed() {
		return nil, errClosed
	}
	var body []byte
	err := s.queryRow(ctx, `SELECT e.body FROM request_exports e JOIN requests r ON r.id = e.request
		WHERE r.tenant = ? AND e.request = ? AND e.idx = ? AND r.export_chunks > 0`, tenant, request, index).Scan(&body)
	if errors.Is(err, sql.ErrNoRows) {
		return nil, fmt.Errorf("export chunk %s/%d: %w", request, index, lethe.ErrNotFound)
	}
	if err != nil {
		return nil, fmt.Errorf("export chunk %s/%d: %w", request, index, mapErr(err))
	}
	return body, nil
}

// DeleteExpiredExports removes expired exports' chunks.
func (s *Store) DeleteExpiredExports(ctx context.Context, now time.Time) (int, error) {
	var n int
	err := s.write(ctx, func(tx *sql.Tx) error {
		rows, err := tx.QueryContext(ctx, `UPDATE requests SET export_chunks = 0, updated_at = ?
			WHERE export_chunks > 0 AND export_expires_at <= ? RETURNING id`, millis(now), millis(now))
		if err != nil {
			return err
		}
		var ids []string
		for rows.Next() {
			var id string
			if err := rows.Scan(&id); err != nil {
				rows.Close()
				return err
			}
			ids = append(ids, id)
		}
		rows.Close()
		if err := rows.Err(); err != nil {
			return err
		}
		for _, id := range ids {
			if _, err := tx.ExecContext(ctx, "DELETE FROM request_exports WHERE request = ?", id); err != nil {
				return err
			}
		}
		n = len(ids)
		return nil
	})
	if err != nil {
		return 0, fmt.Errorf("delete expired exports: %w", err)
	}
	return n, nil
}

// Origins lists a tenant's record origins with their oldest record.
func (s *Store) Origins(ctx context.Context, tenant string) ([]lethe.OriginStat, error) {
	rows, err := s.query(ctx, `SELECT origin, min(created_at), count(*) FROM records
		WHERE tenant = ? AND origin != '' GROUP BY origin ORDER BY origin`, tenant)
	if err != nil {
		return nil, fmt.Errorf("origins of %s: %w", tenant, err)
	}
	defer rows.Close()
	var out []lethe.OriginStat
	for rows.Next() {
		var (
			o     lethe.OriginStat
			first int64
		)
		if err := rows.Scan(&o.Origin, &first, &o.Records); err != nil {
			return nil, fmt.Errorf("origins of %s: %w", tenant, mapErr(err))
		}
		o.First = fromMillis(first)
		out = append(out, o)
	}
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("origins of %s: %w", tenant, mapErr(err))
	}
	return out, nil
}
