package engine

import (
	"context"
	"errors"
	"fmt"

	"github.com/lethe-privacy/lethe"
	"github.com/lethe-privacy/lethe/retention"
)

// SettingsPreview is what a settings change would do to a collection's
// records, computed without storing anything: a settings page shows it
// before the change is saved.
type SettingsPreview struct {
	Settings *lethe.Settings // the settings the patch would lead to
	Scanned  int64           // records of the collection
	Changed  int64           // records whose plan would change
	Earlier  int64           // of those, due earlier than now
	DueNow   int64           // of those, due at once: the next sweep acts on them
}

// PreviewSettings validates the settings a patch would lead to and counts
// the records whose plan they would change, reading (never writing) the
// collection as Replan does; a record counts as changed when Replan would
// update it after the save. Only plain columns and the plan are read, so
// no PII is decrypted and nothing is audited.
func (e *Engine) PreviewSettings(ctx context.Context, tenant, collection string, p *lethe.SettingsPatch) (*SettingsPreview, error) {
	_, c, err := e.collection(ctx, tenant, collection)
	if err != nil {
		return nil, err
	}
	cur, err := e.store.Settings(ctx, tenant, collection)
	if errors.Is(err, lethe.ErrNotFound) {
		cur, err = &lethe.Settings{}, nil
	}
	if err != nil {
		return nil, err
	}
	next := p.Apply(cur)
	if err := retention.ValidateSettings(c, next); err != nil {
		return nil, err
	}
	out := &SettingsPreview{Settings: next}
	now := e.now()
	after := ""
	for {
		recs, err := e.store.ScanRecords(ctx, tenant, c.Name, after, replanBatch)
		if err != nil {
			return nil, fmt.Errorf("preview %s/%s: %w", tenant, collection, err)
		}
		if len(recs) == 0 {
			return out, nil
		}
		for _, r := range recs {
			before := r.Plan
			plan := retention.Plan(c, next, planInput(r))
			out.Scanned++
			if samePlan(before, plan) {
				continue
			}
			out.Changed++
			if plan.Planned() && (!before.Planned() || plan.DueAt.Before(before.DueAt)) {
				out.Earlier++
			}
			if plan.Planned() && !plan.DueAt.After(now) {
				out.DueNow++
			}
		}
		after = recs[len(recs)-1].ID
		if err := ctx.Err(); err != nil {
			return nil, err
		}
	}
}
