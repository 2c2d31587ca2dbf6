package engine

import (
	"context"
	"sort"

	"github.com/lethe-privacy/lethe"
)

func (r *RequestRunner) countScope(ctx context.Context, run *jobRun) (int64, error) {
	if run.job.Scope.Kind == lethe.ScopeSubject {
		recs, err := r.subjectRecords(ctx, run)
		return int64(len(recs)), err
	}
	return r.e.store.CountScope(ctx, run.job.Tenant, run.job.Scope.Origin)
}

// subjectReach sets the job's reach: the one stored with the job, or, when
// the job starts, the one its identifiers lead to now (see reach).
func (e *Engine) subjectReach(ctx context.Context, run *jobRun) error {
	if len(run.res.Reach) > 0 {
		run.reach = &reach{keys: map[string][]byte{}}
		for _, id := range run.job.Scope.Identifiers {
			run.reach.keys[reachKey(id.Kind, id.Hash)] = id.Hash
		}
		for _, id := range run.res.Reach {
			run.reach.keys[reachKey(id.Kind, id.Hash)] = id.Hash
		}
		return nil
	}
	rc, err := e.reachOf(ctx, run.ts, run.keys, run.job.Tenant, run.job.Scope.Identifiers)
	if err != nil {
		return err
	}
	run.reach = &reach{keys: rc.keys}
	run.res.Reach = rc.identities()
	return nil
}

// subjectRecords finds the records of a subject's reach through the blind
// index, in (collection, id) order like the other scopes.
func (r *RequestRunner) subjectRecords(ctx context.Context, run *jobRun) ([]*lethe.Record, error) {
	hashes := make([][]byte, 0, len(run.reach.keys))
	for _, h := range run.reach.keys {
		hashes = append(hashes, h)
	}
	recs, err := r.e.recordsBySubject(ctx, run.job.Tenant, hashes)
	if err != nil {
		return nil, err
	}
	// The index matched hashes only: keep records where kind and hash
	// match, each once (a record may match hashes of two lookups).
	seen := make(map[lethe.RecordRef]bool, len(recs))
	out := recs[:0]
	for _, rec := range recs {
		if !seen[rec.Ref()] && run.reach.matches(rec) {
			seen[rec.Ref()] = true
			out = append(out, rec)
		}
	}
	sort.Slice(out, func(i, j int) bool { return cursorLess(out[i].Collection, out[i].ID, out[j].Collection, out[j].ID) })
	return out, nil
}

func cursorLess(ac, aid, bc, bid string) bool {
	if ac != bc {
		return ac < bc
	}
	return aid < bid
}

// next returns the next batch of the scope after the job's cursor.
func (r *RequestRunner) next(ctx context.Context, run *jobRun) ([]*lethe.Record, error) {
	j := run.job
	if j.Scope.Kind != lethe.ScopeSubject {
		return r.e.store.ScopeRecords(ctx, lethe.ScopeQuery{Tenant: j.Tenant, Origin: j.Scope.Origin, After: j.Cursor, Limit: r.batch()})
	}
	recs, err := r.subjectRecords(ctx, run)
	if err != nil {
		return nil, err
	}
	i := sort.Search(len(recs), func(i int) bool {
		return cursorLess(j.Cursor.Collection, j.Cursor.ID, recs[i].Collection, recs[i].ID)
	})
	recs = recs[i:]
	if len(recs) > r.batch() {
		recs = recs[:r.batch()]
	}
	return recs, nil
}
