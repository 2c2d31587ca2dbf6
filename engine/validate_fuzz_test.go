package engine

import (
	"bytes"
	"encoding/json"
	"errors"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"

	"github.com/lethe-privacy/lethe"
	"github.com/lethe-privacy/lethe/policy"
)

// fuzzCollections are every collection of every pack, in a fixed order, so
// that a fuzz input picks one by index.
func fuzzCollections(f *testing.F) []*policy.Collection {
	f.Helper()
	var out []*policy.Collection
	for _, name := range policy.PackNames() {
		p, err := policy.Pack(name)
		if err != nil {
			f.Fatal(err)
		}
		out = append(out, p.Collections...)
	}
	if len(out) == 0 {
		f.Fatal("no collections in the packs")
	}
	return out
}

// FuzzNewRecord validates arbitrary records, as a client's JSON decodes
// them (numbers kept as json.Number), against every pack collection. The
// validator never panics, refuses only with a *lethe.FieldError naming the
// field, and what it accepts is normalized for good: validating the
// normalized fields again accepts them unchanged, so a stored record
// always passes the checks it was written under.
func FuzzNewRecord(f *testing.F) {
	cols := fuzzCollections(f)
	for _, s := range []struct {
		col                int
		id, origin, fields string
	}{
		{0, "", "", `{}`},
		{0, "rec-1", "amazon", `{"email":"a@example.com","name":"Erika"}`},
		{1, "x", "", `{"fields":1}`},
		{2, "a b/c", "Amazon EU!", `{"text":"hi","metadata":{"k":[1,2.5,{"n":null}]}}`},
		{3, "", "", `{"shipped_at":"2026-01-02T15:04:05+02:00","menge":1e400}`},
		{4, "", "", `{"positionen":[{"menge":"2"},{"menge":2}],"lieferadressen":[1]}`},
		{5, "", "", `{"count":9007199254740993,"flag":true,"when":"yesterday"}`},
		{6, "", "", `[1,2,3]`},
		{7, "", "", `{"a":`},
		{8, "", "", `{"selected":"yes","phone":"+49 171 1234567"}`},
		{9, "", "", `{"entities":[{"entity":"email","value":"a@b.c","start":3}],"tokens":["hi",2,null],"context":{"n":9007199254740993}}`},
		{10, "", "", `{"kundennummer":1001,"belegnr":"200003","datum":"2026-11-18","shipped_at":1763460000.5}`},
		{11, "", "", `{"kundennummer":1.5,"belegnr":1e20,"datum":"2026-02-30","shipped_at":"2026-11-18 10:00:00z"}`},
		{12, "", "", `{"datum":20261118,"shipped_at":-62135596801,"positionen":[{"menge":1e400}]}`},
		{13, "", "", `{"state":"s","metadata":[1,{"a":[-0.0,1E+2]}],"expires_at":"2026-11-18t10:00:00+01:00"}`},
	} {
		f.Add(uint16(s.col), s.id, s.origin, []byte(s.fields))
	}
	now := time.Date(2026, 3, 2, 9, 0, 0, 0, time.UTC)
	e := &Engine{}
	f.Fuzz(func(t *testing.T, col uint16, id, origin string, raw []byte) {
		c := cols[int(col)%len(cols)]
		dec := json.NewDecoder(bytes.NewReader(raw))
		dec.UseNumber()
		var fields map[string]any
		if dec.Decode(&fields) != nil {
			return // not an object: the HTTP layer refuses it before the engine
		}
		nr := NewRecord{ID: id, Origin: origin, Fields: fields}
		r, out, err := e.newRecord(c, "t", nr, now)
		if err != nil {
			var fe *lethe.FieldError
			if !errors.As(err, &fe) || fe.Field == "" {
				t.Fatalf("%s: refused with %v (%T), want a *lethe.FieldError naming the field", c.Name, err, err)
			}
			return
		}
		if r.ID == "" || r.Collection != c.Name || r.State != lethe.StateActive {
			t.Fatalf("%s: accepted record %+v", c.Name, r)
		}
		again, err := checkFields(c, out, "fields.")
		if err != nil {
			t.Fatalf("%s: normalized fields %v refused on a second check: %v", c.Name, out, err)
		}
		if diff := cmp.Diff(out, again); diff != "" {
			t.Fatalf("%s: normalizing twice changed the fields (-once +twice):\n%s", c.Name, diff)
		}
		if _, err := json.Marshal(out); err != nil {
			t.Fatalf("%s: normalized fields do not encode: %v", c.Name, err)
		}
	})
}
