package engine

import (
	"context"
	"errors"
	"fmt"
	"reflect"
	"sort"
	"time"

	"github.com/google/uuid"

	"github.com/lethe-privacy/lethe"
	"github.com/lethe-privacy/lethe/redact"
	"github.com/lethe-privacy/lethe/retention"
)

// SweepResult counts what one sweep did.
type SweepResult struct {
	Started    time.Time
	Finished   time.Time
	Batches    int
	Deleted    int64
	Anonymized int64
	// Replanned counts due records whose plan had moved (a settings change
	// not yet re-planned): they got their new plan instead of an action.
	Replanned int64
	Counts    []SweepCount
	// Residual counts the personal data found in the texts anonymization
	// kept (the residual scan), by tenant, collection and type.
	Residual []ResidualCount
	// Busy: another instance on the same database holds the sweep lease
	// and is sweeping; this sweep did nothing.
	Busy bool
}

// sweepLease is the lease name instances take turns on, and sweepLeaseTTL
// how long a lease lasts without renewal: the sweep renews it before each
// batch, so it only runs out when an instance dies or stalls, and then
// its stale batch is fenced off (lethe.ErrLeaseLost).
const (
	// maxSweepConflicts is how many batches in a row may lose to
	// concurrent writers before a sweep gives up (the next one goes on).
	maxSweepConflicts = 5
	sweepLease        = "sweep"
	sweepLeaseTTL     = 30 * time.Second
)

// SweepCount is what a sweep did to one collection of one tenant.
type SweepCount struct {
	Tenant     string
	Collection string
	Action     lethe.Action
	Count      int64
}

// Sweep applies every retention action due now, batch by batch, oldest due
// first. Each batch is one transaction with its audit entries, so a sweep
// killed at any point loses nothing: the next one takes up what is still
// due, and records not yet due are never read. Only one sweep runs at a
// time in a process, and only one across instances sharing a database
// (the others return Busy). Every sweep also deletes the expired answers
// kept for Idempotency-Key retries.
func (e *Engine) Sweep(ctx context.Context) (*SweepResult, error) {
	return e.sweep(ctx, "")
}

// SweepTenant applies the retention actions due now for one tenant only,
// as Sweep does for all: under the same lease, batch by batch. Other
// tenants' due records wait for the scheduled sweep, and the server-wide
// housekeeping (expired idempotency answers, audit expiry) is left to it
// too, so that an action taken for one tenant changes nothing of another.
func (e *Engine) SweepTenant(ctx context.Context, tenant string) (*SweepResult, error) {
	if _, err := e.store.Tenant(ctx, tenant); err != nil {
		return nil, fmt.Errorf("sweep %s: %w", tenant, err)
	}
	return e.sweep(ctx, tenant)
}

// sweep is Sweep over every tenant (tenant "") or over one.
func (e *Engine) sweep(ctx context.Context, tenant string) (*SweepResult, error) {
	e.sweepMu.Lock()
	defer e.sweepMu.Unlock()
	if tenant == "" {
		e.purgeIdempotency(ctx)
	}
	now := e.now().UTC()
	res := &SweepResult{Started: now}
	lease := &lethe.Lease{Name: sweepLease, Owner: e.instance}
	renew := func() (bool, error) {
		t := e.now()
		lease.Until = t.Add(sweepLeaseTTL)
		ok, err := e.store.TakeLease(ctx, *lease, t)
		if err != nil {
			return false, fmt.Errorf("sweep: take lease: %w", err)
		}
		return ok, nil
	}
	ok, err := renew()
	if err == nil && !ok {
		ok, err = e.takeFromGone(ctx, lease)
	}
	if err != nil || !ok {
		res.Busy = err == nil
		res.Finished = e.now().UTC()
		return res, err
	}
	defer func() {
		// Hand the lease back at once, so that another instance need not
		// wait for it to run out. A failure here only delays the next
		// sweep elsewhere by the TTL.
		lease.Until = e.now()
		if _, err := e.store.TakeLease(context.WithoutCancel(ctx), *lease, lease.Until); err != nil {
			e.log.Warn("sweep: release lease", "err", err)
		}
	}()
	counts := map[SweepCount]int64{}
	left := map[ResidualCount]int64{}
	conflicts := 0
	for first := true; ; first = false {
		if !first {
			if ok, err := renew(); err != nil {
				return res, err
			} else if !ok {
				return res, fmt.Errorf("sweep: %w", lethe.ErrLeaseLost)
			}
		}
		var recs []*lethe.Record
		if tenant == "" {
			recs, err = e.store.DueRecords(ctx, now, e.sweepN)
		} else {
			recs, err = e.store.TenantDueRecords(ctx, tenant, now, e.sweepN)
		}
		if err != nil {
			return res, fmt.Errorf("sweep: find due records: %w", err)
		}
		if len(recs) == 0 {
			break
		}
		done, err := e.sweepBatch(ctx, recs, now, lease, counts)
		if errors.Is(err, lethe.ErrConflict) && conflicts < maxSweepConflicts {
			// A writer changed a record of the batch after it was read:
			// nothing was applied; read the due records again.
			conflicts++
			continue
		}
		if err != nil {
			return res, err
		}
		conflicts = 0
		res.Batches++
		res.Deleted += done.Deleted
		res.Anonymized += done.Anonymized
		res.Replanned += done.Replanned
		for _, rc := range done.Residual {
			n := rc.Count
			rc.Count = 0
			left[rc] += n
		}
		// Keep going while batches make progress: an anonymized record
		// whose delete is due too comes back in the next batch.
		if done.Deleted+done.Anonymized+done.Replanned == 0 {
			break
		}
	}
	if tenant == "" {
		if _, err := e.ExpireAudit(ctx); err != nil {
			return res, fmt.Errorf("sweep: %w", err)
		}
	}
	if res.Deleted+res.Anonymized > 0 {
		// Erased bytes must not linger in the write-ahead log.
		if err := e.store.Checkpoint(ctx); err != nil {
			return res, fmt.Errorf("sweep: checkpoint: %w", err)
		}
	}
	for k, n := range counts {
		k.Count = n
		res.Counts = append(res.Counts, k)
	}
	res.Residual = residualCounts(left)
	sort.Slice(res.Counts, func(i, j int) bool {
		a, b := res.Counts[i], res.Counts[j]
		if a.Tenant != b.Tenant {
			return a.Tenant < b.Tenant
		}
		if a.Collection != b.Collection {
			return a.Collection < b.Collection
		}
		return a.Action < b.Action
	})
	res.Finished = e.now().UTC()
	return res, nil
}

// takeFromGone takes the lease over from a holder whose process is gone
// (see holderGone); false when the holder may still be alive.
func (e *Engine) takeFromGone(ctx context.Context, l *lethe.Lease) (bool, error) {
	held, err := e.store.LeaseHolder(ctx, l.Name)
	if err != nil || !holderGone(held.Owner) {
		return false, nil
	}
	take := *l
	take.Replaces = held.Owner
	ok, err := e.store.TakeLease(ctx, take, e.now())
	if err != nil {
		return false, fmt.Errorf("sweep: take lease from %s: %w", held.Owner, err)
	}
	if ok {
		e.log.Warn("sweep: took the lease over from a process that is gone", "holder", held.Owner)
	}
	return ok, nil
}

// sweepBatch acts on one batch of due records in one transaction.
func (e *Engine) sweepBatch(ctx context.Context, recs []*lethe.Record, now time.Time, lease *lethe.Lease, total map[SweepCount]int64) (*SweepResult, error) {
	res := &SweepResult{}
	batch := &lethe.Batch{Lease: lease, Unchanged: make(map[lethe.RecordRef]time.Time)}
	var moved []lethe.PlanUpdate
	perTenant := map[string]map[SweepCount]int64{}
	left := map[ResidualCount]int64{}
	for _, r := range recs {
		ts, err := e.tenant(ctx, r.Tenant)
		if err != nil {
			return nil, fmt.Errorf("sweep %s/%s/%s: %w", r.Tenant, r.Collection, r.ID, err)
		}
		c := ts.set.Collection(r.Collection)
		if c == nil {
			// The collection left the policy: nothing says what to do, so
			// the record keeps its data and loses its plan; logged loudly.
			e.log.Warn("sweep: collection not in policy; plan cleared", "tenant", r.Tenant, "collection", r.Collection, "id", r.ID)
			moved = append(moved, lethe.PlanUpdate{Ref: r.Ref(), UpdatedAt: r.UpdatedAt})
			continue
		}
		s, err := e.settingsFor(ctx, r.Tenant, r.Collection)
		if err != nil {
			return nil, err
		}
		// The stored plan may predate a settings change whose re-planning
		// has not reached this record: decide on the current plan. Stores
		// keep milliseconds, and so does the comparison: a due time that
		// differs from the stored one below a millisecond is the same plan
		// (re-planning it would change nothing and sweep it forever).
		p := retention.Plan(c, s, planInput(r))
		if !p.Planned() || p.DueAt.Truncate(time.Millisecond).After(now) {
			moved = append(moved, lethe.PlanUpdate{Ref: r.Ref(), UpdatedAt: r.UpdatedAt, Plan: p})
			continue
		}
		batch.Unchanged[r.Ref()] = r.UpdatedAt // before anonymize moves it
		switch p.Action {
		case lethe.ActionDelete:
			batch.Deletes = append(batch.Deletes, r.Ref())
			res.Deleted++
		case lethe.ActionAnonymize:
			found, err := e.anonymize(ctx, r, now)
			if err != nil {
				return nil, err
			}
			for t, n := range found {
				left[ResidualCount{Tenant: r.Tenant, Collection: r.Collection, Type: t}] += n
			}
			batch.Updates = append(batch.Updates, r)
			res.Anonymized++
		default:
			continue
		}
		k := SweepCount{Tenant: r.Tenant, Collection: r.Collection, Action: p.Action}
		if perTenant[r.Tenant] == nil {
			perTenant[r.Tenant] = map[SweepCount]int64{}
		}
		perTenant[r.Tenant][k]++
	}
	if len(moved) > 0 {
		// Only rows that changed count as progress: a guarded update that
		// lost to a concurrent write leaves the record to the next sweep.
		n, err := e.store.UpdatePlans(ctx, moved)
		if err != nil {
			return nil, fmt.Errorf("sweep: update plans: %w", err)
		}
		res.Replanned = int64(n)
	}
	tenants := make([]string, 0, len(perTenant))
	for t := range perTenant {
		tenants = append(tenants, t)
	}
	sort.Strings(tenants)
	for _, t := range tenants {
		data := map[string]map[string]int64{}
		for k, n := range perTenant[t] {
			if data[string(k.Action)] == nil {
				data[string(k.Action)] = map[string]int64{}
			}
			data[string(k.Action)][k.Collection] = n
		}
		detail := map[string]any{"counts": data}
		if rp := residualOf(t, left); rp != nil {
			detail["residual_pii"] = rp
		}
		entry, err := e.entry(t, lethe.LogSecurity, "sweeper", "sweep.batch", detail)
		if err != nil {
			return nil, err
		}
		batch.Audit = append(batch.Audit, entry)
	}
	if len(batch.Deletes)+len(batch.Updates) == 0 {
		return res, nil
	}
	if err := e.store.ApplyBatch(ctx, batch); err != nil {
		return nil, fmt.Errorf("sweep: apply batch: %w", err)
	}
	// Counted only once applied: a batch that lost to a writer counts
	// nothing.
	res.Residual = residualCounts(left)
	for _, m := range perTenant {
		for k, n := range m {
			total[k] += n
		}
	}
	return res, nil
}

// anonymize applies the collection's operators to a record in memory:
// PII fields decrypted, transformed, sealed again; subject index entries
// dropped (an anonymized record no longer belongs to anyone); state
// anonymized; plan moved to the next rule. A field that no longer opens is
// dropped rather than kept: failing towards less data is the safe side.
//
// It returns what the residual scan found, by type: the personal data the
// analyzer still sees in the texts anonymization kept (a name the
// redactor missed, an e-mail in a field the policy keeps).
func (e *Engine) anonymize(ctx context.Context, r *lethe.Record, now time.Time) (map[redact.Entity]int64, error) {
	ts, c, err := e.collection(ctx, r.Tenant, r.Collection)
	if err != nil {
		return nil, err
	}
	s, err := e.settingsFor(ctx, r.Tenant, r.Collection)
	if err != nil {
		return nil, err
	}
	keys, err := e.keys.Tenant(ctx, r.Tenant)
	if err != nil {
		return nil, err
	}
	a, err := e.analyzer(ts.tenant)
	if err != nil {
		return nil, err
	}
	fields, err := openFields(keys, r)
	if err != nil {
		e.log.Error("anonymize: sealed fields do not open; dropping them", "tenant", r.Tenant, "collection", r.Collection, "id", r.ID, "err", err)
		fields = make(map[string]any, len(r.Plain))
		for k, v := range r.Plain {
			fields[k] = v
		}
	}
	// The values found in texts redacted on write go: they are the
	// person's data, and the redacted texts no longer hold them.
	takeFindings(fields)
	anon := retention.AnonymizeWith(c, s, fields, e.anonymizeOptions(r, a, keys, uuid.NewString))
	plain, sealed, err := sealFields(keys, c, r.Ref(), anon)
	if err != nil {
		return nil, err
	}
	left := residual(c, a, anon)
	if len(left) > 0 {
		e.log.Warn("anonymize: personal data left in kept text", "tenant", r.Tenant, "collection", r.Collection, "id", r.ID, "found", left)
	}
	// Identifiers that anonymization keeps as they were (an order's
	// customer number, X11; a message's link to its session) stay
	// findable; the others go with their values. Only unchanged values
	// are indexed again: they were valid identifiers when written, while a
	// replacement text need not be one.
	unchanged := make(map[string]any, len(anon))
	for k, v := range anon {
		if old, ok := fields[k]; ok && reflect.DeepEqual(old, v) {
			unchanged[k] = v
		}
	}
	// Field by field: a kept value that no longer normalizes (a national
	// phone number after the tenant's region changed) loses its index
	// entry rather than stopping the sweep for every tenant.
	var subjects []lethe.Subject
	for name, v := range unchanged {
		subs, err := subjectsOf(keys, c, map[string]any{name: v})
		if err != nil {
			e.log.Warn("anonymize: a kept identifier no longer normalizes; its index entry is dropped", "tenant", r.Tenant, "collection", r.Collection, "id", r.ID, "field", name)
			continue
		}
		subjects = append(subjects, subs...)
	}
	r.Plain, r.Sealed, r.Subjects = plain, sealed, subjects
	// An embedding says what its text said: it goes with the payload.
	r.Embedding = nil
	r.State = lethe.StateAnonymized
	r.UpdatedAt = now
	r.Plan = retention.Plan(c, s, planInput(r))
	return left, nil
}

// PlanSummary is the sweeper's dry run for one tenant: what will be deleted
// or anonymized up to until, by collection, action and day.
func (e *Engine) PlanSummary(ctx context.Context, tenant string, until time.Time) ([]lethe.PlanBucket, error) {
	if _, err := e.tenant(ctx, tenant); err != nil {
		return nil, err
	}
	return e.store.PlanSummary(ctx, tenant, until)
}

// Lag reports how many records are overdue now and for how long the oldest
// has been (the sweep lag).
func (e *Engine) Lag(ctx context.Context) (int64, time.Duration, error) {
	now := e.now()
	n, oldest, err := e.store.Overdue(ctx, now)
	if err != nil || n == 0 {
		return n, 0, err
	}
	return n, now.Sub(oldest), nil
}
