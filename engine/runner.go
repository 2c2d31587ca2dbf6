package engine

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"time"

	"github.com/lethe-privacy/lethe"
	"github.com/lethe-privacy/lethe/keyring"
)

// RequestRunner works through request jobs: it claims the oldest pending
// job (or a running one whose runner died and whose lease ran out), runs
// it batch by batch, each batch one transaction with the job's progress,
// and deletes expired exports. Several runners may share a store; a lease
// keeps them off each other's jobs.
type RequestRunner struct {
	e     *Engine
	owner string
	// Batch is how many records one transaction takes (default 1000).
	Batch int
	// Lease is how long a claimed job stays this runner's without a
	// committed batch (default 30s); a restarted runner takes over a job
	// of a dead one once it has run out.
	Lease time.Duration
	// ExportTTL is how long an export can be downloaded (default 7 days).
	ExportTTL time.Duration
	// AfterBatch, when set, is called after each committed batch.
	AfterBatch func(job *lethe.Request)
}

// NewRequestRunner returns a runner with a fresh owner id.
func (e *Engine) NewRequestRunner() *RequestRunner {
	return &RequestRunner{e: e, owner: newID()}
}

func (r *RequestRunner) batch() int {
	if r.Batch <= 0 {
		return 1000
	}
	return r.Batch
}

func (r *RequestRunner) lease() time.Duration {
	if r.Lease <= 0 {
		return 30 * time.Second
	}
	return r.Lease
}

func (r *RequestRunner) exportTTL() time.Duration {
	if r.ExportTTL <= 0 {
		return 7 * 24 * time.Hour
	}
	return r.ExportTTL
}

// RunPending deletes expired exports, then runs claimable jobs until none
// is left; it returns how many it finished or failed. A job interrupted by
// ctx stays running and resumes from its last committed batch.
func (r *RequestRunner) RunPending(ctx context.Context) (int, error) {
	e := r.e
	if _, err := e.store.DeleteExpiredExports(ctx, e.now()); err != nil {
		return 0, err
	}
	n := 0
	for {
		now := e.now()
		job, err := e.store.ClaimRequest(ctx, r.owner, now, now.Add(r.lease()))
		if errors.Is(err, lethe.ErrNotFound) {
			return n, nil
		}
		if err != nil {
			return n, err
		}
		if err := r.runJob(ctx, job); err != nil {
			if ctx.Err() != nil {
				return n, ctx.Err()
			}
			if transient(err) {
				// The store is in trouble: stop here and report; the job
				// is taken up again once its lease runs out.
				return n, err
			}
			if !errors.Is(err, lethe.ErrConflict) {
				n++
			}
			continue
		}
		n++
	}
}

// Run calls RunPending every poll interval until ctx ends.
func (r *RequestRunner) Run(ctx context.Context, poll time.Duration) {
	if poll <= 0 {
		poll = time.Second
	}
	t := time.NewTicker(poll)
	defer t.Stop()
	for {
		if _, err := r.RunPending(ctx); err != nil && ctx.Err() == nil {
			r.e.log.Error("request runner", "err", err)
		}
		select {
		case <-ctx.Done():
			return
		case <-t.C:
		}
	}
}

// jobRun is the state of one job while a runner works on it.
type jobRun struct {
	job   *lethe.Request
	ts    *tenantState
	keys  *keyring.TenantKeys
	res   requestResult
	now   time.Time
	reach *reach // what a subject scope reaches; nil for other scopes
}

// runJob works on a claimed job until it is done, fails, or ctx ends.
func (r *RequestRunner) runJob(ctx context.Context, job *lethe.Request) error {
	e := r.e
	err := r.work(ctx, job)
	if err == nil || ctx.Err() != nil || errors.Is(err, lethe.ErrConflict) || transient(err) {
		// Interrupted, taken over, or a passing fault (a lost connection,
		// a deadlock broken by the database, a full disk): the job keeps
		// its committed progress, and its lease runs out so that a runner
		// takes it up again.
		return err
	}
	// A failure that is not an interruption ends the job: what committed
	// stays done (each batch is whole), and the error says why it stopped.
	e.log.Error("request failed", "tenant", job.Tenant, "request", job.ID, "err", err)
	job.State, job.Error, job.FinishedAt, job.UpdatedAt = lethe.RequestFailed, err.Error(), e.now(), e.now()
	entry, aerr := e.entry(job.Tenant, lethe.LogSecurity, "request-runner", "request.failed", map[string]any{"request": job.ID})
	if aerr != nil {
		return errors.Join(err, aerr)
	}
	if ferr := e.store.ApplyRequestBatch(ctx, &lethe.RequestBatch{Job: job, Audit: []*lethe.AuditEntry{entry}}); ferr != nil {
		return errors.Join(err, ferr)
	}
	return err
}

// transient reports whether err may go away by itself: a request that
// meets it is retried, not failed.
func transient(err error) bool {
	return errors.Is(err, lethe.ErrUnavailable) || errors.Is(err, lethe.ErrStorageFull) || errors.Is(err, lethe.ErrLeaseLost)
}

func (r *RequestRunner) work(ctx context.Context, job *lethe.Request) error {
	e := r.e
	ts, err := e.tenant(ctx, job.Tenant)
	if err != nil {
		return err
	}
	keys, err := e.keys.Tenant(ctx, job.Tenant)
	if err != nil {
		return err
	}
	run := &jobRun{job: job, ts: ts, keys: keys}
	if len(job.Result) > 0 {
		if err := json.Unmarshal(job.Result, &run.res); err != nil {
			return fmt.Errorf("request %s: result: %w", job.ID, err)
		}
	}
	if job.Scope.Kind == lethe.ScopeSubject {
		if err := r.e.subjectReach(ctx, run); err != nil {
			return err
		}
	}
	phases := phasesOf(job.Type)
	if job.Phase == "" {
		n, err := r.countScope(ctx, run)
		if err != nil {
			return err
		}
		job.Phase, job.Total = phases[0], n*int64(len(phases))
		if err := r.commit(ctx, run, &lethe.RequestBatch{}); err != nil {
			return err
		}
	}
	for {
		if err := ctx.Err(); err != nil {
			return err
		}
		run.now = e.now()
		recs, err := r.next(ctx, run)
		if err != nil {
			return err
		}
		if len(recs) == 0 {
			i := indexOf(phases, job.Phase)
			if i+1 < len(phases) {
				job.Phase, job.Cursor = phases[i+1], lethe.RecordCursor{}
				if err := r.commit(ctx, run, &lethe.RequestBatch{}); err != nil {
					return err
				}
				continue
			}
			return r.finish(ctx, run)
		}
		b := &lethe.RequestBatch{}
		if job.Phase == phaseExport {
			err = r.exportBatch(ctx, run, recs, b)
		} else {
			err = r.applyBatch(ctx, run, recs, b)
		}
		if err != nil {
			return err
		}
		last := recs[len(recs)-1]
		job.Cursor = lethe.RecordCursor{Collection: last.Collection, ID: last.ID}
		job.Processed += int64(len(recs))
		if err := r.commit(ctx, run, b); err != nil {
			return err
		}
		if r.AfterBatch != nil {
			r.AfterBatch(job)
		}
	}
}

func indexOf(s []string, v string) int {
	for i, x := range s {
		if x == v {
			return i
		}
	}
	return -1
}

// commit writes a batch with the job's new progress and renewed lease.
func (r *RequestRunner) commit(ctx context.Context, run *jobRun, b *lethe.RequestBatch) error {
	res, err := json.Marshal(run.res)
	if err != nil {
		return err
	}
	now := r.e.now()
	run.job.Result, run.job.UpdatedAt, run.job.LeaseUntil = res, now, now.Add(r.lease())
	b.Job = run.job
	return r.e.store.ApplyRequestBatch(ctx, b)
}

// finish signs the receipt and closes the job in one transaction, then
// checkpoints so that erased bytes leave the write-ahead log.
func (r *RequestRunner) finish(ctx context.Context, run *jobRun) error {
	e, j := r.e, run.job
	now := e.now()
	j.State, j.FinishedAt, j.Phase = lethe.RequestDone, now, ""
	signed, err := e.receipt(ctx, run, now)
	if err != nil {
		return err
	}
	j.Receipt = signed
	entry, err := e.entry(j.Tenant, lethe.LogSecurity, "request-runner", "request.done", map[string]any{
		"request": j.ID, "type": j.Type, "scope": j.Scope.Kind, "dry_run": j.DryRun, "counts": run.res.Counts,
	})
	if err != nil {
		return err
	}
	if err := r.commit(ctx, run, &lethe.RequestBatch{Audit: []*lethe.AuditEntry{entry}}); err != nil {
		return err
	}
	if !j.DryRun && j.Type != lethe.RequestExport {
		if err := e.store.Checkpoint(ctx); err != nil {
			e.log.Warn("request: checkpoint after erasure did not complete; the next one will", "request", j.ID, "err", err)
		}
	}
	return nil
}
