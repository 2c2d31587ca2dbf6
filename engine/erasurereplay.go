package engine

import (
	"context"
	"fmt"

	"github.com/lethe-privacy/lethe"
)

// ReplayResult counts what ReplayErasures did.
type ReplayResult struct {
	Scanned    int64
	Deleted    int64
	Anonymized int64
}

// replayPage is how many records one replay batch reads and changes.
const replayPage = 1000

// ReplayErasures walks every record of every tenant and deletes or
// anonymizes again those that due names (the erasure journal's verdict
// after a restore), a page per transaction with a security-log entry
// counting each tenant's batch; the totals go to the runtime log. It runs
// before the API opens, so nothing else writes meanwhile.
func (e *Engine) ReplayErasures(ctx context.Context, due func(*lethe.Record) lethe.Action) (*ReplayResult, error) {
	tenants, err := e.store.Tenants(ctx)
	if err != nil {
		return nil, fmt.Errorf("replay erasures: %w", err)
	}
	res := &ReplayResult{}
	for _, t := range tenants {
		after := lethe.RecordCursor{}
		for {
			recs, err := e.store.ScopeRecords(ctx, lethe.ScopeQuery{Tenant: t.ID, After: after, Limit: replayPage})
			if err != nil {
				return res, fmt.Errorf("replay erasures of %s: %w", t.ID, err)
			}
			if len(recs) == 0 {
				break
			}
			last := recs[len(recs)-1]
			after = lethe.RecordCursor{Collection: last.Collection, ID: last.ID}
			if err := e.replayPage(ctx, t.ID, recs, due, res); err != nil {
				return res, err
			}
		}
	}
	if err := e.LogServer(ctx, "restore.replay", map[string]any{"scanned": res.Scanned, "deleted": res.Deleted, "anonymized": res.Anonymized}); err != nil {
		return res, err
	}
	return res, nil
}

func (e *Engine) replayPage(ctx context.Context, tenant string, recs []*lethe.Record, due func(*lethe.Record) lethe.Action, res *ReplayResult) error {
	now := e.now()
	b := &lethe.Batch{}
	counts := map[string]map[string]int{}
	for _, r := range recs {
		res.Scanned++
		a := due(r)
		switch {
		case a == lethe.ActionDelete:
			b.Deletes = append(b.Deletes, r.Ref())
		case a == lethe.ActionAnonymize && r.State != lethe.StateAnonymized:
			if _, err := e.anonymize(ctx, r, now); err != nil {
				return fmt.Errorf("replay erasures: anonymize %s/%s/%s: %w", r.Tenant, r.Collection, r.ID, err)
			}
			b.Updates = append(b.Updates, r)
		default:
			continue
		}
		if counts[string(a)] == nil {
			counts[string(a)] = map[string]int{}
		}
		counts[string(a)][r.Collection]++
	}
	if len(b.Deletes)+len(b.Updates) == 0 {
		return nil
	}
	entry, err := e.entry(tenant, lethe.LogSecurity, "restore", "restore.replay", map[string]any{"counts": counts})
	if err != nil {
		return err
	}
	b.Audit = append(b.Audit, entry)
	if err := e.store.ApplyBatch(ctx, b); err != nil {
		return fmt.Errorf("replay erasures of %s: %w", tenant, err)
	}
	res.Deleted += int64(len(b.Deletes))
	res.Anonymized += int64(len(b.Updates))
	return nil
}
