package engine

import (
	"context"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"strconv"
	"sync"
	"time"

	"github.com/lethe-privacy/lethe"
	"github.com/lethe-privacy/lethe/audit"
	"github.com/lethe-privacy/lethe/keyring"
)

// Rewrap scopes and states.
const (
	ScopeMaster = "master"
	ScopeTenant = "tenant"

	RewrapRunning = "running"
	RewrapDone    = "done"
)

// RewrapJob is the stored progress of one rewrap: moving every wrapped key
// to a new master key version (scope master), or re-sealing every record
// value of a tenant under a new data key version (scope tenant). It lives
// in the meta table, saved after every batch, so a rewrap stopped by a
// crash resumes where it was (ResumeRewraps, run by lethe serve at start,
// or lethe keys rewrap).
type RewrapJob struct {
	Scope  string `json:"scope"`
	Tenant string `json:"tenant,omitempty"`
	// Target is the master key version id, or the data key version.
	Target string `json:"target"`
	// Total is how many values (wrapped keys) were on older versions when
	// the job started; Done how many it moved since.
	Total int64  `json:"total"`
	Done  int64  `json:"done"`
	State string `json:"state"`
	// After is the tenant job's cursor: the last record it went past.
	After lethe.RecordRef `json:"after"`
	// Passes counts full passes: writers that read a record before the
	// rotation and wrote it back after may leave a value behind, which
	// the next pass moves.
	Passes   int        `json:"passes"`
	Started  time.Time  `json:"started"`
	Finished *time.Time `json:"finished,omitempty"`
}

func jobKey(scope, tenant string) string {
	if scope == ScopeMaster {
		return "rewrap:master"
	}
	return "rewrap:tenant:" + tenant
}

func (e *Engine) saveJob(ctx context.Context, j *RewrapJob) error {
	b, err := json.Marshal(j)
	if err != nil {
		return err
	}
	if err := e.store.SetMeta(ctx, jobKey(j.Scope, j.Tenant), b); err != nil {
		return fmt.Errorf("save rewrap progress: %w", err)
	}
	e.rw.note(*j)
	return nil
}

// RewrapStatus returns the stored job of a scope ("" tenant for the
// master key); lethe.ErrNotFound when there never was one.
func (e *Engine) RewrapStatus(ctx context.Context, scope, tenant string) (*RewrapJob, error) {
	b, err := e.store.Meta(ctx, jobKey(scope, tenant))
	if err != nil {
		return nil, err
	}
	var j RewrapJob
	if err := json.Unmarshal(b, &j); err != nil {
		return nil, fmt.Errorf("rewrap progress does not parse: %w", err)
	}
	return &j, nil
}

// rewraps keeps one rewrap per scope at a time in this process; several
// processes may run one each safely (every write is guarded), they only
// waste work.
type rewraps struct {
	mu      sync.Mutex
	running map[string]bool
	// last is each job's progress as this process last saved it (metrics).
	last map[string]RewrapJob
}

func (r *rewraps) note(j RewrapJob) {
	r.mu.Lock()
	defer r.mu.Unlock()
	if r.last == nil {
		r.last = map[string]RewrapJob{}
	}
	r.last[jobKey(j.Scope, j.Tenant)] = j
}

// RewrapRemaining is what the rewraps this process runs still have to
// move, by scope (the lethe_key_rewrap_remaining metric): values or
// wrapped keys on an older version when the job started, minus those
// moved since. Zero when none runs.
func (e *Engine) RewrapRemaining() (master, tenant int64) {
	e.rw.mu.Lock()
	defer e.rw.mu.Unlock()
	for _, j := range e.rw.last {
		if j.State != RewrapRunning {
			continue
		}
		left := max(j.Total-j.Done, 0)
		if j.Scope == ScopeMaster {
			master += left
		} else {
			tenant += left
		}
	}
	return master, tenant
}

func (r *rewraps) begin(key string) bool {
	r.mu.Lock()
	defer r.mu.Unlock()
	if r.running == nil {
		r.running = map[string]bool{}
	}
	if r.running[key] {
		return false
	}
	r.running[key] = true
	return true
}

func (r *rewraps) end(key string) {
	r.mu.Lock()
	delete(r.running, key)
	r.mu.Unlock()
}

// rewrapBatch is how many records one reseal transaction takes.
const rewrapBatch = 500

func (e *Engine) finishJob(ctx context.Context, job *RewrapJob, progress func(RewrapJob)) (*RewrapJob, error) {
	now := e.now()
	job.State, job.Finished = RewrapDone, &now
	if err := e.saveJob(ctx, job); err != nil {
		return job, err
	}
	if progress != nil {
		progress(*job)
	}
	return job, nil
}

// maxRewrapPasses bounds the passes of one tenant rewrap: a writer of
// another process stops sealing under a retired version within seconds
// (keyring versionCheckEvery), so a handful of passes always does.
const maxRewrapPasses = 50

// RewrapTenant re-seals every record value of a tenant that an older data
// key version sealed, under the current version, online: a record's sealed
// fields are replaced only while they are still the bytes that were read
// (lethe.KeyRotationStore.ResealRecords), so a write in between wins and
// the next pass looks at it again. Progress (the cursor) is saved after
// every batch; a stopped rewrap resumes from it. It ends when a full count
// finds no value on an older version.
func (e *Engine) RewrapTenant(ctx context.Context, tenant string, progress func(RewrapJob)) (*RewrapJob, error) {
	rs, err := e.rotationStore()
	if err != nil {
		return nil, err
	}
	key := jobKey(ScopeTenant, tenant)
	if !e.rw.begin(key) {
		return nil, fmt.Errorf("a rewrap of %s is running in this process: %w", tenant, lethe.ErrConflict)
	}
	defer e.rw.end(key)
	keys, err := e.keys.Tenant(ctx, tenant)
	if err != nil {
		return nil, err
	}
	target := keys.CurrentVersion()
	e.writeBarrier()
	job, err := e.RewrapStatus(ctx, ScopeTenant, tenant)
	if errors.Is(err, lethe.ErrNotFound) || (err == nil && job.Target != strconv.FormatUint(uint64(target), 10)) {
		if err := e.startTenantJob(ctx, tenant, target); err != nil {
			return nil, err
		}
		job, err = e.RewrapStatus(ctx, ScopeTenant, tenant)
	}
	if err != nil {
		return nil, err
	}
	job.State, job.Finished = RewrapRunning, nil
	for {
		recs, err := rs.SealedRecords(ctx, tenant, job.After, rewrapBatch)
		if err != nil {
			return job, err
		}
		if len(recs) == 0 {
			counts, err := e.valueVersions(ctx, tenant)
			if err != nil {
				return job, err
			}
			var left int64
			for v, n := range counts {
				if v != keys.CurrentVersion() {
					left += n
				}
			}
			if left == 0 {
				return e.finishJob(ctx, job, progress)
			}
			job.Passes++
			job.After = lethe.RecordRef{}
			if job.Passes >= maxRewrapPasses {
				_ = e.saveJob(ctx, job)
				return job, fmt.Errorf("rewrap of %s: %d values still on older versions after %d passes: %w", tenant, left, job.Passes, lethe.ErrUnavailable)
			}
			if err := sleepCtx(ctx, time.Second); err != nil {
				return job, err
			}
			continue
		}
		batch, moved, err := resealBatch(keys, recs)
		if err != nil {
			return job, err
		}
		if _, err := rs.ResealRecords(ctx, batch); err != nil {
			return job, err
		}
		job.Done += moved
		last := recs[len(recs)-1]
		job.After = lethe.RecordRef{Tenant: tenant, Collection: last.Collection, ID: last.ID}
		if err := e.saveJob(ctx, job); err != nil {
			return job, err
		}
		if progress != nil {
			progress(*job)
		}
	}
}

// resealBatch opens every value of recs not under the current version and
// seals it again under it. Values already current keep their bytes.
func resealBatch(keys *keyring.TenantKeys, recs []*lethe.Record) ([]lethe.Reseal, int64, error) {
	cur := keys.CurrentVersion()
	var out []lethe.Reseal
	var moved int64
	for _, r := range recs {
		var nu map[string][]byte
		for name, env := range r.Sealed {
			v, err := keyring.KeyVersion(env)
			if err != nil {
				return nil, 0, fmt.Errorf("%s/%s/%s: %w", r.Collection, r.ID, name, err)
			}
			if v == cur {
				continue
			}
			ad := keyring.AD{Tenant: r.Tenant, Collection: r.Collection, Record: r.ID, Field: name}
			pt, err := keys.Open(env, ad)
			if err != nil {
				return nil, 0, fmt.Errorf("rewrap %s/%s/%s: %w", r.Collection, r.ID, name, err)
			}
			fresh, err := keys.Seal(pt, ad)
			clear(pt)
			if err != nil {
				return nil, 0, err
			}
			if nu == nil {
				nu = make(map[string][]byte, len(r.Sealed))
				for k, v := range r.Sealed {
					nu[k] = v
				}
			}
			nu[name] = fresh
			moved++
		}
		if nu != nil {
			out = append(out, lethe.Reseal{Ref: r.Ref(), Old: r.Sealed, New: nu})
		}
	}
	return out, moved, nil
}

func sleepCtx(ctx context.Context, d time.Duration) error {
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-ctx.Done():
		return ctx.Err()
	case <-t.C:
		return nil
	}
}

// valueVersions counts a tenant's sealed record values per data key
// version (a read-only pass over the records that hold any).
func (e *Engine) valueVersions(ctx context.Context, tenant string) (map[uint32]int64, error) {
	rs, err := e.rotationStore()
	if err != nil {
		return nil, err
	}
	counts := map[uint32]int64{}
	var after lethe.RecordRef
	for {
		recs, err := rs.SealedRecords(ctx, tenant, after, 2000)
		if err != nil {
			return nil, err
		}
		if len(recs) == 0 {
			return counts, nil
		}
		for _, r := range recs {
			for _, env := range r.Sealed {
				if v, err := keyring.KeyVersion(env); err == nil {
					counts[v]++
				}
			}
		}
		last := recs[len(recs)-1]
		after = lethe.RecordRef{Tenant: tenant, Collection: last.Collection, ID: last.ID}
	}
}

// auditVersions counts a tenant's audit entries with a sealed part per
// data key version. They cannot be re-sealed (the chain hashes them), so
// a version stays until its entries age out of their log.
func (e *Engine) auditVersions(ctx context.Context, tenant string) (map[uint32]int64, error) {
	counts := map[uint32]int64{}
	for _, log := range []lethe.Log{lethe.LogRuntime, lethe.LogManager} {
		if !audit.Sealed(log) {
			continue
		}
		q := lethe.AuditQuery{Tenant: tenant, Log: log, Limit: 5000}
		for {
			entries, err := e.aud.raw.AuditEntries(ctx, q)
			if err != nil {
				return nil, err
			}
			for _, en := range entries {
				var data map[string]any
				if json.Unmarshal(en.Data, &data) != nil {
					continue
				}
				s, ok := data[sealedKey].(string)
				if !ok {
					continue
				}
				if env, err := base64.StdEncoding.DecodeString(s); err == nil {
					if v, err := keyring.KeyVersion(env); err == nil {
						counts[v]++
					}
				}
			}
			if len(entries) < q.Limit {
				break
			}
			q.AfterSeq = entries[len(entries)-1].Seq
		}
	}
	return counts, nil
}

// RewrapInBackground runs a tenant's rewrap in the background (after a
// rotation through the API); an error is logged, and the rewrap resumes
// at the next start.
func (e *Engine) RewrapInBackground(tenant string) {
	e.bg.Add(1)
	go func() {
		defer e.bg.Done()
		if _, err := e.RewrapTenant(e.bgCtx, tenant, nil); err != nil && !errors.Is(err, context.Canceled) {
			e.log.Error("data key rewrap stopped; it resumes at the next start", "tenant", tenant, "err", err)
		}
	}()
}

// ResumeRewraps runs, in the background, every rewrap a crash or a stop
// left unfinished. lethe serve calls it at start.
func (e *Engine) ResumeRewraps(ctx context.Context) error {
	var todo []func()
	if j, err := e.RewrapStatus(ctx, ScopeMaster, ""); err == nil && j.State != RewrapDone {
		todo = append(todo, func() {
			if _, err := e.RewrapMasterKey(e.bgCtx, nil); err != nil && !errors.Is(err, context.Canceled) {
				e.log.Error("master key rewrap stopped", "err", err)
			}
		})
	}
	tenants, err := e.store.Tenants(ctx)
	if err != nil {
		return err
	}
	for _, t := range tenants {
		j, err := e.RewrapStatus(ctx, ScopeTenant, t.ID)
		if err != nil || j.State == RewrapDone {
			continue
		}
		id := t.ID
		todo = append(todo, func() {
			if _, err := e.RewrapTenant(e.bgCtx, id, nil); err != nil && !errors.Is(err, context.Canceled) {
				e.log.Error("data key rewrap stopped", "tenant", id, "err", err)
			}
		})
	}
	for _, f := range todo {
		e.bg.Add(1)
		go func() {
			defer e.bg.Done()
			f()
		}()
	}
	return nil
}
