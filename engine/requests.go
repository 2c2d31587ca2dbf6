package engine

import (
	"context"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"reflect"
	"sort"
	"strings"
	"time"

	"github.com/lethe-privacy/lethe"
	"github.com/lethe-privacy/lethe/keyring"
	"github.com/lethe-privacy/lethe/policy"
	"github.com/lethe-privacy/lethe/retention"
)

// RequestInput is a data-subject or data-origin request as a client sends
// it. Exactly one scope is given: Subject (identifier kind → value), Origin,
// or Tenant (every record of the tenant).
type RequestInput struct {
	Type    lethe.RequestType
	Subject map[string]string
	Origin  string
	Tenant  bool
	DryRun  bool
}

// requestResult is a job's running tally, kept in the job row and rewritten
// with every batch.
type requestResult struct {
	// Counts: collection → action → records.
	Counts map[string]map[string]int64 `json:"counts"`
	// Reach holds every index key a subject request follows: its own
	// identifiers, the links and the same_person ties found from them
	// (blind-index hashes only). It is fixed when the job starts, so that
	// erasing the record that tied an e-mail address to a device id does
	// not hide the device's records from the batches after it.
	Reach []lethe.ScopeIdentity `json:"reach,omitempty"`
}

func (r *requestResult) add(collection string, a string) {
	if r.Counts == nil {
		r.Counts = map[string]map[string]int64{}
	}
	if r.Counts[collection] == nil {
		r.Counts[collection] = map[string]int64{}
	}
	r.Counts[collection][a]++
}

// Count actions beside lethe.Action values: what an export took, and what a
// request left as it was (already anonymized).
const (
	countExport    = "export"
	countUnchanged = "unchanged"
)

// Request phases: the export (of export and export_then_anonymize) runs to
// its end before the apply phase changes anything (X4).
const (
	phaseExport = "export"
	phaseApply  = "apply"
)

func phasesOf(t lethe.RequestType) []string {
	switch t {
	case lethe.RequestExport:
		return []string{phaseExport}
	case lethe.RequestExportThenAnonymize:
		return []string{phaseExport, phaseApply}
	}
	return []string{phaseApply}
}

// SubmitRequest validates a request and stores it as a pending job for the
// request runner. An identical request (same type, scope and dry run) that
// is still pending or running is answered with that job and created false;
// the store's unique index decides, so concurrent submissions make one job.
func (e *Engine) SubmitRequest(ctx context.Context, actor, tenant string, in RequestInput) (*lethe.Request, bool, error) {
	switch in.Type {
	case lethe.RequestExport, lethe.RequestErase, lethe.RequestAnonymize, lethe.RequestExportThenAnonymize:
	case "":
		return nil, false, &lethe.FieldError{Field: "type", Reason: "required: export, erase, anonymize or export_then_anonymize"}
	default:
		return nil, false, &lethe.FieldError{Field: "type", Reason: fmt.Sprintf("unknown type %q: want export, erase, anonymize or export_then_anonymize", in.Type)}
	}
	n := 0
	if in.Subject != nil {
		n++
	}
	if in.Origin != "" {
		n++
	}
	if in.Tenant {
		n++
	}
	if n != 1 {
		return nil, false, &lethe.FieldError{Field: "scope", Reason: `give exactly one of "subject" (identifiers), "origin", or "scope": "tenant"`}
	}
	scope, key, err := e.requestScope(ctx, tenant, in)
	if err != nil {
		return nil, false, err
	}
	now := e.now()
	job, created, err := e.store.CreateRequest(ctx, &lethe.Request{
		ID: newID(), Tenant: tenant, Type: in.Type, Scope: scope, ScopeKey: key, DryRun: in.DryRun,
		Actor: actor, State: lethe.RequestPending, CreatedAt: now,
	})
	if err != nil {
		return nil, false, err
	}
	if created {
		if err := e.audit(ctx, tenant, lethe.LogSecurity, actor, "request.create", map[string]any{
			"request": job.ID, "type": job.Type, "scope": job.Scope.Kind, "dry_run": job.DryRun,
		}); err != nil {
			return nil, false, err
		}
	}
	return job, created, nil
}

// requestScope turns the input's scope into what is stored: identifier
// values become blind-index hashes at once, so no job row, receipt or
// audit entry ever holds them.
func (e *Engine) requestScope(ctx context.Context, tenant string, in RequestInput) (lethe.RequestScope, string, error) {
	switch {
	case in.Origin != "":
		if !originPattern.MatchString(in.Origin) {
			return lethe.RequestScope{}, "", &lethe.FieldError{Field: "origin", Reason: "want 1-64 lower-case characters of a-z, 0-9, '.', '_' and '-'"}
		}
		if _, err := e.tenant(ctx, tenant); err != nil {
			return lethe.RequestScope{}, "", err
		}
		return lethe.RequestScope{Kind: lethe.ScopeOrigin, Origin: in.Origin}, "origin:" + in.Origin, nil
	case in.Tenant:
		if _, err := e.tenant(ctx, tenant); err != nil {
			return lethe.RequestScope{}, "", err
		}
		return lethe.RequestScope{Kind: lethe.ScopeTenant}, "tenant", nil
	}
	if len(in.Subject) == 0 {
		return lethe.RequestScope{}, "", &lethe.FieldError{Field: "subject", Reason: `name at least one identifier, e.g. {"email": "..."}`}
	}
	kinds, err := e.SubjectKinds(ctx, tenant)
	if err != nil {
		return lethe.RequestScope{}, "", err
	}
	keys, err := e.keys.Tenant(ctx, tenant)
	if err != nil {
		return lethe.RequestScope{}, "", err
	}
	sc := lethe.RequestScope{Kind: lethe.ScopeSubject}
	for kind, v := range in.Subject {
		i := sort.SearchStrings(kinds, kind)
		if i == len(kinds) || kinds[i] != kind {
			return lethe.RequestScope{}, "", &lethe.FieldError{Field: "subject." + kind, Reason: fmt.Sprintf("not an identifier of this tenant's collections; known: %s", strings.Join(kinds, ", "))}
		}
		h, err := keys.BlindIndex(kind, v)
		if err != nil {
			return lethe.RequestScope{}, "", &lethe.FieldError{Field: "subject." + kind, Reason: fmt.Sprintf("not a valid %s", kind)}
		}
		sc.Identifiers = append(sc.Identifiers, lethe.ScopeIdentity{Kind: kind, Hash: h})
	}
	sortIdentities(sc.Identifiers)
	parts := make([]string, len(sc.Identifiers))
	for i, id := range sc.Identifiers {
		parts[i] = id.Kind + ":" + hex.EncodeToString(id.Hash)
	}
	return sc, "subject:" + strings.Join(parts, ","), nil
}

// Request returns one of a tenant's request jobs.
func (e *Engine) Request(ctx context.Context, tenant, id string) (*lethe.Request, error) {
	return e.store.Request(ctx, tenant, id)
}

// RequestItems pages through what a job did (or would do) per record.
func (e *Engine) RequestItems(ctx context.Context, tenant, id string, action lethe.Action, after int64, limit int) ([]lethe.RequestItem, error) {
	if _, err := e.store.Request(ctx, tenant, id); err != nil {
		return nil, err
	}
	if limit <= 0 || limit > 10000 {
		limit = 1000
	}
	return e.store.RequestItems(ctx, lethe.ItemQuery{Tenant: tenant, Request: id, Action: action, AfterSeq: after, Limit: limit})
}

// RequestCounts decodes a job's counts: collection → action → records.
func RequestCounts(j *lethe.Request) map[string]map[string]int64 {
	var res requestResult
	if len(j.Result) > 0 {
		json.Unmarshal(j.Result, &res)
	}
	if res.Counts == nil {
		res.Counts = map[string]map[string]int64{}
	}
	return res.Counts
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

// applyBatch decides, per record, what the request does: a held record is
// kept and listed with its reason (X9); a subject found only in a list of
// someone else's record loses just those list entries; the rest is erased
// or anonymized. A dry run decides the same and records the same items, but
// its batch carries no record changes.
func (r *RequestRunner) applyBatch(ctx context.Context, run *jobRun, recs []*lethe.Record, b *lethe.RequestBatch) error {
	e, j := r.e, run.job
	for _, rec := range recs {
		c := run.ts.set.Collection(rec.Collection)
		if c == nil {
			e.log.Warn("request: collection not in policy; record left as it is", "tenant", rec.Tenant, "collection", rec.Collection, "id", rec.ID)
			run.res.add(rec.Collection, countUnchanged)
			continue
		}
		s, err := e.settingsFor(ctx, rec.Tenant, rec.Collection)
		if err != nil {
			return err
		}
		if held, until, reason := retention.Hold(c, s, planInput(rec), run.now); held {
			b.Items = append(b.Items, lethe.RequestItem{Collection: rec.Collection, RecordID: rec.ID, Action: lethe.ActionHold, Reason: reason, Until: until.UTC()})
			run.res.add(rec.Collection, string(lethe.ActionHold))
			continue
		}
		if run.reach != nil && !run.reach.owns(rec) {
			upd, fields, err := r.redact(run, c, s, rec)
			if err != nil {
				return err
			}
			if upd == nil {
				run.res.add(rec.Collection, countUnchanged)
				continue
			}
			b.Items = append(b.Items, lethe.RequestItem{Collection: rec.Collection, RecordID: rec.ID, Action: lethe.ActionRedact, Fields: fields})
			run.res.add(rec.Collection, string(lethe.ActionRedact))
			if !j.DryRun {
				b.Updates = append(b.Updates, upd)
			}
			continue
		}
		if j.Type == lethe.RequestErase {
			b.Items = append(b.Items, lethe.RequestItem{Collection: rec.Collection, RecordID: rec.ID, Action: lethe.ActionDelete})
			run.res.add(rec.Collection, string(lethe.ActionDelete))
			if !j.DryRun {
				b.Deletes = append(b.Deletes, rec.Ref())
			}
			continue
		}
		if rec.State == lethe.StateAnonymized {
			run.res.add(rec.Collection, countUnchanged)
			continue
		}
		before, err := openFields(run.keys, rec)
		if err != nil {
			before = nil // anonymize drops what does not open; every sealed field counts as changed
		}
		cp := *rec
		if err := e.anonymize(ctx, &cp, run.now); err != nil {
			return err
		}
		after, err := openFields(run.keys, &cp)
		if err != nil {
			return err
		}
		b.Items = append(b.Items, lethe.RequestItem{Collection: rec.Collection, RecordID: rec.ID, Action: lethe.ActionAnonymize, Fields: changedFields(rec, before, after)})
		run.res.add(rec.Collection, string(lethe.ActionAnonymize))
		if !j.DryRun {
			b.Updates = append(b.Updates, &cp)
		}
	}
	if !j.DryRun && len(b.Deletes)+len(b.Updates) > 0 {
		counts := map[string]map[string]int{}
		for _, it := range b.Items {
			if it.Action == lethe.ActionHold {
				continue
			}
			if counts[string(it.Action)] == nil {
				counts[string(it.Action)] = map[string]int{}
			}
			counts[string(it.Action)][it.Collection]++
		}
		entry, err := e.entry(j.Tenant, lethe.LogSecurity, "request-runner", "request.batch", map[string]any{"request": j.ID, "counts": counts})
		if err != nil {
			return err
		}
		b.Audit = append(b.Audit, entry)
	}
	return nil
}

// redact removes the subject's entries from the record's lists (an
// additional contact person of another customer's order) and returns the
// rewritten record and the list fields changed; nil when nothing matched.
func (r *RequestRunner) redact(run *jobRun, c *policy.Collection, s *lethe.Settings, rec *lethe.Record) (*lethe.Record, []string, error) {
	fields, err := openFields(run.keys, rec)
	if err != nil {
		return nil, nil, err
	}
	var changed []string
	for _, f := range c.Fields {
		items, ok := fields[f.Name].([]any)
		if !ok {
			continue
		}
		kept := make([]any, 0, len(items))
		for _, raw := range items {
			if !itemMatches(run, f, raw) {
				kept = append(kept, raw)
			}
		}
		if len(kept) != len(items) {
			fields[f.Name] = kept
			changed = append(changed, f.Name)
		}
	}
	if len(changed) == 0 {
		return nil, nil, nil
	}
	cp := *rec
	cp.Plain, cp.Sealed, err = sealFields(run.keys, c, rec.Ref(), fields)
	if err != nil {
		return nil, nil, err
	}
	if cp.Subjects, err = subjectsOf(run.keys, c, fields); err != nil {
		return nil, nil, err
	}
	cp.UpdatedAt = run.now
	cp.Plan = retention.Plan(c, s, planInput(&cp))
	sort.Strings(changed)
	return &cp, changed, nil
}

func itemMatches(run *jobRun, f *policy.Field, raw any) bool {
	m, _ := raw.(map[string]any)
	for _, it := range f.Items {
		if it.Subject == "" {
			continue
		}
		v, _ := identifierText(m[it.Name])
		if v == "" {
			continue
		}
		h, err := run.keys.BlindIndex(it.Subject, v)
		if err == nil && run.reach.has(lethe.Subject{Kind: it.Subject, Hash: h}) {
			return true
		}
	}
	return false
}

// changedFields names the fields whose value anonymization changed or
// removed. Without the old values (they did not open), every field of the
// record counts.
func changedFields(rec *lethe.Record, before, after map[string]any) []string {
	var out []string
	if before == nil {
		for k := range rec.Sealed {
			out = append(out, k)
		}
		for k, v := range rec.Plain {
			if nv, ok := after[k]; !ok || !reflect.DeepEqual(v, nv) {
				out = append(out, k)
			}
		}
	} else {
		for k, v := range before {
			if nv, ok := after[k]; !ok || !reflect.DeepEqual(v, nv) {
				out = append(out, k)
			}
		}
	}
	sort.Strings(out)
	return out
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

// originWarnings says, for an origin request that changed records the
// marketplace needs, that shipping and invoicing can no longer be
// guaranteed for them (X3).
func originWarnings(ts *tenantState, j *lethe.Request, counts map[string]map[string]int64) []string {
	if j.Scope.Kind != lethe.ScopeOrigin || j.Type == lethe.RequestExport {
		return nil
	}
	var n int64
	var colls []string
	for coll, byAction := range counts {
		c := ts.set.Collection(coll)
		if c == nil || !hasOriginRule(c, j.Scope.Origin) {
			continue
		}
		k := byAction[string(lethe.ActionDelete)] + byAction[string(lethe.ActionAnonymize)]
		if k > 0 {
			n += k
			colls = append(colls, coll)
		}
	}
	if n == 0 {
		return nil
	}
	sort.Strings(colls)
	verb := "were"
	if j.DryRun {
		verb = "would be"
	}
	action := "anonymized"
	if j.Type == lethe.RequestErase {
		action = "erased"
	}
	return []string{fmt.Sprintf("%d records of origin %s (%s) %s %s: shipping and invoicing can no longer be guaranteed for the affected orders",
		n, j.Scope.Origin, strings.Join(colls, ", "), verb, action)}
}

func hasOriginRule(c *policy.Collection, origin string) bool {
	for _, r := range c.Rules {
		if r.When == nil {
			continue
		}
		for _, o := range r.When.Origin {
			if o == origin {
				return true
			}
		}
	}
	return false
}

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

// OriginRule is one protection rule bound to an origin, and whether the
// tenant has switched it on by holding records of that origin (X1).
type OriginRule struct {
	Origin     string
	Collection string
	Rule       string
	Reason     string
	Active     bool
	Since      time.Time // the first record of the origin; zero when inactive
	Records    int64     // the tenant's records of the origin, all collections
}

// Origins lists the tenant's origin rules (rules with when.origin). A rule
// is active from the first record of its origin on: the protection
// switches itself on with the marketplace connection's first data.
func (e *Engine) Origins(ctx context.Context, tenant string) ([]OriginRule, error) {
	ts, err := e.tenant(ctx, tenant)
	if err != nil {
		return nil, err
	}
	stats, err := e.store.Origins(ctx, tenant)
	if err != nil {
		return nil, err
	}
	byOrigin := map[string]lethe.OriginStat{}
	for _, s := range stats {
		byOrigin[s.Origin] = s
	}
	var out []OriginRule
	for _, c := range ts.set.Collections() {
		for _, rule := range c.Rules {
			if rule.When == nil {
				continue
			}
			for _, o := range rule.When.Origin {
				st, ok := byOrigin[o]
				or := OriginRule{Origin: o, Collection: c.Name, Rule: retention.RuleName(rule), Reason: rule.Reason, Active: ok && st.Records > 0, Records: st.Records}
				if or.Active {
					or.Since = st.First
				}
				out = append(out, or)
			}
		}
	}
	sort.Slice(out, func(i, j int) bool {
		if out[i].Origin != out[j].Origin {
			return out[i].Origin < out[j].Origin
		}
		if out[i].Collection != out[j].Collection {
			return out[i].Collection < out[j].Collection
		}
		return out[i].Rule < out[j].Rule
	})
	return out, nil
}
