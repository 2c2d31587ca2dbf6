package sqlite

import (
	"context"
	"database/sql"
	"fmt"

	"github.com/lethe-privacy/lethe"
)

// UpdatePlans rewrites only the plan columns of records, in one
// transaction. Each rewrite is guarded by the record's UpdatedAt (compared
// at the stored millisecond precision): a record written since its plan
// was computed keeps the plan its own write set. Missing records are
// skipped. It returns how many rows changed.
func (s *Store) UpdatePlans(ctx context.Context, updates []lethe.PlanUpdate) (int, error) {
	if len(updates) == 0 {
		return 0, nil
	}
	changed := 0
	err := s.write(ctx, func(tx *sql.Tx) error {
		changed = 0
		p := newStmts(ctx, tx, s.whot)
		defer p.close()
		for _, u := range updates {
			action, rule, due := planCols(u.Plan)
			res, err := p.exec(`UPDATE records SET plan_action = ?, plan_rule = ?, due_at = ?
				WHERE tenant = ? AND collection = ? AND id = ? AND updated_at = ?`,
				action, rule, due, u.Ref.Tenant, u.Ref.Collection, u.Ref.ID, millis(u.UpdatedAt))
			if err != nil {
				return fmt.Errorf("plan of %s/%s: %w", u.Ref.Collection, u.Ref.ID, mapErr(err))
			}
			n, err := res.RowsAffected()
			if err != nil {
				return err
			}
			changed += int(n)
		}
		return nil
	})
	if err != nil {
		return 0, fmt.Errorf("update plans: %w", err)
	}
	return changed, nil
}
