package postgres

import (
	"context"
	"encoding/json"
	"fmt"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/lethe-privacy/lethe"
)

// requestCols are the columns scanRequest reads, in order.
const requestCols = `id, tenant, type, scope, scope_key, dry_run, actor, state, phase, cursor_collection, cursor_id,
	total, processed, result, receipt, error, export_chunks, export_expires_at, owner, lease_until,
	created_at, updated_at, finished_at`

func scanRequest(row pgx.Row) (*lethe.Request, error) {
	var (
		r                        lethe.Request
		scope                    []byte
		typ, state               string
		expires, lease, finished *time.Time
	)
	err := row.Scan(&r.ID, &r.Tenant, &typ, &scope, &r.ScopeKey, &r.DryRun, &r.Actor, &state, &r.Phase,
		&r.Cursor.Collection, &r.Cursor.ID, &r.Total, &r.Processed, &r.Result, &r.Receipt, &r.Error,
		&r.ExportChunks, &expires, &r.Owner, &lease, &r.CreatedAt, &r.UpdatedAt, &finished)
	if err != nil {
		return nil, err
	}
	r.Type, r.State = lethe.RequestType(typ), lethe.RequestState(state)
	if err := json.Unmarshal(scope, &r.Scope); err != nil {
		return nil, fmt.Errorf("request %s: scope: %w", r.ID, err)
	}
	r.CreatedAt, r.UpdatedAt = r.CreatedAt.UTC(), r.UpdatedAt.UTC()
	r.ExportExpiresAt, r.LeaseUntil, r.FinishedAt = fromNull(expires), fromNull(lease), fromNull(finished)
	return &r, nil
}

// CreateRequest inserts a pending job; when the partial unique index
// requests_active says an identical job is active, it returns that one.
// A concurrent identical insert waits for the first to commit and then
// does nothing; the lookup that follows sees the winner. Should the winner
// finish between the two statements, the insert is tried again.
func (s *Store) CreateRequest(ctx context.Context, r *lethe.Request) (*lethe.Request, bool, error) {
	if r == nil || r.ID == "" || r.Tenant == "" {
		return nil, false, fmt.Errorf("create request: %w: id and tenant required", lethe.ErrInvalid)
	}
	db, err := s.db()
	if err != nil {
		return nil, false, err
	}
	scope, err := json.Marshal(r.Scope)
	if err != nil {
		return nil, false, fmt.Errorf("create request: %w", err)
	}
	created := ms(s.orNow(r.CreatedAt))
	for range 5 {
		job, err := scanRequest(db.QueryRow(ctx, `INSERT INTO requests (id, tenant, type, scope, scope_key, dry_run,
				actor, state, result, created_at, updated_at)
			VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $10)
			ON CONFLICT (tenant, type, scope_key, dry_run) WHERE state IN ('pending', 'running') DO NOTHING
			RETURNING `+requestCols,
			r.ID, r.Tenant, string(r.Type), string(scope), r.ScopeKey, r.DryRun, r.Actor,
			string(lethe.RequestPending), r.Result, created))
		if err == nil {
			return job, true, nil
		}
		if !noRows(err) {
			return nil, false, fmt.Errorf("create request: %w", mapErr(err))
		}
		job, err = scanRequest(db.QueryRow(ctx, "SELECT "+requestCols+` FROM requests
			WHERE tenant = $1 AND type = $2 AND scope_key = $3 AND dry_run = $4 AND state IN ('pending', 'running')`,
			r.Tenant, string(r.Type), r.ScopeKey, r.DryRun))
		if err == nil {
			return job, false, nil
		}
		if !noRows(err) {
			return nil, false, fmt.Errorf("create request: %w", mapErr(err))
		}
	}
	return nil, false, fmt.Errorf("create request: %w: the identical active job kept changing", lethe.ErrUnavailable)
}

// Request reads one job of a tenant.
func (s *Store) Request(ctx context.Context, tenant, id string) (*lethe.Request, error) {
	db, err := s.db()
	if err != nil {
		return nil, err
	}
	r, err := scanRequest(db.QueryRow(ctx, "SELECT "+requestCols+" FROM requests WHERE tenant = $1 AND id = $2", tenant, id))
	if noRows(err) {
		return nil, fmt.Errorf("request %s: %w", id, lethe.ErrNotFound)
	}
	if err != nil {
		return nil, fmt.Errorf("request %s: %w", id, mapErr(err))
	}
	return r, nil
}

// ClaimRequest takes the oldest claimable job for owner. FOR UPDATE SKIP
// LOCKED lets runners of several instances claim at once without waiting
// for each other: a job another runner is claiming is skipped, and one it
// claimed in the meantime no longer matches when rechecked, so no job is
// handed to two owners.
func (s *Store) ClaimRequest(ctx context.Context, owner string, now, leaseUntil time.Time) (*lethe.Request, error) {
	db, err := s.db()
	if err != nil {
		return nil, err
	}
	out, err := scanRequest(db.QueryRow(ctx, `UPDATE requests SET state = 'running', owner = $1, lease_until = $2, updated_at = $3
		WHERE id = (SELECT id FROM requests WHERE state IN ('pending', 'running')
			AND (state = 'pending' OR lease_until IS NULL OR lease_until <= $3)
			ORDER BY created_at, id LIMIT 1 FOR UPDATE SKIP LOCKED)
		RETURNING `+requestCols, owner, ms(leaseUntil), ms(now)))
	if noRows(err) {
		return nil, lethe.ErrNotFound
	}
	if err != nil {
		return nil, fmt.Errorf("claim request: %w", mapErr(err))
	}
	return out, nil
}

// ApplyRequestBatch applies one batch of request work and the job's
// progress in one transaction; ErrConflict when the job's owner changed.
// The progress update comes first and locks the job's row, so a runner
// taking the job over waits until this batch has committed.
func (s *Store) ApplyRequestBatch(ctx context.Context, b *lethe.RequestBatch) error {
	if b == nil || b.Job == nil {
		return fmt.Errorf("apply request batch: %w: no job", lethe.ErrInvalid)
	}
	if err := lethe.CheckBatchAudit(b.Audit); err != nil {
		return fmt.Errorf("apply request batch: %w", err)
	}
	j := b.Job
	err := s.tx(ctx, func(tx pgx.Tx) error {
		tag, err := tx.Exec(ctx, `UPDATE requests SET state = $1, phase = $2, cursor_collection = $3, cursor_id = $4,
				total = $5, processed = $6, result = $7, receipt = $8, error = $9, export_chunks = $10,
				export_expires_at = $11, lease_until = $12, updated_at = $13, finished_at = $14
			WHERE id = $15 AND tenant = $16 AND owner = $17`,
			string(j.State), j.Phase, j.Cursor.Collection, j.Cursor.ID, j.Total, j.Processed, j.Result,
			j.Receipt, j.Error, j.ExportChunks, nullTime(j.ExportExpiresAt), nullTime(j.LeaseUntil),
			ms(s.orNow(j.UpdatedAt)), nullTime(j.FinishedAt), j.ID, j.Tenant, j.Owner)
		if err != nil {
			return err
		}
		if tag.RowsAffected() != 1 {
			return fmt.Errorf("%w: request %s is no longer held by this runner", lethe.ErrConflict, j.ID)
		}
		if _, err := deleteRecords(ctx, tx, b.Deletes); err != nil {
			return err
		}
		if _, err := s.updateRecords(ctx, tx, b.Updates); err != nil {
			return err
		}
		if err := insertItems(ctx, tx, j, b.Items); err != nil {
			return err
		}
		if b.Chunk != nil {
			if _, err := tx.Exec(ctx, "INSERT INTO request_exports (request, idx, body) VALUES ($1, $2, $3)",
				j.ID, j.ExportChunks-1, b.Chunk); err != nil {
				return err
			}
		}
		return s.appendAudit(ctx, tx, b.Audit)
	})
	if err != nil {
		return fmt.Errorf("apply request batch %s: %w", j.ID, err)
	}
	return nil
}

// insertItems writes a batch's items in one statement, in their order.
func insertItems(ctx context.Context, q querier, j *lethe.Request, items []lethe.RequestItem) error {
	if len(items) == 0 {
		return nil
	}
	n := len(items)
	var (
		colls, recIDs, actions, reasons = make([]string, n), make([]string, n), make([]string, n), make([]string, n)
		fields                          = make([]string, n) // each item's fields as a JSON array
		untils                          = make([]*time.Time, n)
	)
	// Arrays of arrays must be rectangular in PostgreSQL, so each item's
	// field list travels as a JSON array and is unpacked in SQL.
	for i, it := range items {
		fj, err := json.Marshal(nonNil(it.Fields))
		if err != nil {
			return err
		}
		colls[i], recIDs[i], actions[i], reasons[i] = it.Collection, it.RecordID, string(it.Action), it.Reason
		fields[i], untils[i] = string(fj), nullTime(it.Until)
	}
	_, err := q.Exec(ctx, `INSERT INTO request_items (request, tenant, collection, record_id, action, fields, reason, until)
		SELECT $1, $2, i.collection, i.record_id, i.action,
			ARRAY(SELECT jsonb_array_elements_text(i.fields)), i.reason, i.until
		FROM unnest($3::text[], $4::text[], $5::text[], $6::jsonb[], $7::text[], $8::timestamptz[])
			WITH ORDINALITY AS i(collection, record_id, action, fields, reason, until, ord)
		ORDER BY i.ord`,
		j.ID, j.Tenant, colls, recIDs, actions, fields, reasons, untils)
	return err
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
		recs []*lethe.Record
		err  error
	)
	if q.Origin == "" {
		recs, err = s.queryRecords(ctx, false, "SELECT "+recordCols+` FROM records r
			WHERE r.tenant = $1 AND (r.collection, r.id) > ($2, $3) ORDER BY r.collection, r.id LIMIT $4`,
			q.Tenant, q.After.Collection, q.After.ID, q.Limit)
	} else {
		recs, err = s.queryRecords(ctx, false, "SELECT "+recordCols+` FROM records r
			WHERE r.tenant = $1 AND r.origin = $2 AND (r.collection, r.id) > ($3, $4) ORDER BY r.collection, r.id LIMIT $5`,
			q.Tenant, q.Origin, q.After.Collection, q.After.ID, q.Limit)
	}
	if err != nil {
		return nil, fmt.Errorf("scope records of %s: %w", q.Tenant, err)
	}
	return recs, nil
}

// CountScope counts a tenant's records, or one origin's.
func (s *Store) CountScope(ctx context.Context, tenant, origin string) (int64, error) {
	db, err := s.db()
	if err != nil {
		return 0, err
	}
	var n int64
	if origin == "" {
		err = db.QueryRow(ctx, "SELECT count(*) FROM records WHERE tenant = $1", tenant).Scan(&n)
	} else {
		err = db.QueryRow(ctx, "SELECT count(*) FROM records WHERE tenant = $1 AND origin = $2", tenant, origin).Scan(&n)
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
	db, err := s.db()
	if err != nil {
		return nil, err
	}
	rows, err := db.Query(ctx, `SELECT seq, collection, record_id, action, fields, reason, until FROM request_items
		WHERE request = $1 AND tenant = $2 AND seq > $3 AND ($4 = '' OR action = $4) ORDER BY seq LIMIT $5`,
		q.Request, q.Tenant, q.AfterSeq, string(q.Action), q.Limit)
	if err != nil {
		return nil, fmt.Errorf("request items %s: %w", q.Request, mapErr(err))
	}
	out, err := pgx.CollectRows(rows, func(row pgx.CollectableRow) (lethe.RequestItem, error) {
		var (
			it     lethe.RequestItem
			action string
			until  *time.Time
		)
		if err := row.Scan(&it.Seq, &it.Collection, &it.RecordID, &action, &it.Fields, &it.Reason, &until); err != nil {
			return it, err
		}
		it.Action, it.Until = lethe.Action(action), fromNull(until)
		return it, nil
	})
	if err != nil {
		return nil, fmt.Errorf("request items %s: %w", q.Request, mapErr(err))
	}
	return out, nil
}

// ExportChunk reads one sealed export chunk of a tenant's job.
func (s *Store) ExportChunk(ctx context.Context, tenant, request string, index int) ([]byte, error) {
	db, err := s.db()
	if err != nil {
		return nil, err
	}
	var body []byte
	err = db.QueryRow(ctx, `SELECT e.body FROM request_exports e JOIN requests r ON r.id = e.request
		WHERE r.tenant = $1 AND e.request = $2 AND e.idx = $3 AND r.export_chunks > 0`, tenant, request, index).Scan(&body)
	if noRows(err) {
		return nil, fmt.Errorf("export chunk %s/%d: %w", request, index, lethe.ErrNotFound)
	}
	if err != nil {
		return nil, fmt.Errorf("export chunk %s/%d: %w", request, index, mapErr(err))
	}
	return body, nil
}

// DeleteExpiredExports removes expired exports' chunks, and marks their
// jobs as holding none, in one statement.
func (s *Store) DeleteExpiredExports(ctx context.Context, now time.Time) (int, error) {
	db, err := s.db()
	if err != nil {
		return 0, err
	}
	var n int
	err = db.QueryRow(ctx, `WITH u AS (
			UPDATE requests SET export_chunks = 0, updated_at = $1
			WHERE export_chunks > 0 AND export_expires_at <= $1 RETURNING id),
		d AS (DELETE FROM request_exports WHERE request IN (SELECT id FROM u))
		SELECT count(*) FROM u`, ms(now)).Scan(&n)
	if err != nil {
		return 0, fmt.Errorf("delete expired exports: %w", mapErr(err))
	}
	return n, nil
}

// Origins lists a tenant's record origins with their oldest record.
func (s *Store) Origins(ctx context.Context, tenant string) ([]lethe.OriginStat, error) {
	db, err := s.db()
	if err != nil {
		return nil, err
	}
	rows, err := db.Query(ctx, `SELECT origin, min(created_at), count(*) FROM records
		WHERE tenant = $1 AND origin <> '' GROUP BY origin ORDER BY origin`, tenant)
	if err != nil {
		return nil, fmt.Errorf("origins of %s: %w", tenant, mapErr(err))
	}
	out, err := pgx.CollectRows(rows, func(row pgx.CollectableRow) (lethe.OriginStat, error) {
		var o lethe.OriginStat
		err := row.Scan(&o.Origin, &o.First, &o.Records)
		o.First = o.First.UTC()
		return o, err
	})
	if err != nil {
		return nil, fmt.Errorf("origins of %s: %w", tenant, mapErr(err))
	}
	return out, nil
}
