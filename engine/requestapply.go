package engine

import (
	"context"
	"errors"
	"reflect"
	"sort"

	"github.com/lethe-privacy/lethe"
	"github.com/lethe-privacy/lethe/policy"
	"github.com/lethe-privacy/lethe/retention"
)

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
			if errors.Is(err, lethe.ErrCrypto) || errors.Is(err, lethe.ErrInvalid) {
				// Another person's record that cannot be rewritten (a
				// sealed value that does not open, an old identifier that
				// no longer normalizes) must not stop the subject's
				// request: it is left as it is, counted and logged.
				e.log.Warn("request: another person's record naming the subject could not be redacted; left as it is",
					"tenant", rec.Tenant, "collection", rec.Collection, "id", rec.ID, "err", err)
				run.res.add(rec.Collection, countUnchanged)
				continue
			}
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
		if _, err := e.anonymize(ctx, &cp, run.now); err != nil {
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
