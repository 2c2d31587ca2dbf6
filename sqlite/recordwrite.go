package sqlite

import (
	"database/sql"
	"errors"
	"fmt"
	"time"

	"github.com/lethe-privacy/lethe"
)

// recordRow is a record's column values as stored.
type recordRow struct {
	origin, state, plain string
	created, updated     int64
	sealed               []byte
	action, rule         sql.NullString
	due                  sql.NullInt64
}

// toRow encodes a record for storage (see lethe.Record.Store).
func (s *Store) toRow(r *lethe.Record) (recordRow, error) {
	st, err := r.Store(s.now)
	if err != nil {
		return recordRow{}, err
	}
	row := recordRow{
		origin:  st.Origin,
		state:   string(st.State),
		plain:   st.Plain,
		created: millis(st.Created),
		updated: millis(st.Updated),
		sealed:  st.Sealed,
	}
	row.action, row.rule, row.due = planCols(r.Plan)
	return row, nil
}

// planCols encodes a plan. A plan that is not Planned() keeps its action
// and rule but gets no due time, so the sweeper never picks it up.
func planCols(p lethe.Plan) (action, rule sql.NullString, due sql.NullInt64) {
	if p.Action != lethe.ActionNone {
		action = sql.NullString{String: string(p.Action), Valid: true}
	}
	if p.Rule != "" {
		rule = sql.NullString{String: p.Rule, Valid: true}
	}
	if p.Planned() {
		due = nullMillis(p.DueAt)
	}
	return action, rule, due
}

const insertRecordSQL = `INSERT INTO records
	(tenant, collection, id, origin, created_at, updated_at, state, plain, sealed, plan_action, plan_rule, due_at, embedding)
	VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)`

const insertSubjectSQL = `INSERT INTO subjects (rec, tenant, collection, kind, field, hash, uniq)
	VALUES (?, ?, ?, ?, ?, ?, ?)`

// insertRecord inserts one record, encoded by toRow, and its subjects. A
// duplicate id or a taken unique subject fails with lethe.ErrConflict
// naming what collided.
func insertRecord(p *stmts, r *lethe.Record, row recordRow) error {
	res, err := p.exec(insertRecordSQL, r.Tenant, r.Collection, r.ID, row.origin, row.created, row.updated,
		row.state, row.plain, row.sealed, row.action, row.rule, row.due, r.Embedding)
	if err != nil {
		if isConflict(err) {
			return &lethe.ConflictError{What: fmt.Sprintf("record %s exists in collection %s", r.ID, r.Collection)}
		}
		return fmt.Errorf("insert record %s/%s: %w", r.Collection, r.ID, mapErr(err))
	}
	rid, err := res.LastInsertId()
	if err != nil {
		return fmt.Errorf("insert record %s/%s: %w", r.Collection, r.ID, err)
	}
	return insertSubjects(p, rid, r)
}

func insertSubjects(p *stmts, rid int64, r *lethe.Record) error {
	for _, sub := range r.Subjects {
		_, err := p.exec(insertSubjectSQL, rid, r.Tenant, r.Collection, sub.Kind, sub.Field, sub.Hash, sub.Unique)
		if err != nil {
			if isConflict(err) {
				return &lethe.ConflictError{What: fmt.Sprintf("a record with this %s exists in collection %s", sub.Kind, r.Collection)}
			}
			return fmt.Errorf("record %s/%s: subject %s: %w", r.Collection, r.ID, sub.Kind, mapErr(err))
		}
	}
	return nil
}

// updateRecord replaces a record's origin, plain and sealed fields, state,
// plan, updated_at and subjects; created_at never changes. It reports
// whether the record exists.
func (s *Store) updateRecord(p *stmts, r *lethe.Record) (bool, error) {
	if r != nil && r.UpdatedAt.IsZero() {
		c := *r
		c.UpdatedAt = s.now()
		r = &c
	}
	row, err := s.toRow(r)
	if err != nil {
		return false, err
	}
	var rid int64
	err = p.scanRow(`UPDATE records SET origin = ?, updated_at = ?, state = ?, plain = ?, sealed = ?,
		plan_action = ?, plan_rule = ?, due_at = ?, embedding = ?
		WHERE tenant = ? AND collection = ? AND id = ? RETURNING rid`,
		[]any{row.origin, row.updated, row.state, row.plain, row.sealed, row.action, row.rule, row.due, r.Embedding,
			r.Tenant, r.Collection, r.ID}, &rid)
	if errors.Is(err, sql.ErrNoRows) {
		return false, nil
	}
	if err != nil {
		return false, fmt.Errorf("update record %s/%s: %w", r.Collection, r.ID, mapErr(err))
	}
	if _, err := p.exec("DELETE FROM subjects WHERE rec = ?", rid); err != nil {
		return false, fmt.Errorf("update record %s/%s: %w", r.Collection, r.ID, mapErr(err))
	}
	return true, insertSubjects(p, rid, r)
}

// deleteRecord removes a record and, in the same transaction, its
// subjects. It reports whether the record existed.
func deleteRecord(p *stmts, ref lethe.RecordRef) (bool, error) {
	return deleteRecordWhere(p, ref, "", nil)
}

// deleteRecordIf deletes a record only while it is stored with updatedAt
// (see lethe.Batch.Unchanged); false when it is absent or was written since.
func deleteRecordIf(p *stmts, ref lethe.RecordRef, updatedAt time.Time) (bool, error) {
	return deleteRecordWhere(p, ref, " AND updated_at = ?", millis(updatedAt))
}

func deleteRecordWhere(p *stmts, ref lethe.RecordRef, cond string, arg any) (bool, error) {
	args := []any{ref.Tenant, ref.Collection, ref.ID}
	if cond != "" {
		args = append(args, arg)
	}
	// The record's subject rows go in the same statement, by the
	// records_delete_subjects trigger (migration 00014).
	res, err := p.exec("DELETE FROM records WHERE tenant = ? AND collection = ? AND id = ?"+cond, args...)
	if err != nil {
		return false, fmt.Errorf("delete record %s/%s: %w", ref.Collection, ref.ID, mapErr(err))
	}
	n, err := res.RowsAffected()
	if err != nil {
		return false, fmt.Errorf("delete record %s/%s: %w", ref.Collection, ref.ID, mapErr(err))
	}
	return n > 0, nil
}
