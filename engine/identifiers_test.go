package engine_test

import (
	"errors"
	"fmt"
	"testing"

	"github.com/lethe-privacy/lethe"
	"github.com/lethe-privacy/lethe/engine"
)

// Identifiers that do not normalize are reported together, each with its
// path, list items included.
func TestPut_ReportsEveryInvalidIdentifierAtOnce(t *testing.T) {
	e := newTestEnv(t, 0)
	e.tenant("shop", "erp-marketplace")
	_, err := e.eng.Put(e.ctx, "shop", "addresses", []engine.NewRecord{{ID: "a1", Fields: map[string]any{
		"email":                   "not-an-address",
		"telefon":                 "call me",
		"weitere_ansprechpartner": []any{map[string]any{"name": "Lisa", "email": "lisa@"}},
	}}})
	var got []string
	for _, fe := range flatFieldErrors(err) {
		got = append(got, fe.Field)
	}
	want := []string{"fields.email", "fields.telefon", "fields.weitere_ansprechpartner[0].email"}
	if fmt.Sprint(got) != fmt.Sprint(want) {
		t.Fatalf("invalid fields %v, want %v (err %v)", got, want, err)
	}
}

// flatFieldErrors lists the field errors joined into err, in order.
func flatFieldErrors(err error) []*lethe.FieldError {
	if j, ok := err.(interface{ Unwrap() []error }); ok {
		var out []*lethe.FieldError
		for _, e := range j.Unwrap() {
			out = append(out, flatFieldErrors(e)...)
		}
		return out
	}
	var fe *lethe.FieldError
	if errors.As(err, &fe) {
		return []*lethe.FieldError{fe}
	}
	return nil
}
