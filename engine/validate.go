package engine

import (
	"cmp"
	"encoding/json"
	"errors"
	"fmt"
	"regexp"
	"slices"
	"time"

	"github.com/lethe-privacy/lethe"
	"github.com/lethe-privacy/lethe/policy"
)

var (
	recordIDPattern = regexp.MustCompile(`^[A-Za-z0-9][A-Za-z0-9._:-]{0,127}$`)
	originPattern   = regexp.MustCompile(`^[a-z0-9][a-z0-9._-]{0,63}$`)
)

// maxValueBytes bounds one field's encoded value; whole bodies are bounded
// by the HTTP layer.
const maxValueBytes = 1 << 20

// maxIDBytes bounds an identifier or document number written as a string.
const maxIDBytes = 1 << 10

// checkFields validates input fields against the collection and returns
// them normalized: json.Number turned into int64 (an integer literal) or
// float64, timestamps in RFC 3339 UTC, dates as YYYY-MM-DD, identifiers
// as given. A null value means "unset" and is dropped.
//
// Every invalid field is reported, not only the first, so that a client
// fixes a payload in one round: the error joins one *lethe.FieldError per
// problem, sorted by path. The fields that passed are returned even then.
func checkFields(c *policy.Collection, in map[string]any, prefix string) (map[string]any, error) {
	var p problems
	out := p.object(c.Name, c.Fields, in, prefix)
	return out, p.err()
}

// checkRequired reports every required field missing from a record.
func checkRequired(c *policy.Collection, fields map[string]any) error {
	var p problems
	p.required(c, fields)
	return p.err()
}

// problems collects the invalid fields of one input.
type problems []*lethe.FieldError

func (p *problems) add(path, reason string) {
	*p = append(*p, &lethe.FieldError{Field: path, Reason: reason})
}

// addErr adds the field errors joined into err; false when err holds
// another kind of error, which the caller returns as it is.
func (p *problems) addErr(err error) bool {
	fes, ok := fieldErrorsOf(err)
	if ok {
		*p = append(*p, fes...)
	}
	return ok
}

func (p *problems) required(c *policy.Collection, fields map[string]any) {
	for _, f := range c.Fields {
		if _, ok := fields[f.Name]; f.Required && !ok {
			p.add("fields."+f.Name, "required")
		}
	}
}

// err is nil without problems, the one *lethe.FieldError with one, and
// else all of them joined in path order (fields.positionen[2] before
// fields.positionen[10]).
func (p problems) err() error {
	switch len(p) {
	case 0:
		return nil
	case 1:
		return p[0]
	}
	sorted := slices.Clone(p)
	slices.SortStableFunc(sorted, func(a, b *lethe.FieldError) int { return comparePaths(a.Field, b.Field) })
	errs := make([]error, len(sorted))
	for i, fe := range sorted {
		errs[i] = fe
	}
	return errors.Join(errs...)
}

// fieldErrorsOf flattens a *lethe.FieldError, one wrapped, or a join of
// them; false when err holds anything else.
func fieldErrorsOf(err error) ([]*lethe.FieldError, bool) {
	if fe, ok := err.(*lethe.FieldError); ok {
		return []*lethe.FieldError{fe}, true
	}
	if w, ok := err.(interface{ Unwrap() error }); ok {
		return fieldErrorsOf(w.Unwrap())
	}
	j, ok := err.(interface{ Unwrap() []error })
	if !ok {
		return nil, false
	}
	var out []*lethe.FieldError
	for _, e := range j.Unwrap() {
		fes, ok := fieldErrorsOf(e)
		if !ok {
			return nil, false
		}
		out = append(out, fes...)
	}
	return out, true
}

// comparePaths orders field paths as a reader expects: runs of digits
// compare by their number, so that item 2 comes before item 10.
func comparePaths(a, b string) int {
	for a != "" && b != "" {
		if isDigit(a[0]) && isDigit(b[0]) {
			da, db := digitRun(a), digitRun(b)
			na, nb := trimZeros(da), trimZeros(db)
			if c := cmp.Compare(len(na), len(nb)); c != 0 {
				return c
			}
			if c := cmp.Compare(na, nb); c != 0 {
				return c
			}
			a, b = a[len(da):], b[len(db):]
			continue
		}
		if c := cmp.Compare(a[0], b[0]); c != 0 {
			return c
		}
		a, b = a[1:], b[1:]
	}
	return cmp.Compare(len(a), len(b))
}

func isDigit(c byte) bool { return '0' <= c && c <= '9' }

func digitRun(s string) string {
	i := 0
	for i < len(s) && isDigit(s[i]) {
		i++
	}
	return s[:i]
}

func trimZeros(s string) string {
	for len(s) > 1 && s[0] == '0' {
		s = s[1:]
	}
	return s
}

// object checks the fields of a record or a list item.
func (p *problems) object(coll string, decl []*policy.Field, in map[string]any, prefix string) map[string]any {
	out := make(map[string]any, len(in))
	for name, v := range in {
		f := lookupField(decl, name)
		if f == nil {
			p.add(prefix+name, "unknown field of collection "+coll)
			continue
		}
		if v == nil {
			continue
		}
		if nv, ok := p.value(f, v, prefix+name); ok {
			out[name] = nv
		}
	}
	return out
}

func lookupField(decl []*policy.Field, name string) *policy.Field {
	for _, f := range decl {
		if f.Name == name {
			return f
		}
	}
	return nil
}

// value checks and normalizes one field's value; false when it was
// refused (the reasons are added to p).
func (p *problems) value(f *policy.Field, v any, path string) (any, bool) {
	n := len(*p)
	bad := func(want string) (any, bool) {
		p.add(path, fmt.Sprintf("want %s, got %s", want, jsonKind(v)))
		return nil, false
	}
	switch f.Type {
	case policy.TypeString, policy.TypeText:
		s, ok := v.(string)
		if !ok {
			return bad("a string")
		}
		if len(s) > maxValueBytes {
			p.add(path, "longer than 1 MiB")
			return nil, false
		}
		return s, true
	case policy.TypeID:
		if s, ok := v.(string); ok {
			if len(s) > maxIDBytes {
				p.add(path, "an identifier longer than 1 KiB")
				return nil, false
			}
			return s, true
		}
		num, ok, reason := numberOf(v)
		if !ok {
			return bad("a string or an integer")
		}
		if reason != "" {
			p.add(path, reason)
			return nil, false
		}
		i, ok, beyond := num.asInt()
		switch {
		case beyond:
			p.add(path, reasonBeyondExact)
			return nil, false
		case !ok:
			p.add(path, "want a string or an integer, got a number with a fraction")
			return nil, false
		}
		return i, true
	case policy.TypeInteger:
		num, ok, reason := numberOf(v)
		if !ok {
			return bad("an integer")
		}
		i, isInt, beyond := num.asInt()
		switch {
		case reason == reasonBeyondExact || beyond:
			p.add(path, reasonBeyondExactNumber)
			return nil, false
		case reason != "":
			p.add(path, reason)
			return nil, false
		case !isInt:
			p.add(path, "want an integer, got a number with a fraction")
			return nil, false
		}
		return i, true
	case policy.TypeNumber:
		num, ok, reason := numberOf(v)
		switch {
		case !ok:
			return bad("a number")
		case reason == reasonBeyondExact:
			p.add(path, reasonBeyondExactNumber)
			return nil, false
		case reason != "":
			p.add(path, reason)
			return nil, false
		}
		if num.isInt {
			return float64(num.i), true
		}
		return num.f, true
	case policy.TypeBoolean:
		b, ok := v.(bool)
		if !ok {
			return bad("true or false")
		}
		return b, true
	case policy.TypeTimestamp:
		t, reason := parseTimestamp(v)
		if reason != "" {
			p.add(path, reason)
			return nil, false
		}
		return t.UTC().Format(time.RFC3339Nano), true
	case policy.TypeDate:
		d, reason := parseDate(v)
		if reason != "" {
			p.add(path, reason)
			return nil, false
		}
		return d, true
	case policy.TypeObject:
		m, ok := v.(map[string]any)
		if !ok {
			return bad("an object")
		}
		out := p.freeJSON(m, path)
		return out, len(*p) == n
	case policy.TypeJSON:
		out := p.freeJSON(v, path)
		return out, len(*p) == n
	case policy.TypeVector:
		vec, reason := vectorValue(v)
		if reason != "" {
			p.add(path, reason)
			return nil, false
		}
		return vec, true
	case policy.TypeList:
		list, ok := v.([]any)
		if !ok {
			return bad("a list of objects")
		}
		out := make([]any, len(list))
		for i, it := range list {
			m, ok := it.(map[string]any)
			if !ok {
				p.add(fmt.Sprintf("%s[%d]", path, i), fmt.Sprintf("want an object, got %s", jsonKind(it)))
				continue
			}
			out[i] = p.object(f.Name, f.Items, m, fmt.Sprintf("%s[%d].", path, i))
		}
		return out, len(*p) == n
	}
	p.add(path, fmt.Sprintf("field type %q not supported", f.Type))
	return nil, false
}

// freeJSON checks and normalizes a free-form value (an object or json
// field): numbers as numberOf reads them, nulls inside kept (they are
// data there, not "unset"). Every number that cannot be kept is reported
// with its own path.
func (p *problems) freeJSON(v any, path string) any {
	switch x := v.(type) {
	case nil, string, bool:
		return x
	case map[string]any:
		m := make(map[string]any, len(x))
		for k, vv := range x {
			m[k] = p.freeJSON(vv, path+"."+k)
		}
		return m
	case []any:
		l := make([]any, len(x))
		for i, vv := range x {
			l[i] = p.freeJSON(vv, fmt.Sprintf("%s[%d]", path, i))
		}
		return l
	}
	num, ok, reason := numberOf(v)
	switch {
	case !ok:
		p.add(path, fmt.Sprintf("want a JSON value, got %s", jsonKind(v)))
		return nil
	case reason != "":
		p.add(path, reason)
		return nil
	}
	return num.value()
}

// normalizeJSON turns json.Number values of stored free-form values into
// int64 when integral, float64 otherwise: what freeJSON stored.
func normalizeJSON(v any) any {
	switch x := v.(type) {
	case map[string]any:
		m := make(map[string]any, len(x))
		for k, vv := range x {
			m[k] = normalizeJSON(vv)
		}
		return m
	case []any:
		l := make([]any, len(x))
		for i, vv := range x {
			l[i] = normalizeJSON(vv)
		}
		return l
	case json.Number:
		if i, err := x.Int64(); err == nil {
			return i
		}
		f, _ := x.Float64()
		return f
	}
	return v
}

func jsonKind(v any) string {
	switch v.(type) {
	case nil:
		return "null"
	case string:
		return "a string"
	case bool:
		return "a boolean"
	case float64, int64, int, json.Number:
		return "a number"
	case map[string]any:
		return "an object"
	case []any:
		return "a list"
	}
	return "a value JSON cannot hold"
}
