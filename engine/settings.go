package engine

import (
	"context"
	"errors"
	"fmt"
	"sync"
	"time"

	"github.com/lethe-privacy/lethe"
	"github.com/lethe-privacy/lethe/retention"
)

// Settings returns a copy of the tenant's settings of a collection (empty when the
// tenant never chose: the policy's defaults apply).
func (e *Engine) Settings(ctx context.Context, tenant, collection string) (*lethe.Settings, error) {
	if _, _, err := e.collection(ctx, tenant, collection); err != nil {
		return nil, err
	}
	s, err := e.settingsFor(ctx, tenant, collection)
	return s.Clone(), err
}

// settingsTTL bounds how long a cached setting is used: another instance
// on the same database may have changed it. Records written meanwhile get
// the plan of the old setting, and the sweeper re-checks every plan
// against the current setting before it acts, so the window only delays.
const settingsTTL = 5 * time.Second

// cachedSettings is a setting as read, with when (monotonic wall clock,
// not the engine's clock, which tests move) it was read.
type cachedSettings struct {
	s    *lethe.Settings
	read time.Time
}

func (e *Engine) settingsFor(ctx context.Context, tenant, collection string) (*lethe.Settings, error) {
	k := settingsKey{tenant, collection}
	e.mu.Lock()
	c, ok := e.settings[k]
	e.mu.Unlock()
	if ok && time.Since(c.read) < settingsTTL {
		return c.s, nil
	}
	s, err := e.store.Settings(ctx, tenant, collection)
	if errors.Is(err, lethe.ErrNotFound) {
		s, err = &lethe.Settings{}, nil
	}
	if err != nil {
		return nil, err
	}
	e.mu.Lock()
	e.settings[k] = cachedSettings{s: s, read: time.Now()}
	e.mu.Unlock()
	return s, nil
}

// PutSettings validates and stores a tenant's settings of a collection,
// audits the change, and re-plans the collection's records in the
// background (see ReplanStatus for progress).
func (e *Engine) PutSettings(ctx context.Context, actor, tenant, collection string, s *lethe.Settings) (*lethe.Settings, error) {
	_, c, err := e.collection(ctx, tenant, collection)
	if err != nil {
		return nil, err
	}
	e.settingsMu.Lock()
	defer e.settingsMu.Unlock()
	return e.storeSettings(ctx, actor, tenant, c.Name, s.Clone())
}

// PatchSettings merges a partial change into the tenant's stored settings
// of a collection (only what the patch names changes), validates the
// result as a whole and stores it as PutSettings does. The merge starts
// from the store, not from the cache, so that it builds on the latest
// settings another instance may have written.
func (e *Engine) PatchSettings(ctx context.Context, actor, tenant, collection string, p *lethe.SettingsPatch) (*lethe.Settings, error) {
	_, c, err := e.collection(ctx, tenant, collection)
	if err != nil {
		return nil, err
	}
	e.settingsMu.Lock()
	defer e.settingsMu.Unlock()
	cur, err := e.store.Settings(ctx, tenant, collection)
	if errors.Is(err, lethe.ErrNotFound) {
		cur, err = &lethe.Settings{}, nil
	}
	if err != nil {
		return nil, err
	}
	return e.storeSettings(ctx, actor, tenant, c.Name, p.Apply(cur))
}

// storeSettings validates, audits and stores s, and starts re-planning.
// The caller holds settingsMu.
func (e *Engine) storeSettings(ctx context.Context, actor, tenant, collection string, s *lethe.Settings) (*lethe.Settings, error) {
	_, c, err := e.collection(ctx, tenant, collection)
	if err != nil {
		return nil, err
	}
	if err := retention.ValidateSettings(c, s); err != nil {
		return nil, err
	}
	s.UpdatedAt = e.now().UTC()
	if err := e.audit(ctx, tenant, lethe.LogSecurity, actor, "settings.update", map[string]any{"collection": collection, "settings": s}); err != nil {
		return nil, err
	}
	if err := e.store.PutSettings(ctx, tenant, collection, s); err != nil {
		return nil, err
	}
	e.mu.Lock()
	e.settings[settingsKey{tenant, collection}] = cachedSettings{s: s.Clone(), read: time.Now()}
	e.mu.Unlock()
	e.startReplan(tenant, collection)
	return s.Clone(), nil
}

// ReplanStatus is the progress of re-planning a collection after a
// settings change.
type ReplanStatus struct {
	Running  bool
	Scanned  int64
	Changed  int64
	Started  time.Time
	Finished time.Time
	Err      string
}

type replans struct {
	mu   sync.Mutex
	jobs map[settingsKey]*replanJob
}

type replanJob struct {
	status ReplanStatus
	again  bool // settings changed while running: scan once more
}

// ReplanStatus reports the last re-planning of a collection (zero when none
// ran in this process).
func (e *Engine) ReplanStatus(tenant, collection string) ReplanStatus {
	e.replans.mu.Lock()
	defer e.replans.mu.Unlock()
	if j := e.replans.jobs[settingsKey{tenant, collection}]; j != nil {
		return j.status
	}
	return ReplanStatus{}
}

func (e *Engine) startReplan(tenant, collection string) {
	k := settingsKey{tenant, collection}
	e.replans.mu.Lock()
	defer e.replans.mu.Unlock()
	if e.replans.jobs == nil {
		e.replans.jobs = make(map[settingsKey]*replanJob)
	}
	if j := e.replans.jobs[k]; j != nil && j.status.Running {
		j.again = true
		return
	}
	j := &replanJob{status: ReplanStatus{Running: true, Started: e.now().UTC()}}
	e.replans.jobs[k] = j
	e.bg.Add(1)
	go func() {
		defer e.bg.Done()
		for {
			err := e.Replan(e.bgCtx, tenant, collection, func(scanned, changed int64) {
				e.replans.mu.Lock()
				j.status.Scanned, j.status.Changed = scanned, changed
				e.replans.mu.Unlock()
			})
			e.replans.mu.Lock()
			if err == nil && j.again {
				j.again = false
				e.replans.mu.Unlock()
				continue
			}
			j.status.Running = false
			j.status.Finished = e.now().UTC()
			if err != nil {
				j.status.Err = err.Error()
				e.log.Error("replan failed", "tenant", tenant, "collection", collection, "err", err)
			}
			e.replans.mu.Unlock()
			return
		}
	}()
}

// replanBatch is how many records one re-planning step reads and updates.
const replanBatch = 1000

// Replan recomputes the plan of every record of a collection with the
// tenant's current settings, in batches. Each update is guarded by the
// record's UpdatedAt, so a record written meanwhile keeps its own plan.
func (e *Engine) Replan(ctx context.Context, tenant, collection string, progress func(scanned, changed int64)) error {
	_, c, err := e.collection(ctx, tenant, collection)
	if err != nil {
		return err
	}
	s, err := e.settingsFor(ctx, tenant, collection)
	if err != nil {
		return err
	}
	var scanned, changed int64
	after := ""
	for {
		recs, err := e.store.ScanRecords(ctx, tenant, collection, after, replanBatch)
		if err != nil {
			return fmt.Errorf("replan %s/%s: %w", tenant, collection, err)
		}
		if len(recs) == 0 {
			return nil
		}
		var ups []lethe.PlanUpdate
		for _, r := range recs {
			p := retention.Plan(c, s, planInput(r))
			if !samePlan(p, r.Plan) {
				ups = append(ups, lethe.PlanUpdate{Ref: r.Ref(), UpdatedAt: r.UpdatedAt, Plan: p})
			}
		}
		if len(ups) > 0 {
			n, err := e.store.UpdatePlans(ctx, ups)
			if err != nil {
				return fmt.Errorf("replan %s/%s: %w", tenant, collection, err)
			}
			changed += int64(n)
		}
		scanned += int64(len(recs))
		after = recs[len(recs)-1].ID
		if progress != nil {
			progress(scanned, changed)
		}
	}
}

// samePlan compares plans at the stores' millisecond resolution.
func samePlan(a, b lethe.Plan) bool {
	return a.Action == b.Action && a.Rule == b.Rule &&
		a.DueAt.Truncate(time.Millisecond).Equal(b.DueAt.Truncate(time.Millisecond))
}
