package engine

import (
	"context"
	"fmt"
	"slices"
	"strings"

	"github.com/lethe-privacy/lethe"
	"github.com/lethe-privacy/lethe/keyring"
	"github.com/lethe-privacy/lethe/policy"
	"github.com/lethe-privacy/lethe/redact"
	"github.com/lethe-privacy/lethe/retention"
)

// ResidualCount is how much personal data the residual scan found in what
// anonymization kept, for one collection of one tenant and one entity
// type. Only counts leave the scan, never a value or a span.
type ResidualCount struct {
	Tenant     string
	Collection string
	Type       redact.Entity
	Count      int64
}

// analyzer returns the tenant's analyzer: one per phone region, built once
// and shared (an Analyzer holds no mutable state).
func (e *Engine) analyzer(t *lethe.Tenant) (*redact.Analyzer, error) {
	region := t.PhoneRegion
	if region == "" {
		region = lethe.DefaultPhoneRegion
	}
	if a, ok := e.redactors.Load(region); ok {
		return a.(*redact.Analyzer), nil
	}
	a, err := redact.New(redact.Options{Region: region})
	if err != nil {
		return nil, fmt.Errorf("tenant %s: %w: %w", t.ID, lethe.ErrInvalid, err)
	}
	got, _ := e.redactors.LoadOrStore(region, a)
	return got.(*redact.Analyzer), nil
}

// redactOperator is the operator of a redact mode (policy.RedactModes);
// hash uses the tenant's keys. Seal is no mode: anonymized text must not be
// restorable.
func redactOperator(mode string, keys *keyring.TenantKeys) (redact.Operator, error) {
	switch mode {
	case "", policy.RedactTag:
		return redact.Tag{}, nil
	case policy.RedactMask:
		return redact.Mask{}, nil
	case policy.RedactHash:
		return redact.Hash{MAC: keys.RedactionMAC}, nil
	}
	return nil, &lethe.FieldError{Field: "operator", Reason: fmt.Sprintf("unknown redaction operator %q; want one of %s", mode, strings.Join(policy.RedactModes, ", "))}
}

// Redact finds the personal data in an ad-hoc text of the tenant and
// returns the text with it replaced by operator (tag when empty, or mask)
// and the findings, which hold no values. Nothing is stored.
//
// The hash mode is not offered here: its tags are what anonymized texts
// keep, and an endpoint that hashes whatever it is sent would let any
// reader confirm a guessed address against them.
func (e *Engine) Redact(ctx context.Context, tenant, text, operator string) (string, []redact.Finding, error) {
	ts, err := e.tenant(ctx, tenant)
	if err != nil {
		return "", nil, err
	}
	a, err := e.analyzer(ts.tenant)
	if err != nil {
		return "", nil, err
	}
	switch operator {
	case "", policy.RedactTag, policy.RedactMask:
	case policy.RedactHash:
		return "", nil, &lethe.FieldError{Field: "operator", Reason: "hash is applied on anonymization only, never ad hoc (its tags would confirm guesses about anonymized texts); want tag or mask"}
	default:
		return "", nil, &lethe.FieldError{Field: "operator", Reason: fmt.Sprintf("unknown redaction operator %q; want tag or mask", operator)}
	}
	op, err := redactOperator(operator, nil)
	if err != nil {
		return "", nil, err
	}
	fs := a.Analyze(text)
	out, err := redact.Apply(text, fs, op)
	if err != nil {
		return "", nil, err
	}
	return out, fs, nil
}

// anonymizeOptions are the options anonymization of the tenant's records
// runs with: redact by the field's mode with the tenant's analyzer and
// keys. A field whose text cannot be redacted is erased (fail closed), and
// logged without its value.
func (e *Engine) anonymizeOptions(r *lethe.Record, a *redact.Analyzer, keys *keyring.TenantKeys, newUUID func() string) retention.Options {
	return retention.Options{NewUUID: newUUID, Redact: func(f *policy.Field, text string) (string, bool) {
		op, err := redactOperator(f.Redact, keys)
		var out string
		if err == nil {
			out, err = redact.Apply(text, a.Analyze(text), op)
		}
		if err != nil {
			e.log.Error("anonymize: text not redacted; the field is erased", "tenant", r.Tenant, "collection", r.Collection, "id", r.ID, "field", f.Name, "err", err)
			return "", false
		}
		return out, true
	}}
}

// residual runs the analyzer over every text anonymization kept and counts
// its findings by type (retention.KeptTexts says which texts).
func residual(c *policy.Collection, a *redact.Analyzer, anon map[string]any) map[redact.Entity]int64 {
	var out map[redact.Entity]int64
	retention.KeptTexts(c, anon, func(_ *policy.Field, text string) {
		for _, f := range a.Analyze(text) {
			if out == nil {
				out = map[redact.Entity]int64{}
			}
			out[f.Type]++
		}
	})
	return out
}

// residualCounts flattens per-record residual counts into sorted rows.
func residualCounts(m map[ResidualCount]int64) []ResidualCount {
	out := make([]ResidualCount, 0, len(m))
	for k, n := range m {
		k.Count = n
		out = append(out, k)
	}
	slices.SortFunc(out, func(x, y ResidualCount) int {
		switch {
		case x.Tenant != y.Tenant:
			return strings.Compare(x.Tenant, y.Tenant)
		case x.Collection != y.Collection:
			return strings.Compare(x.Collection, y.Collection)
		}
		return strings.Compare(string(x.Type), string(y.Type))
	})
	return out
}

// residualOf is one tenant's residual counts as the sweep's audit entry
// holds them: collection → type → count; nil when there are none.
func residualOf(tenant string, m map[ResidualCount]int64) map[string]map[string]int64 {
	var out map[string]map[string]int64
	for k, n := range m {
		if k.Tenant != tenant {
			continue
		}
		if out == nil {
			out = map[string]map[string]int64{}
		}
		if out[k.Collection] == nil {
			out[k.Collection] = map[string]int64{}
		}
		out[k.Collection][string(k.Type)] += n
	}
	return out
}
