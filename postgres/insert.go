package postgres

import (
	"context"
	"fmt"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/lethe-privacy/lethe"
)

// recordColumns are the columns InsertRecords copies, in the order of
// recordRow.values.
var recordColumns = []string{"rid", "tenant", "collection", "id", "origin", "created_at", "updated_at",
	"state", "plain", "sealed", "plan_action", "plan_rule", "due_at", "embedding"}

// subjectColumns are the columns InsertRecords copies into subjects.
var subjectColumns = []string{"rec", "pos", "tenant", "collection", "kind", "field", "hash", "uniq"}

// recordRow is a record's column values as stored.
type recordRow struct {
	origin, state, plain string
	created, updated     time.Time
	sealed               []byte
	action, rule         *string
	due                  *time.Time
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
		created: ms(st.Created),
		updated: ms(st.Updated),
		sealed:  st.Sealed,
	}
	row.action, row.rule, row.due = planCols(r.Plan)
	return row, nil
}

// planCols encodes a plan. A plan that is not Planned() keeps its action
// and rule but gets no due time, so the sweeper never picks it up.
func planCols(p lethe.Plan) (action, rule *string, due *time.Time) {
	if p.Action != lethe.ActionNone {
		a := string(p.Action)
		action = &a
	}
	if p.Rule != "" {
		rule = &p.Rule
	}
	if p.Planned() {
		due = nullTime(p.DueAt)
	}
	return action, rule, due
}

// InsertRecords stores new records with their subjects and plans, all or
// nothing: a duplicate id or a unique subject that is taken fails the whole
// call with lethe.ErrConflict, and none of its records is stored.
//
// One transaction draws the rids from the sequence in one query, then
// COPYs the records and their subjects. A COPY that hits a unique index
// aborts whole, which is exactly the all-or-nothing the call promises.
// Concurrent callers commit in their own transactions; PostgreSQL flushes
// their WAL together (its own group commit).
func (s *Store) InsertRecords(ctx context.Context, recs []*lethe.Record) error {
	if len(recs) == 0 {
		return nil
	}
	rows := make([][]any, len(recs))
	nsub := 0
	for i, r := range recs {
		row, err := s.toRow(r)
		if err != nil {
			return fmt.Errorf("insert records: %w", err)
		}
		rows[i] = []any{int64(0), r.Tenant, r.Collection, r.ID, row.origin, row.created, row.updated,
			row.state, row.plain, row.sealed, row.action, row.rule, row.due, r.Embedding}
		nsub += len(r.Subjects)
	}
	err := s.tx(ctx, func(tx pgx.Tx) error {
		rids, err := nextRids(ctx, tx, len(recs))
		if err != nil {
			return err
		}
		subs := make([][]any, 0, nsub)
		for i, r := range recs {
			rows[i][0] = rids[i]
			for pos, sub := range r.Subjects {
				subs = append(subs, []any{rids[i], int32(pos), r.Tenant, r.Collection, sub.Kind, sub.Field, sub.Hash, sub.Unique})
			}
		}
		if _, err := tx.CopyFrom(ctx, pgx.Identifier{"records"}, recordColumns, pgx.CopyFromRows(rows)); err != nil {
			return conflictErr(err)
		}
		if len(subs) == 0 {
			return nil
		}
		if _, err := tx.CopyFrom(ctx, pgx.Identifier{"subjects"}, subjectColumns, pgx.CopyFromRows(subs)); err != nil {
			return conflictErr(err)
		}
		return nil
	})
	if err != nil {
		return fmt.Errorf("insert records: %w", err)
	}
	return nil
}

// nextRids draws n record ids from the sequence in one round trip.
func nextRids(ctx context.Context, q querier, n int) ([]int64, error) {
	rows, err := q.Query(ctx, "SELECT nextval('records_rid') FROM generate_series(1, $1)", n)
	if err != nil {
		return nil, err
	}
	rids, err := pgx.CollectRows(rows, pgx.RowTo[int64])
	if err != nil {
		return nil, err
	}
	if len(rids) != n {
		return nil, fmt.Errorf("drew %d record ids, want %d", len(rids), n)
	}
	return rids, nil
}
