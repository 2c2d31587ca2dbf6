package retention

import (
	"crypto/rand"
	"fmt"

	"github.com/lethe-privacy/lethe"
	"github.com/lethe-privacy/lethe/policy"
)

// DefaultPlaceholder replaces names (OpPlaceholder) when the tenant has not
// chosen a placeholder text of its own (X7, X8).
const DefaultPlaceholder = "Anonymous"

// Anonymize returns a new field map with every field's operator applied;
// the input map and the values in it are not modified, and the result
// shares no map or list with the input. It is deterministic except for
// OpUUID, which calls newUUID (nil falls back to a random version 4 UUID).
//
// Values are decoded JSON (map[string]any, []any, string, float64, bool,
// nil). Fields the collection does not declare are kept as they are: the
// engine refuses undeclared fields at write time, and dropping data here
// would hide that mistake rather than fix it. A field without an operator
// is erased when it is PII and kept otherwise; an operator this version
// does not know erases the field, because keeping personal data by accident
// is the worse failure.
//
// Anonymize is idempotent: applying it to its own result changes nothing
// but fresh UUIDs, so a sweep that crashed half-way can simply run again.
func Anonymize(c *policy.Collection, s *lethe.Settings, fields map[string]any, newUUID func() string) map[string]any {
	return AnonymizeWith(c, s, fields, Options{NewUUID: newUUID})
}

// anonymizer carries the tenant's choices down nested lists.
type anonymizer struct {
	s       *lethe.Settings
	newUUID func() string
	redact  Redactor
}

// object anonymizes one object (a record or a list item) by its declared
// fields; undeclared keys are copied.
func (a anonymizer) object(decl []*policy.Field, in map[string]any) map[string]any {
	out := make(map[string]any, len(in))
	for k, v := range in {
		f := lookup(decl, k)
		if f == nil {
			out[k] = deepCopy(v)
			continue
		}
		if nv, ok := a.field(f, v); ok {
			out[k] = nv
		}
	}
	return out
}

// field applies the field's operator; false means the key is removed.
func (a anonymizer) field(f *policy.Field, v any) (any, bool) {
	op := f.Anonymize
	if op == "" {
		op = policy.OpKeep
		if f.IsPII() {
			op = policy.OpErase
		}
	}
	switch op {
	case policy.OpKeep:
		return deepCopy(v), true
	case policy.OpClear:
		// The key stays so that the structure survives (other contacts,
		// X11); a string becomes empty, anything else null, because an
		// empty string is no valid number or object.
		if _, ok := v.(string); ok {
			return "", true
		}
		return nil, true
	case policy.OpReplace:
		return f.Value, true
	case policy.OpPlaceholder:
		if a.s != nil && a.s.Placeholder != "" {
			return a.s.Placeholder, true
		}
		return DefaultPlaceholder, true
	case policy.OpUUID:
		return a.newUUID(), true
	case policy.OpDropKeys:
		m, ok := v.(map[string]any)
		if !ok {
			return deepCopy(v), true
		}
		return a.dropKeys(f.Keys, m), true
	case policy.OpRedact:
		return a.redactText(f, v)
	case policy.OpEach:
		list, ok := v.([]any)
		if !ok {
			return deepCopy(v), true
		}
		out := make([]any, len(list))
		for i, it := range list {
			if m, ok := it.(map[string]any); ok {
				out[i] = a.object(f.Items, m)
			} else {
				out[i] = deepCopy(it)
			}
		}
		return out, true
	default: // policy.OpErase and operators this version does not know
		return nil, false
	}
}

// dropKeys copies the object without the field's keys and the tenant's
// extra drop_metadata keys (O5).
func (a anonymizer) dropKeys(keys []string, m map[string]any) map[string]any {
	out := make(map[string]any, len(m))
	for k, v := range m {
		out[k] = deepCopy(v)
	}
	for _, k := range keys {
		delete(out, k)
	}
	if a.s != nil {
		for _, k := range a.s.DropMetadata {
			delete(out, k)
		}
	}
	return out
}

// lookup finds a declared field by name. Collections have tens of fields,
// so a scan is as fast as a map and needs none built per call.
func lookup(decl []*policy.Field, name string) *policy.Field {
	for _, f := range decl {
		if f.Name == name {
			return f
		}
	}
	return nil
}

// deepCopy copies decoded JSON so that the result shares nothing mutable
// with the input; other values are returned as they are.
func deepCopy(v any) any {
	switch t := v.(type) {
	case map[string]any:
		m := make(map[string]any, len(t))
		for k, x := range t {
			m[k] = deepCopy(x)
		}
		return m
	case []any:
		l := make([]any, len(t))
		for i, x := range t {
			l[i] = deepCopy(x)
		}
		return l
	default:
		return v
	}
}

// randomUUID returns a random (version 4) UUID in its usual text form.
func randomUUID() string {
	var b [16]byte
	rand.Read(b[:]) // never fails (crypto/rand.Read panics rather than return an error)
	b[6] = b[6]&0x0f | 0x40
	b[8] = b[8]&0x3f | 0x80
	return fmt.Sprintf("%x-%x-%x-%x-%x", b[0:4], b[4:6], b[6:8], b[8:10], b[10:16])
}
