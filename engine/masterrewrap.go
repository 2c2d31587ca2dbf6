package engine

import (
	"context"
	"errors"
	"fmt"

	"github.com/lethe-privacy/lethe"
	"github.com/lethe-privacy/lethe/keyring"
)

// RewrapMasterKey moves every wrapped key, and the probe, to the master
// key's current version, online: a key is swapped only while it is still
// wrapped by the version it was read with. progress, when set, is called
// after every batch. What is left is in the keys table itself (each key
// names its version), so a stopped rewrap simply runs again.
func (e *Engine) RewrapMasterKey(ctx context.Context, progress func(RewrapJob)) (*RewrapJob, error) {
	m, err := e.master()
	if err != nil {
		return nil, err
	}
	rs, err := e.rotationStore()
	if err != nil {
		return nil, err
	}
	key := jobKey(ScopeMaster, "")
	if !e.rw.begin(key) {
		return nil, fmt.Errorf("a master key rewrap is running in this process: %w", lethe.ErrConflict)
	}
	defer e.rw.end(key)
	target := m.ID()
	job, err := e.RewrapStatus(ctx, ScopeMaster, "")
	if errors.Is(err, lethe.ErrNotFound) || (err == nil && job.Target != target) {
		total, err := e.masterBacklog(ctx, rs, target)
		if err != nil {
			return nil, err
		}
		job, err = &RewrapJob{Scope: ScopeMaster, Target: target, Total: total, State: RewrapRunning, Started: e.now()}, nil
	} else if err != nil {
		return nil, err
	}
	job.State, job.Finished = RewrapRunning, nil
	keys, err := rs.AllKeys(ctx)
	if err != nil {
		return nil, err
	}
	// Keys of tenants with a master key of their own stay under it.
	own, err := e.ownKEKTenants(ctx, keys)
	if err != nil {
		return nil, err
	}
	for i, k := range keys {
		if k.KEKID == target || own[k.Tenant] {
			continue
		}
		w, id, err := keyring.Rewrap(ctx, m, k.Wrapped, k.KEKID)
		if err != nil {
			return job, fmt.Errorf("rewrap %s/%s v%d: %w", k.Tenant, k.Purpose, k.Version, err)
		}
		old := k.KEKID
		k.Wrapped, k.KEKID = w, id
		moved, err := rs.RewrapKey(ctx, k, old)
		if err != nil {
			return job, err
		}
		if moved {
			job.Done++
		}
		if i%50 == 49 {
			if err := e.saveJob(ctx, job); err != nil {
				return job, err
			}
			if progress != nil {
				progress(*job)
			}
		}
	}
	if p, err := e.store.Meta(ctx, metaKEKProbe); err == nil && keyring.ProbeKEKID(p) != target {
		np, err := keyring.RewrapProbe(ctx, m, p)
		if err != nil {
			return job, err
		}
		if err := e.store.SetMeta(ctx, metaKEKProbe, np); err != nil {
			return job, err
		}
		job.Done++
	}
	if moved, err := e.rewrapConsoleKey(ctx, m, target); err != nil {
		return job, err
	} else if moved {
		job.Done++
	}
	left, err := e.masterBacklog(ctx, rs, target)
	if err != nil {
		return job, err
	}
	if left > 0 {
		return job, fmt.Errorf("master key rewrap: %d keys are still on older versions (another rotation?): %w", left, lethe.ErrConflict)
	}
	if err := e.checkpoint(ctx); err != nil {
		return job, err
	}
	return e.finishJob(ctx, job, progress)
}
