package engine

import (
	"context"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"sort"
	"strings"

	"github.com/lethe-privacy/lethe"
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
