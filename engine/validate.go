package engine

import (
	"encoding/json"
	"fmt"
	"math"
	"regexp"
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

// checkFields validates input fields against the collection and returns
// them normalized (json.Number turned into int64 or float64, timestamps in
// RFC 3339 UTC). A null value means "unset" and is dropped.
func checkFields(c *policy.Collection, in map[string]any, prefix string) (map[string]any, error) {
	out := make(map[string]any, len(in))
	for name, v := range in {
		f := c.Field(name)
		if f == nil {
			return nil, &lethe.FieldError{Field: prefix + name, Reason: fmt.Sprintf("unknown field of collection %s", c.Name)}
		}
		if v == nil {
			continue
		}
		nv, err := checkValue(f, v, prefix+name)
		if err != nil {
			return nil, err
		}
		out[name] = nv
	}
	return out, nil
}

// checkRequired reports the first required field missing from a record.
func checkRequired(c *policy.Collection, fields map[string]any) error {
	for _, f := range c.Fields {
		if _, ok := fields[f.Name]; f.Required && !ok {
			return &lethe.FieldError{Field: "fields." + f.Name, Reason: "required"}
		}
	}
	return nil
}

func checkValue(f *policy.Field, v any, path string) (any, error) {
	bad := func(want string) error {
		return &lethe.FieldError{Field: path, Reason: fmt.Sprintf("want %s, got %s", want, jsonKind(v))}
	}
	switch f.Type {
	case policy.TypeString, policy.TypeText:
		s, ok := v.(string)
		if !ok {
			return nil, bad("a string")
		}
		if len(s) > maxValueBytes {
			return nil, &lethe.FieldError{Field: path, Reason: "longer than 1 MiB"}
		}
		return s, nil
	case policy.TypeInteger:
		n, ok := number(v)
		if !ok || n != math.Trunc(n) || math.Abs(n) > 1<<53 {
			return nil, bad("an integer")
		}
		return int64(n), nil
	case policy.TypeNumber:
		n, ok := number(v)
		if !ok {
			return nil, bad("a number")
		}
		return n, nil
	case policy.TypeBoolean:
		b, ok := v.(bool)
		if !ok {
			return nil, bad("true or false")
		}
		return b, nil
	case policy.TypeTimestamp:
		s, ok := v.(string)
		if !ok {
			return nil, bad("an RFC 3339 timestamp string")
		}
		t, err := time.Parse(time.RFC3339Nano, s)
		if err != nil {
			return nil, &lethe.FieldError{Field: path, Reason: fmt.Sprintf("want an RFC 3339 timestamp like 2026-01-02T15:04:05Z, got %q", s)}
		}
		return t.UTC().Format(time.RFC3339Nano), nil
	case policy.TypeObject:
		m, ok := v.(map[string]any)
		if !ok {
			return nil, bad("an object")
		}
		return normalizeJSON(m), nil
	case policy.TypeList:
		list, ok := v.([]any)
		if !ok {
			return nil, bad("a list of objects")
		}
		out := make([]any, len(list))
		for i, it := range list {
			m, ok := it.(map[string]any)
			if !ok {
				return nil, &lethe.FieldError{Field: fmt.Sprintf("%s[%d]", path, i), Reason: fmt.Sprintf("want an object, got %s", jsonKind(it))}
			}
			item := &policy.Collection{Name: f.Name, Fields: f.Items}
			nm, err := checkFields(item, m, fmt.Sprintf("%s[%d].", path, i))
			if err != nil {
				return nil, err
			}
			out[i] = nm
		}
		return out, nil
	}
	return nil, &lethe.FieldError{Field: path, Reason: fmt.Sprintf("field type %q not supported", f.Type)}
}

func number(v any) (float64, bool) {
	switch n := v.(type) {
	case float64:
		return n, true
	case int64:
		return float64(n), true
	case int:
		return float64(n), true
	case json.Number:
		f, err := n.Float64()
		return f, err == nil && !math.IsInf(f, 0) && !math.IsNaN(f)
	}
	return 0, false
}

// normalizeJSON turns json.Number values inside free objects into int64
// when integral, float64 otherwise.
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
	return fmt.Sprintf("%T", v)
}
