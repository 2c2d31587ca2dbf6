package httpapi

import (
	"bytes"
	"encoding"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"reflect"
	"slices"
	"strconv"
	"strings"

	"github.com/lethe-privacy/lethe"
)

// errMalformed marks bodies that are not the JSON the route expects.
var errMalformed = errors.New("malformed request")

// decode reads a JSON object body strictly into v (a pointer to a struct
// or map): unknown keys, trailing data and wrong shapes are errors naming
// where the body is wrong ("periods.delete", "records[2].id") and what was
// wanted in JSON's words ("a string", "an object"), never in Go's. Numbers
// stay json.Number so that integers survive exactly.
//
// The body is first read as generic JSON and its shape compared with v's
// type, because encoding/json reports neither list indexes nor map keys
// in its errors, and names Go types.
func decode(r *http.Request, v any) error {
	body, err := readBody(r)
	if err != nil {
		return err
	}
	if len(bytes.TrimSpace(body)) == 0 {
		return fmt.Errorf("%w: empty body; send a JSON object", errMalformed)
	}
	return decodeBody(body, v)
}

// readBody reads the whole body; a body over the limit keeps its
// *http.MaxBytesError, so that the answer names the limit.
func readBody(r *http.Request) ([]byte, error) {
	body, err := io.ReadAll(r.Body)
	if err != nil {
		var mbe *http.MaxBytesError
		if errors.As(err, &mbe) {
			return nil, err
		}
		return nil, fmt.Errorf("%w: read body: %v", errMalformed, err)
	}
	return body, nil
}

// decodeBody decodes a non-empty body into v (see decode).
func decodeBody(body []byte, v any) error {
	var generic any
	dec := json.NewDecoder(bytes.NewReader(body))
	dec.UseNumber()
	if err := dec.Decode(&generic); err != nil {
		var se *json.SyntaxError
		if errors.As(err, &se) {
			return fmt.Errorf("%w: invalid JSON at byte %d", errMalformed, se.Offset)
		}
		return fmt.Errorf("%w: invalid JSON (%s)", errMalformed, strings.TrimPrefix(err.Error(), "json: "))
	}
	if dec.More() {
		return fmt.Errorf("%w: trailing data after the JSON object", errMalformed)
	}
	if _, ok := generic.(map[string]any); !ok {
		return fmt.Errorf("%w: the body must be a JSON object, not %s", errMalformed, jsonKind(generic))
	}
	if err := checkShape(generic, reflect.TypeOf(v), ""); err != nil {
		return err
	}
	dec = json.NewDecoder(bytes.NewReader(body))
	dec.DisallowUnknownFields()
	dec.UseNumber()
	if err := dec.Decode(v); err != nil {
		// The shape matched; what is left is a number out of range, or a
		// value a type's own parser refused.
		var te *json.UnmarshalTypeError
		if errors.As(err, &te) {
			return &lethe.FieldError{Field: te.Field, Reason: fmt.Sprintf("want %s, got %s", jsonWant(te.Type), te.Value)}
		}
		return &lethe.FieldError{Field: "", Reason: strings.TrimPrefix(err.Error(), "json: ")}
	}
	return nil
}

var (
	textUnmarshaler = reflect.TypeFor[encoding.TextUnmarshaler]()
	jsonUnmarshaler = reflect.TypeFor[json.Unmarshaler]()
)

// checkShape compares a generic JSON value with the Go type it is about to
// be decoded into. null is accepted wherever a value is (encoding/json
// leaves the target as it was); the handlers check what they require.
func checkShape(v any, t reflect.Type, path string) error {
	for t.Kind() == reflect.Pointer {
		t = t.Elem()
	}
	if v == nil {
		return nil
	}
	pt := reflect.PointerTo(t)
	if pt.Implements(jsonUnmarshaler) {
		return nil // the type parses itself
	}
	if pt.Implements(textUnmarshaler) {
		if _, ok := v.(string); !ok {
			return wrongShape(path, "a string", v)
		}
		return nil
	}
	switch t.Kind() {
	case reflect.Interface:
		return nil
	case reflect.String:
		if _, ok := v.(string); !ok {
			return wrongShape(path, "a string", v)
		}
	case reflect.Bool:
		if _, ok := v.(bool); !ok {
			return wrongShape(path, "true or false", v)
		}
	case reflect.Int, reflect.Int8, reflect.Int16, reflect.Int32, reflect.Int64,
		reflect.Uint, reflect.Uint8, reflect.Uint16, reflect.Uint32, reflect.Uint64:
		n, ok := v.(json.Number)
		if !ok {
			return wrongShape(path, "a whole number", v)
		}
		if _, err := strconv.ParseInt(n.String(), 10, 64); err != nil {
			return &lethe.FieldError{Field: path, Reason: fmt.Sprintf("want a whole number, got %s", n)}
		}
	case reflect.Float32, reflect.Float64:
		if _, ok := v.(json.Number); !ok {
			return wrongShape(path, "a number", v)
		}
	case reflect.Slice, reflect.Array:
		list, ok := v.([]any)
		if !ok {
			return wrongShape(path, "a list", v)
		}
		for i, item := range list {
			if err := checkShape(item, t.Elem(), fmt.Sprintf("%s[%d]", path, i)); err != nil {
				return err
			}
		}
	case reflect.Map:
		obj, ok := v.(map[string]any)
		if !ok {
			return wrongShape(path, "an object", v)
		}
		for _, k := range sortedKeys(obj) {
			if err := checkShape(obj[k], t.Elem(), join(path, k)); err != nil {
				return err
			}
		}
	case reflect.Struct:
		obj, ok := v.(map[string]any)
		if !ok {
			return wrongShape(path, "an object", v)
		}
		fields := jsonFields(t)
		for _, k := range sortedKeys(obj) {
			ft, known := fields[k]
			if !known {
				return &lethe.FieldError{Field: join(path, k), Reason: "unknown field"}
			}
			if err := checkShape(obj[k], ft, join(path, k)); err != nil {
				return err
			}
		}
	}
	return nil
}

// jsonFields maps the JSON names of a struct's fields to their types,
// embedded structs' fields included, as encoding/json sees them.
func jsonFields(t reflect.Type) map[string]reflect.Type {
	out := map[string]reflect.Type{}
	for i := range t.NumField() {
		f := t.Field(i)
		tag := f.Tag.Get("json")
		if tag == "-" {
			continue
		}
		name, _, _ := strings.Cut(tag, ",")
		if f.Anonymous && name == "" {
			et := f.Type
			if et.Kind() == reflect.Pointer {
				et = et.Elem()
			}
			if et.Kind() == reflect.Struct {
				for k, v := range jsonFields(et) {
					if _, shadowed := out[k]; !shadowed {
						out[k] = v
					}
				}
				continue
			}
		}
		if !f.IsExported() {
			continue
		}
		if name == "" {
			name = f.Name
		}
		out[name] = f.Type
	}
	// encoding/json would also take "ID" for "id"; the shape check does
	// not, so that a body means one thing only: the document's spelling.
	return out
}

func wrongShape(path, want string, got any) error {
	return &lethe.FieldError{Field: path, Reason: fmt.Sprintf("want %s, got %s", want, jsonKind(got))}
}

// jsonKind names a generic JSON value's kind as a client would.
func jsonKind(v any) string {
	switch v.(type) {
	case nil:
		return "null"
	case string:
		return "a string"
	case bool:
		return "true or false"
	case json.Number, float64:
		return "a number"
	case []any:
		return "a list"
	case map[string]any:
		return "an object"
	}
	return "an unknown value"
}

// jsonWant names what a Go type takes in JSON's words.
func jsonWant(t reflect.Type) string {
	if t == nil {
		return "another value"
	}
	switch t.Kind() {
	case reflect.String:
		return "a string"
	case reflect.Bool:
		return "true or false"
	case reflect.Int, reflect.Int8, reflect.Int16, reflect.Int32, reflect.Int64,
		reflect.Uint, reflect.Uint8, reflect.Uint16, reflect.Uint32, reflect.Uint64:
		return "a whole number in range"
	case reflect.Float32, reflect.Float64:
		return "a number in range"
	case reflect.Slice, reflect.Array:
		return "a list"
	case reflect.Map, reflect.Struct:
		return "an object"
	}
	return "another value"
}

func join(path, key string) string {
	if path == "" {
		return key
	}
	return path + "." + key
}

func sortedKeys(m map[string]any) []string {
	keys := make([]string, 0, len(m))
	for k := range m {
		keys = append(keys, k)
	}
	// Sorted, so that of several mistakes the same one is named each time.
	slices.Sort(keys)
	return keys
}
