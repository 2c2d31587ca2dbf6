package main

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"sort"
	"strings"
	"time"

	"github.com/lethe-privacy/lethe"
	"github.com/lethe-privacy/lethe/engine"
	"github.com/lethe-privacy/lethe/policy"
)

// maxInput bounds what "records put" and "patch" read from a file or
// standard input: a batch import may be far larger than an API body.
const maxInput = 256 << 20

// fieldFlags are the --field and --field-json pairs of "records put" and
// "records patch".
type fieldFlags struct {
	plain []string // KEY=VALUE, the value a string
	typed []string // KEY=JSON
}

func (f *fieldFlags) given() bool { return len(f.plain)+len(f.typed) > 0 }

// fields parses the pairs; a key given twice is refused rather than
// silently overwritten.
func (f *fieldFlags) fields() (map[string]any, error) {
	out := map[string]any{}
	add := func(flag, kv string, parse func(string) (any, error)) error {
		k, v, ok := strings.Cut(kv, "=")
		if !ok || k == "" {
			return fmt.Errorf("%w: %s %q: want NAME=VALUE", errUsage, flag, kv)
		}
		if _, dup := out[k]; dup {
			return fmt.Errorf("%w: %s: field %q given twice", errUsage, flag, k)
		}
		val, err := parse(v)
		if err != nil {
			return fmt.Errorf("%w: %s %s: %v", errUsage, flag, k, err)
		}
		out[k] = val
		return nil
	}
	for _, kv := range f.plain {
		if err := add("--field", kv, func(v string) (any, error) { return v, nil }); err != nil {
			return nil, err
		}
	}
	for _, kv := range f.typed {
		if err := add("--field-json", kv, func(v string) (any, error) {
			var x any
			dec := json.NewDecoder(strings.NewReader(v))
			dec.UseNumber()
			if err := dec.Decode(&x); err != nil {
				return nil, fmt.Errorf("want a JSON value (a number, true, null, an object, a quoted string)")
			}
			return x, nil
		}); err != nil {
			return nil, err
		}
	}
	return out, nil
}

// warnPII tells the operator when a --field value is personal data: the
// command line is visible to every user of the machine (ps) and is kept
// in the shell's history.
func warnPII(w io.Writer, c *policy.Collection, fields map[string]any) {
	var names []string
	for k := range fields {
		if f := c.Field(k); f != nil && f.IsPII() {
			names = append(names, k)
		}
	}
	if len(names) == 0 {
		return
	}
	sort.Strings(names)
	fmt.Fprintf(w, "lethe: warning: %s is personal data on the command line, visible to other users (ps) and kept in the shell history; prefer a file or - (standard input)\n", strings.Join(names, ", "))
}

// readInput reads a JSON object from a file, or from in when path is "-".
// Malformed JSON is invalid input, named by the file and byte offset.
func readInput(path string, in io.Reader, v any) error {
	var r io.Reader = in
	name := "standard input"
	if path != "-" {
		f, err := os.Open(path)
		if errors.Is(err, fs.ErrNotExist) {
			return withKind(lethe.ErrNotFound, "%s: no such file", path)
		}
		if err != nil {
			return err
		}
		defer f.Close()
		r, name = f, path
	}
	b, err := io.ReadAll(io.LimitReader(r, maxInput+1))
	if err != nil {
		return fmt.Errorf("read %s: %w", name, err)
	}
	if len(b) > maxInput {
		return withKind(lethe.ErrInvalid, "%s: larger than %d MiB; split the batch", name, maxInput>>20)
	}
	if len(bytes.TrimSpace(b)) == 0 {
		return withKind(lethe.ErrInvalid, "%s: empty; want a JSON object", name)
	}
	dec := json.NewDecoder(bytes.NewReader(b))
	dec.DisallowUnknownFields()
	dec.UseNumber()
	if err := dec.Decode(v); err != nil {
		var se *json.SyntaxError
		var te *json.UnmarshalTypeError
		switch {
		case errors.As(err, &se):
			return withKind(lethe.ErrInvalid, "%s: invalid JSON at byte %d", name, se.Offset)
		case errors.Is(err, io.ErrUnexpectedEOF):
			return withKind(lethe.ErrInvalid, "%s: invalid JSON: it ends before the object does", name)
		case errors.As(err, &te):
			return &lethe.FieldError{Field: te.Field, Reason: fmt.Sprintf("want %s, got JSON %s (in %s)", jsonKind(te.Type.Kind().String()), te.Value, name)}
		case strings.HasPrefix(err.Error(), "json: unknown field "):
			field := strings.Trim(strings.TrimPrefix(err.Error(), "json: unknown field "), `"`)
			return &lethe.FieldError{Field: field, Reason: "unknown field (in " + name + ")"}
		}
		return withKind(lethe.ErrInvalid, "%s: %v", name, err)
	}
	if dec.More() {
		return withKind(lethe.ErrInvalid, "%s: more than one JSON value; send one object (or {\"records\": [...]})", name)
	}
	return nil
}

// jsonKind names a Go kind the way a JSON user knows it.
func jsonKind(k string) string {
	switch k {
	case "map", "struct":
		return "an object"
	case "slice", "array":
		return "an array"
	case "string":
		return "a string"
	}
	return k
}

// recordIn is one record as "records put" reads it: the API's shape.
type recordIn struct {
	ID        string         `json:"id"`
	Origin    string         `json:"origin"`
	CreatedAt string         `json:"created_at"`
	Fields    map[string]any `json:"fields"`
}

// toNew converts a record; prefix names it inside a batch ("records[3].").
func (ri recordIn) toNew(prefix string) (engine.NewRecord, error) {
	nr := engine.NewRecord{ID: ri.ID, Origin: ri.Origin, Fields: ri.Fields}
	if ri.CreatedAt != "" {
		t, err := time.Parse(time.RFC3339Nano, ri.CreatedAt)
		if err != nil {
			return nr, &lethe.FieldError{Field: prefix + "created_at", Reason: fmt.Sprintf("want an RFC 3339 timestamp like 2026-01-02T15:04:05Z, got %q", ri.CreatedAt)}
		}
		nr.CreatedAt = t
	}
	return nr, nil
}

// putInput is what a file for "records put" holds: one record, or
// {"records": [...]}, stored all or nothing.
type putInput struct {
	recordIn
	Records *[]recordIn `json:"records"`
}

// newRecords converts the input; batch reports whether it was a batch.
func (p *putInput) newRecords() (in []engine.NewRecord, batch bool, err error) {
	if p.Records == nil {
		nr, err := p.recordIn.toNew("")
		return []engine.NewRecord{nr}, false, err
	}
	if p.ID != "" || p.Origin != "" || p.CreatedAt != "" || p.Fields != nil {
		return nil, true, &lethe.FieldError{Field: "records", Reason: "send either one record or {\"records\": [...]}, not both"}
	}
	if len(*p.Records) == 0 {
		return nil, true, &lethe.FieldError{Field: "records", Reason: "want at least one record"}
	}
	for i, ri := range *p.Records {
		nr, err := ri.toNew(fmt.Sprintf("records[%d].", i))
		if err != nil {
			return nil, true, err
		}
		in = append(in, nr)
	}
	return in, true, nil
}
