package engine

import (
	"fmt"
	"strings"

	"github.com/lethe-privacy/lethe"
	"github.com/lethe-privacy/lethe/keyring"
	"github.com/lethe-privacy/lethe/policy"
	"github.com/lethe-privacy/lethe/redact"
)

// Redaction on write (policy.Field.RedactOnWrite, ADR 0025): the field
// holds only its redacted text, and the values found in it are kept in a
// sealed value of their own under findingsKey(field). Keeping them apart,
// rather than sealing the original text, means that every read (API,
// listing, subject lookup, console) shows the redacted text, while the
// values stay reachable for the two things that need them: the blind
// index, so that the writer's e-mail still finds the message, and the
// subject's export.

// findingsSuffix ends the name under which a field's findings are sealed
// and indexed. Field names are lower_snake, so "text.~redacted" can be no
// field nor list item; the dot keeps the index entries out of the fields
// that make a record the subject's own person (reach.ownsAsPerson): a text
// may name someone else, whose erasure must not follow the writer's other
// identifiers.
const findingsSuffix = ".~redacted"

// findingsKey names the sealed value holding the findings of field.
func findingsKey(field string) string { return field + findingsSuffix }

// findingsField returns the text field whose findings key is name.
func findingsField(name string) (string, bool) { return strings.CutSuffix(name, findingsSuffix) }

// Found is one value redaction on write took out of a text.
type Found struct {
	Type  string `json:"type"`
	Value string `json:"value"`
}

// findingKind is the blind-index kind a found value is indexed under, or
// "" for types no subject is looked up by (names, addresses, IBANs). The
// kinds are those whose normalization the keyring knows, so that the
// finding "Erika@Example.com" and the lookup "erika@example.com" meet.
func findingKind(t redact.Entity) string {
	switch t {
	case redact.Email:
		return keyring.KindEmail
	case redact.Phone:
		return keyring.KindPhone
	case redact.IPAddress:
		return "ip_address"
	}
	return ""
}

// findingKinds lists the kinds findingKind can return, for the tenant's
// known identifier kinds.
var findingKinds = []string{keyring.KindEmail, keyring.KindPhone, "ip_address"}

// writeAnalyzer is the analyzer writes of c redact with: the tenant's, or
// nil when no field of c is redacted on write.
func (e *Engine) writeAnalyzer(ts *tenantState, c *policy.Collection) (*redact.Analyzer, error) {
	if !redactsOnWrite(c) {
		return nil, nil
	}
	return e.analyzer(ts.tenant)
}

// redactsOnWrite reports whether any field of c is redacted on write.
func redactsOnWrite(c *policy.Collection) bool {
	for _, f := range c.Fields {
		if f.RedactOnWrite != "" {
			return true
		}
	}
	return false
}

// redactOnWrite replaces, in fields, each text of a field redacted on
// write by its redaction, and puts what was found under the field's
// findings key, which sealFields seals and subjectsOf indexes. A text
// without findings gets no findings value. Any failure is returned: a text
// that cannot be redacted is not stored (fail closed).
func redactOnWrite(c *policy.Collection, a *redact.Analyzer, fields map[string]any) error {
	for _, f := range c.Fields {
		if f.RedactOnWrite == "" {
			continue
		}
		delete(fields, findingsKey(f.Name)) // never taken from a client
		text, ok := fields[f.Name].(string)
		if !ok || text == "" {
			continue
		}
		var op redact.Operator = redact.Tag{}
		if f.RedactOnWrite == policy.RedactMask {
			op = redact.Mask{}
		}
		fs := a.Analyze(text)
		if len(fs) == 0 {
			continue
		}
		out, err := redact.Apply(text, fs, op)
		if err != nil {
			return fmt.Errorf("redact %s/%s on write: %w", c.Name, f.Name, err)
		}
		found := make([]any, len(fs))
		for i, x := range fs {
			found[i] = map[string]any{"type": string(x.Type), "value": text[x.Start:x.End]}
		}
		fields[f.Name] = out
		fields[findingsKey(f.Name)] = found
	}
	return nil
}

// takeFindings removes the findings values from fields and returns them by
// text field.
func takeFindings(fields map[string]any) map[string][]Found {
	var out map[string][]Found
	for k, v := range fields {
		name, ok := findingsField(k)
		if !ok {
			continue
		}
		delete(fields, k)
		if out == nil {
			out = map[string][]Found{}
		}
		out[name] = foundList(v)
	}
	return out
}

// foundList reads a findings value as sealFields stored it.
func foundList(v any) []Found {
	raw, _ := v.([]any)
	out := make([]Found, 0, len(raw))
	for _, it := range raw {
		m, _ := it.(map[string]any)
		t, _ := m["type"].(string)
		val, _ := m["value"].(string)
		out = append(out, Found{Type: t, Value: val})
	}
	return out
}

// findingTypes is what a read shows of the findings: their types by field,
// in text order, never a value.
func findingTypes(fs map[string][]Found) map[string][]string {
	if len(fs) == 0 {
		return nil
	}
	out := make(map[string][]string, len(fs))
	for name, list := range fs {
		ts := make([]string, len(list))
		for i, f := range list {
			ts[i] = f.Type
		}
		out[name] = ts
	}
	return out
}

// findingSubjects indexes the found values of one field that a subject
// can be looked up by. A value the keyring does not normalize (a number
// the analyzer took for a phone that has no E.164 form) is not indexed;
// that is no error of the client, whose text is stored all the same.
func findingSubjects(keys *keyring.TenantKeys, key string, v any) []lethe.Subject {
	var out []lethe.Subject
	for _, f := range foundList(v) {
		kind := findingKind(redact.Entity(f.Type))
		if kind == "" {
			continue
		}
		h, err := keys.BlindIndex(kind, f.Value)
		if err != nil {
			continue
		}
		out = append(out, lethe.Subject{Kind: kind, Field: key, Hash: h})
	}
	return out
}

// exportFindings is what an export holds of a record's findings. A record
// that is the subject's through an identifier of its own holds all of
// them: the person wrote the text. A record reached only through a found
// value (someone else's message naming the subject) holds only the values
// that are the subject's own identifiers (GDPR Art. 15(4)).
func exportFindings(keys *keyring.TenantKeys, rc *reach, rec *lethe.Record, fs map[string][]Found) map[string][]Found {
	if len(fs) == 0 || rc == nil || rc.ownsDirectly(rec) {
		return fs
	}
	out := map[string][]Found{}
	for name, list := range fs {
		for _, f := range list {
			kind := findingKind(redact.Entity(f.Type))
			if kind == "" {
				continue
			}
			if h, err := keys.BlindIndex(kind, f.Value); err == nil && rc.has(lethe.Subject{Kind: kind, Hash: h}) {
				out[name] = append(out[name], f)
			}
		}
	}
	if len(out) == 0 {
		return nil
	}
	return out
}

// withFindingKinds adds findingKinds to the identifier kinds seen when any
// collection redacts on write: its messages are found by them.
func withFindingKinds(seen map[string]bool, cs []*policy.Collection) {
	for _, c := range cs {
		if redactsOnWrite(c) {
			for _, k := range findingKinds {
				seen[k] = true
			}
			return
		}
	}
}
