package postgres

import (
	"context"
	"fmt"

	"github.com/jackc/pgx/v5"
	"github.com/lethe-privacy/lethe"
)

// updateRecordSQL rewrites a record and removes its old subjects in one
// statement; it returns the rid, or no row when the record is absent.
const updateRecordSQL = `WITH u AS (
		UPDATE records SET origin = $4, updated_at = $5, state = $6, plain = $7, sealed = $8,
			plan_action = $9, plan_rule = $10, due_at = $11, embedding = $12
		WHERE tenant = $1 AND collection = $2 AND id = $3 RETURNING rid),
	d AS (DELETE FROM subjects WHERE rec IN (SELECT rid FROM u))
	SELECT rid FROM u`

// insertSubjectsSQL writes a record's new subjects from four arrays. It is
// a statement of its own, after updateRecordSQL, so that a subject the
// record keeps (its own voucher code) is not checked against its own old
// row. A record that is absent gets none.
const insertSubjectsSQL = `INSERT INTO subjects (rec, pos, tenant, collection, kind, field, hash, uniq)
	SELECT r.rid, s.pos - 1, r.tenant, r.collection, s.kind, s.field, s.hash, s.uniq
	FROM records r,
		unnest($4::text[], $5::text[], $6::bytea[], $7::boolean[]) WITH ORDINALITY AS s(kind, field, hash, uniq, pos)
	WHERE r.tenant = $1 AND r.collection = $2 AND r.id = $3`

// deleteRecordsSQL removes records and their subjects in one statement and
// counts the records removed.
const deleteRecordsSQL = `WITH d AS (
		DELETE FROM records WHERE (tenant, collection, id) IN (
			SELECT * FROM unnest($1::text[], $2::text[], $3::text[]))
		RETURNING rid),
	s AS (DELETE FROM subjects WHERE rec IN (SELECT rid FROM d))
	SELECT count(*) FROM d`

// UpdateRecord replaces a record's origin, fields, state, subjects and
// plan; lethe.ErrNotFound when absent. CreatedAt is kept as stored; a zero
// UpdatedAt is set from the store's clock.
func (s *Store) UpdateRecord(ctx context.Context, r *lethe.Record) error {
	if r == nil {
		return fmt.Errorf("update record: %w: nil record", lethe.ErrInvalid)
	}
	err := s.tx(ctx, func(tx pgx.Tx) error {
		found, err := s.updateRecords(ctx, tx, []*lethe.Record{r})
		if err != nil {
			return err
		}
		if found == 0 {
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
	db, err := s.db()
	if err != nil {
		return err
	}
	n, err := deleteRecords(ctx, db, []lethe.RecordRef{ref})
	if err != nil {
		return fmt.Errorf("delete record %s/%s: %w", ref.Collection, ref.ID, mapErr(err))
	}
	if n == 0 {
		return fmt.Errorf("delete record %s/%s: %w", ref.Collection, ref.ID, lethe.ErrNotFound)
	}
	return nil
}

// deleteRecords removes records and their subjects with one statement,
// whatever their number, and returns how many existed.
func deleteRecords(ctx context.Context, q querier, refs []lethe.RecordRef) (int64, error) {
	if len(refs) == 0 {
		return 0, nil
	}
	tenants := make([]string, len(refs))
	colls := make([]string, len(refs))
	ids := make([]string, len(refs))
	for i, ref := range refs {
		tenants[i], colls[i], ids[i] = ref.Tenant, ref.Collection, ref.ID
	}
	var n int64
	if err := q.QueryRow(ctx, deleteRecordsSQL, tenants, colls, ids).Scan(&n); err != nil {
		return 0, err
	}
	return n, nil
}

// updateRecords rewrites records (as UpdateRecord) inside the caller's
// transaction and returns how many existed; absent ones are skipped. All
// statements go to the server in one pipelined round trip.
func (s *Store) updateRecords(ctx context.Context, q querier, recs []*lethe.Record) (int, error) {
	if len(recs) == 0 {
		return 0, nil
	}
	b := &pgx.Batch{}
	for _, r := range recs {
		if r != nil && r.UpdatedAt.IsZero() {
			c := *r
			c.UpdatedAt = s.now()
			r = &c
		}
		row, err := s.toRow(r)
		if err != nil {
			return 0, err
		}
		b.Queue(updateRecordSQL, r.Tenant, r.Collection, r.ID, row.origin, row.updated, row.state, row.plain,
			row.sealed, row.action, row.rule, row.due, r.Embedding)
		if len(r.Subjects) == 0 {
			continue
		}
		kinds := make([]string, len(r.Subjects))
		fields := make([]string, len(r.Subjects))
		hashes := make([][]byte, len(r.Subjects))
		uniqs := make([]bool, len(r.Subjects))
		for i, sub := range r.Subjects {
			kinds[i], fields[i], hashes[i], uniqs[i] = sub.Kind, sub.Field, sub.Hash, sub.Unique
		}
		b.Queue(insertSubjectsSQL, r.Tenant, r.Collection, r.ID, kinds, fields, hashes, uniqs)
	}
	br := q.SendBatch(ctx, b)
	found := 0
	for _, r := range recs {
		var rid int64
		err := br.QueryRow().Scan(&rid)
		if err != nil && !noRows(err) {
			br.Close()
			return 0, fmt.Errorf("update record %s/%s: %w", r.Collection, r.ID, mapErr(err))
		}
		if err == nil {
			found++
		}
		if len(r.Subjects) == 0 {
			continue
		}
		if _, err := br.Exec(); err != nil {
			br.Close()
			return 0, fmt.Errorf("update record %s/%s: %w", r.Collection, r.ID, conflictErr(err))
		}
	}
	return found, mapErr(br.Close())
}
