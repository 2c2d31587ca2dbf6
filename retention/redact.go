package retention

import (
	"github.com/lethe-privacy/lethe"
	"github.com/lethe-privacy/lethe/policy"
)

// Redactor returns text with the personal data found in it replaced, as
// the field's redact mode says (policy.Field.Redact). False erases the
// field instead: a redactor that cannot do its job (no key for the hash
// mode) must not let the text through.
type Redactor func(f *policy.Field, text string) (string, bool)

// Options are what Anonymize needs beyond the policy and the settings.
type Options struct {
	// NewUUID makes the values of OpUUID; nil gives random version 4 UUIDs.
	NewUUID func() string
	// Redact applies OpRedact; nil erases every field anonymized by redact,
	// since keeping the text unredacted is the worse failure.
	Redact Redactor
}

// AnonymizeWith is Anonymize with the options; see Anonymize.
func AnonymizeWith(c *policy.Collection, s *lethe.Settings, fields map[string]any, o Options) map[string]any {
	if o.NewUUID == nil {
		o.NewUUID = randomUUID
	}
	a := anonymizer{s: s, newUUID: o.NewUUID, redact: o.Redact}
	return a.object(c.Fields, fields)
}

// redactText applies OpRedact to one value. A value that is no string (a
// null) has nothing to redact and is kept.
func (a anonymizer) redactText(f *policy.Field, v any) (any, bool) {
	text, ok := v.(string)
	if !ok {
		return deepCopy(v), true
	}
	if a.redact == nil {
		return nil, false
	}
	out, ok := a.redact(f, text)
	if !ok {
		return nil, false
	}
	return out, true
}

// KeptTexts calls fn with every text anonymization kept from the person's
// own words: string and text fields anonymized by keep or redact, in the
// record and in the items of lists anonymized by each. Texts that
// anonymization wrote itself (placeholder, replace, uuid) are left out.
// It is what the residual scan reads after anonymizing: personal data it
// finds there was missed by the redactor or kept by a keep the policy's
// author thought safe.
func KeptTexts(c *policy.Collection, fields map[string]any, fn func(f *policy.Field, text string)) {
	keptTexts(c.Fields, fields, fn)
}

func keptTexts(decl []*policy.Field, fields map[string]any, fn func(f *policy.Field, text string)) {
	for _, f := range decl {
		v, ok := fields[f.Name]
		if !ok {
			continue
		}
		op := f.Anonymize
		if op == "" {
			op = policy.OpKeep
			if f.IsPII() {
				op = policy.OpErase
			}
		}
		switch {
		case op == policy.OpEach:
			list, _ := v.([]any)
			for _, it := range list {
				if m, ok := it.(map[string]any); ok {
					keptTexts(f.Items, m, fn)
				}
			}
		case op == policy.OpKeep || op == policy.OpRedact:
			if s, ok := v.(string); ok && s != "" && f.Subject == "" && f.Link == "" && (f.Type == policy.TypeString || f.Type == policy.TypeText) {
				fn(f, s)
			}
		}
	}
}
