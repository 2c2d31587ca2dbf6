package lethe

import (
	"bytes"
	"encoding/json"
	"fmt"
	"math"
)

// EncodePlain is how every store keeps a record's plain (non-PII) fields:
// one JSON object; an empty or nil map is "{}". Like EncodeSealed, it lives
// here so that the stores agree on the bytes.
func EncodePlain(m map[string]any) (string, error) {
	if len(m) == 0 {
		return "{}", nil
	}
	b, err := json.Marshal(m)
	if err != nil {
		return "", fmt.Errorf("%w: plain fields: %v", ErrInvalid, err)
	}
	return string(b), nil
}

// DecodePlain reads plain fields back into a non-nil map. Numbers keep
// their exact value: an integral number that fits comes back as int64,
// every other number as float64 (so an ID of 2^53+1 is not rounded, but a
// float64 that happens to be integral, such as 3.0, reads back as int64 3).
// Nested objects and arrays come back as map[string]any and []any.
func DecodePlain(b []byte) (map[string]any, error) {
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
		m[k] = ExactNumber(v)
	}
	return m, nil
}

// ExactNumber replaces json.Number values, also inside objects and
// arrays, by int64 when integral and in range, else by float64 (or the
// number's text when it does not fit a float64).
func ExactNumber(v any) any {
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
			v[k] = ExactNumber(e)
		}
		return v
	case []any:
		for i, e := range v {
			v[i] = ExactNumber(e)
		}
		return v
	}
	return v
}
