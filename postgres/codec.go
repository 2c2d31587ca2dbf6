package postgres

import (
	"bytes"
	"encoding/json"

	"github.com/lethe-privacy/lethe"
)

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
		return lethe.ExactNumber(json.Number(*text))
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
