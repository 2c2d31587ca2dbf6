package postgres

import (
	"bytes"
	"encoding/json"
	"fmt"
	"math"

	"github.com/lethe-privacy/lethe"
)

// encodePlain stores a record's plain fields as a JSON object (jsonb in the
// table); an empty or nil map is stored as "{}".
func encodePlain(m map[string]any) (string, error) {
	if len(m) == 0 {
		return "{}", nil
	}
	b, err := json.Marshal(m)
	if err != nil {
		return "", fmt.Errorf("%w: plain fields: %v", lethe.ErrInvalid, err)
	}
	return string(b), nil
}

// decodePlain reads plain fields back into a non-nil map. Numbers keep
// their exact value (jsonb stores them as numeric): an integral number
// that fits comes back as int64, every other number as float64. Nested
// objects and arrays come back as map[string]any and []any.
func decodePlain(b []byte) (map[string]any, error) {
	m := make(map[string]any)
	if len(b) == 0 {
		return m, nil
	}
	d := json.NewDecoder(bytes.NewReader(b))
	d.UseNumber()
	if err := d.Decode(&m); err != nil {
		return nil, fmt.Errorf("plain fields: %w", err)
	}
	for k, v := range m {
		m[k] = exactNumbers(v)
	}
	return m, nil
}

// exactNumbers replaces json.Number values by int64 or float64.
func exactNumbers(v any) any {
	switch v := v.(type) {
	case json.Number:
		if i, err := v.Int64(); err == nil {
			return i
		}
		f, err := v.Float64()
		if err != nil || math.IsInf(f, 0) {
			return v.String()
		}
		return f
	case map[string]any:
		for k, e := range v {
			v[k] = exactNumbers(e)
		}
		return v
	case []any:
		for i, e := range v {
			v[i] = exactNumbers(e)
		}
		return v
	}
	return v
}

// statValue turns a grouped jsonb value, given as jsonb_typeof and its
// text (->>), back into the Go value the JSON decoding gives: string,
// int64, float64, bool, nil for an absent or null field, and the compact
// JSON text of an object or array.
func statValue(jsonType string, text *string) any {
	if text == nil {
		return nil
	}
	switch jsonType {
	case "string":
		return *text
	case "number":
		return exactNumbers(json.Number(*text))
	case "boolean":
		return *text == "true"
	case "object", "array":
		var buf bytes.Buffer
		if json.Compact(&buf, []byte(*text)) == nil {
			return buf.String()
		}
		return *text
	}
	return nil
}
