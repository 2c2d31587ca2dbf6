package engine_test

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"

	"github.com/lethe-privacy/lethe"
	"github.com/lethe-privacy/lethe/engine"
	"github.com/lethe-privacy/lethe/policy"
)

// allPacks is a tenant using every test pack at once.
func allPacks(t *testing.T, e *testEnv, tenant string) {
	t.Helper()
	e.tenant(tenant, testPacks...)
	e.enableAll(tenant)
}

// decoded is what a value written as sampleValue gives back on reading:
// numbers as int64 when whole, float64 otherwise.
func decoded(v any) any {
	switch x := v.(type) {
	case json.Number:
		if i, err := x.Int64(); err == nil {
			return i
		}
		f, _ := x.Float64()
		return f
	case map[string]any:
		m := make(map[string]any, len(x))
		for k, vv := range x {
			m[k] = decoded(vv)
		}
		return m
	case []any:
		l := make([]any, len(x))
		for i, vv := range x {
			l[i] = decoded(vv)
		}
		return l
	}
	return v
}

// TestPut_RoundTripsEveryFieldOfEveryPack writes every field of every
// collection and reads it back; PII fields are stored sealed only, other
// fields plain only (C3).
func TestPut_RoundTripsEveryFieldOfEveryPack(t *testing.T) {
	e := newTestEnv(t, 0)
	allPacks(t, e, "t1")
	cols, err := e.eng.Collections(e.ctx, "t1")
	if err != nil {
		t.Fatal(err)
	}
	for i, c := range cols {
		t.Run(c.Pack+"/"+c.Name, func(t *testing.T) {
			fields := sampleFields(c, testStart.Add(24*time.Hour), i)
			id := "rt-" + c.Name
			put := e.put("t1", c.Name, engine.NewRecord{ID: id, Origin: "amazon", CreatedAt: testStart.Add(-time.Hour), Fields: fields})
			got := e.get("t1", c.Name, id)
			want := decoded(fields).(map[string]any)
			if diff := cmp.Diff(want, got.Fields); diff != "" {
				t.Errorf("fields read back (-written +read):\n%s", diff)
			}
			if diff := cmp.Diff(put.Fields, got.Fields); diff != "" {
				t.Errorf("Put's answer differs from Get (-put +get):\n%s", diff)
			}
			if got.ID != id || got.Collection != c.Name || got.Origin != "amazon" || got.State != lethe.StateActive ||
				!got.CreatedAt.Equal(testStart.Add(-time.Hour)) || !got.UpdatedAt.Equal(testStart) {
				t.Errorf("record header = %+v", got)
			}
			rows := e.rows("t1", c.Name)
			if len(rows) != 1 {
				t.Fatalf("%d stored rows, want 1", len(rows))
			}
			r := rows[0]
			for _, f := range c.Fields {
				_, plain := r.Plain[f.Name]
				env, sealed := r.Sealed[f.Name]
				if f.IsPII() != sealed || f.IsPII() == plain {
					t.Errorf("%s: PII %v, stored plain %v, sealed %v", f.Name, f.IsPII(), plain, sealed)
				}
				if s, ok := fields[f.Name].(string); sealed && ok && bytes.Contains(env, []byte(s)) {
					t.Errorf("%s: the sealed envelope holds the value in the clear", f.Name)
				}
			}
		})
	}
}

// TestPut_RejectsInvalidInput checks that a bad record is refused with a
// field error naming the field, and that nothing of the batch is stored.
func TestPut_RejectsInvalidInput(t *testing.T) {
	e := newTestEnv(t, 0)
	allPacks(t, e, "t1")
	ok := map[string]any{"event": "auth_pass"}
	tests := []struct {
		name      string
		coll      string
		recs      []engine.NewRecord
		wantField string
	}{
		{"unknown field", "runtime_log", []engine.NewRecord{{Fields: map[string]any{"bogus": "x"}}}, "fields.bogus"},
		{"string wanted", "runtime_log", []engine.NewRecord{{Fields: map[string]any{"event": json.Number("5")}}}, "fields.event"},
		{"integer wanted", "loyalty_transactions", []engine.NewRecord{{Fields: map[string]any{"coins": "ten"}}}, "fields.coins"},
		{"fraction for integer", "loyalty_transactions", []engine.NewRecord{{Fields: map[string]any{"coins": json.Number("2.5")}}}, "fields.coins"},
		{"boolean wanted", "prize_draw_entries", []engine.NewRecord{{Fields: map[string]any{"selected": "yes"}}}, "fields.selected"},
		{"object wanted", "sessions", []engine.NewRecord{{Fields: map[string]any{"channel": []any{"x"}, "last_activity_at": "2026-03-01T10:00:00Z"}}}, "fields.channel"},
		{"list wanted", "addresses", []engine.NewRecord{{Fields: map[string]any{"lieferadressen": map[string]any{}}}}, "fields.lieferadressen"},
		{"bad list item field", "addresses", []engine.NewRecord{{Fields: map[string]any{"lieferadressen": []any{map[string]any{"plz": json.Number("10115")}}}}}, "fields.lieferadressen[0].plz"},
		{"bad timestamp", "web_notifications", []engine.NewRecord{{Fields: map[string]any{"expires_at": "2026-13-01T00:00:00Z"}}}, "fields.expires_at"},
		{"timestamp without zone", "web_notifications", []engine.NewRecord{{Fields: map[string]any{"due_at": "2026-03-01 10:00"}}}, "fields.due_at"},
		{"timestamp in Unix milliseconds", "web_notifications", []engine.NewRecord{{Fields: map[string]any{"due_at": json.Number("1700000000000")}}}, "fields.due_at"},
		{"timestamp neither string nor number", "web_notifications", []engine.NewRecord{{Fields: map[string]any{"due_at": true}}}, "fields.due_at"},
		{"bad email", "runtime_log", []engine.NewRecord{{Fields: map[string]any{"email": "not-an-address"}}}, "fields.email"},
		{"bad phone", "orders", []engine.NewRecord{{Fields: map[string]any{"telefon": "12"}}}, "fields.telefon"},
		{"bad id", "runtime_log", []engine.NewRecord{{ID: "no spaces/allowed", Fields: ok}}, "id"},
		{"bad origin", "orders", []engine.NewRecord{{Origin: "Amazon DE", Fields: map[string]any{}}}, "origin"},
		{"created_at in the future", "runtime_log", []engine.NewRecord{{CreatedAt: testStart.Add(time.Hour), Fields: ok}}, "created_at"},
		{"second record of a batch", "runtime_log", []engine.NewRecord{{ID: "good", Fields: ok}, {Fields: map[string]any{"bogus": true}}}, "records[1].fields.bogus"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, err := e.eng.Put(e.ctx, "t1", tt.coll, tt.recs)
			if !errors.Is(err, lethe.ErrInvalid) {
				t.Fatalf("err = %v, want lethe.ErrInvalid", err)
			}
			var fe *lethe.FieldError
			if !errors.As(err, &fe) || fe.Field != tt.wantField || fe.Reason == "" {
				t.Fatalf("err = %#v, want a FieldError naming %s", err, tt.wantField)
			}
			if rows := e.rows("t1", tt.coll); len(rows) != 0 {
				t.Errorf("%d records stored after a refused write", len(rows))
			}
		})
	}
}

// TestPut_ConflictsOnDuplicates checks ErrConflict for a duplicate id and
// for a voucher code issued twice (C6), in any spelling, while the same
// id or code is free in another tenant.
func TestPut_ConflictsOnDuplicates(t *testing.T) {
	e := newTestEnv(t, 0)
	allPacks(t, e, "t1")
	allPacks(t, e, "t2")
	voucher := func(id, code, email string) engine.NewRecord {
		return engine.NewRecord{ID: id, Fields: map[string]any{"code": code, "email": email, "campaign": "spring"}}
	}
	e.put("t1", "runtime_log", engine.NewRecord{ID: "r1", Fields: map[string]any{"event": "auth_pass"}})
	e.put("t1", "voucher_codes", voucher("v1", "SPRING 2026", "anna@example.com"))

	tests := []struct {
		name   string
		tenant string
		coll   string
		recs   []engine.NewRecord
		want   error // nil: accepted
	}{
		{"same id", "t1", "runtime_log", []engine.NewRecord{{ID: "r1", Fields: map[string]any{"event": "x"}}}, lethe.ErrConflict},
		{"same id twice in a batch", "t1", "runtime_log", []engine.NewRecord{{ID: "r9"}, {ID: "r9"}}, lethe.ErrConflict},
		{"same id in another collection", "t1", "manager_log", []engine.NewRecord{{ID: "r1"}}, nil},
		{"same id in another tenant", "t2", "runtime_log", []engine.NewRecord{{ID: "r1"}}, nil},
		{"voucher code issued twice", "t1", "voucher_codes", []engine.NewRecord{voucher("v2", "SPRING 2026", "ben@example.com")}, lethe.ErrConflict},
		{"voucher code in another spelling", "t1", "voucher_codes", []engine.NewRecord{voucher("v3", "  SPRING   2026 ", "ben@example.com")}, lethe.ErrConflict},
		{"voucher code twice in a batch", "t1", "voucher_codes", []engine.NewRecord{voucher("v4", "X-1", "a@example.com"), voucher("v5", "X-1", "b@example.com")}, lethe.ErrConflict},
		{"another voucher code", "t1", "voucher_codes", []engine.NewRecord{voucher("v6", "SUMMER 2026", "anna@example.com")}, nil},
		{"same voucher code in another tenant", "t2", "voucher_codes", []engine.NewRecord{voucher("v1", "SPRING 2026", "anna@example.com")}, nil},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			before := len(e.rows(tt.tenant, tt.coll))
			_, err := e.eng.Put(e.ctx, tt.tenant, tt.coll, tt.recs)
			if tt.want == nil {
				if err != nil {
					t.Fatalf("err = %v, want none", err)
				}
				return
			}
			if !errors.Is(err, tt.want) {
				t.Fatalf("err = %v, want %v", err, tt.want)
			}
			if after := len(e.rows(tt.tenant, tt.coll)); after != before {
				t.Errorf("a refused batch changed the record count from %d to %d", before, after)
			}
		})
	}
	if d := e.get("t1", "voucher_codes", "v1"); d.Fields["email"] != "anna@example.com" {
		t.Errorf("the first issue of the code was changed: %v", d.Fields)
	}
}

// TestPatch_MergesFieldsAndNullRemoves checks Patch: merged fields, null
// removes a field (and its subject index entry), untouched subjects stay
// findable, bad patches are refused and change nothing.
func TestPatch_MergesFieldsAndNullRemoves(t *testing.T) {
	e := newTestEnv(t, 0)
	e.tenant("t1", "chatbot")
	ref := lethe.RecordRef{Tenant: "t1", Collection: "runtime_log", ID: "r1"}
	e.put("t1", "runtime_log", engine.NewRecord{ID: "r1", Fields: map[string]any{
		"event": "api_error", "email": "anna@example.com", "message": "HTTP 500", "ip_address": "192.0.2.1",
	}})

	e.clock.Set(testStart.Add(time.Minute))
	d, err := e.eng.Patch(e.ctx, ref, map[string]any{"message": nil, "event": "auth_fail"})
	if err != nil {
		t.Fatal(err)
	}
	want := map[string]any{"event": "auth_fail", "email": "anna@example.com", "ip_address": "192.0.2.1"}
	if diff := cmp.Diff(want, e.get("t1", "runtime_log", "r1").Fields); diff != "" {
		t.Errorf("fields after patch (-want +got):\n%s", diff)
	}
	if !d.UpdatedAt.Equal(testStart.Add(time.Minute)) || !d.CreatedAt.Equal(testStart) {
		t.Errorf("patch times: created %s updated %s", d.CreatedAt, d.UpdatedAt)
	}
	if got := findIDs(t, e, "t1", map[string]string{"email": "anna@example.com"}); !slices.Equal(got, []string{"runtime_log/r1"}) {
		t.Errorf("email lookup after a patch of other fields found %v", got)
	}

	for _, bad := range []map[string]any{{"bogus": "x"}, {"event": true}, {"email": "no-at-sign"}} {
		if _, err := e.eng.Patch(e.ctx, ref, bad); !errors.Is(err, lethe.ErrInvalid) {
			t.Errorf("patch %v: err = %v, want lethe.ErrInvalid", bad, err)
		}
	}
	if diff := cmp.Diff(want, e.get("t1", "runtime_log", "r1").Fields); diff != "" {
		t.Errorf("refused patches changed the record (-want +got):\n%s", diff)
	}

	if _, err := e.eng.Patch(e.ctx, ref, map[string]any{"email": nil}); err != nil {
		t.Fatal(err)
	}
	if _, ok := e.get("t1", "runtime_log", "r1").Fields["email"]; ok {
		t.Error("email still set after patching it to null")
	}
	if got := findIDs(t, e, "t1", map[string]string{"email": "anna@example.com"}); len(got) != 0 {
		t.Errorf("email lookup after removing the email found %v", got)
	}
	if _, err := e.eng.Patch(e.ctx, lethe.RecordRef{Tenant: "t1", Collection: "runtime_log", ID: "nope"}, map[string]any{"event": "x"}); !errors.Is(err, lethe.ErrNotFound) {
		t.Errorf("patch of a missing record: err = %v, want lethe.ErrNotFound", err)
	}
}

// TestDelete_ErasesNowUnlessHeld checks manual erasure (C3) with its audit
// entry, and that a legal hold (X9: archived documents) refuses it until
// the hold ends.
func TestDelete_ErasesNowUnlessHeld(t *testing.T) {
	e := newTestEnv(t, 0)
	e.tenant("shop", "erp-marketplace")
	e.put("shop", "orders", engine.NewRecord{ID: "o1", Origin: "amazon", Fields: map[string]any{"name": "Erika Mustermann"}})
	e.put("shop", "archived_documents", engine.NewRecord{ID: "a1", Fields: map[string]any{"belegart": "rechnung", "document": "JVBERi0xLjQK"}})

	if err := e.eng.Delete(e.ctx, "admin", lethe.RecordRef{Tenant: "shop", Collection: "orders", ID: "o1"}); err != nil {
		t.Fatal(err)
	}
	e.gone("shop", "orders", "o1")
	entries, err := e.store.AuditEntries(e.ctx, lethe.AuditQuery{Tenant: "shop", Log: lethe.LogSecurity, Event: "record.delete"})
	if err != nil {
		t.Fatal(err)
	}
	if len(entries) != 1 || entries[0].Actor != "admin" || !strings.Contains(string(entries[0].Data), `"o1"`) {
		t.Errorf("record.delete entries = %d, first %+v", len(entries), entries)
	}
	if err := e.eng.Delete(e.ctx, "admin", lethe.RecordRef{Tenant: "shop", Collection: "orders", ID: "o1"}); !errors.Is(err, lethe.ErrNotFound) {
		t.Errorf("second delete: err = %v, want lethe.ErrNotFound", err)
	}

	held := lethe.RecordRef{Tenant: "shop", Collection: "archived_documents", ID: "a1"}
	holdEnd := testStart.AddDate(10, 0, 0)
	for _, at := range []time.Time{testStart, holdEnd.Add(-time.Second)} {
		e.clock.Set(at)
		err := e.eng.Delete(e.ctx, "admin", held)
		if !errors.Is(err, lethe.ErrHeld) {
			t.Fatalf("delete at %s of a held document: err = %v, want lethe.ErrHeld", at.Format(time.DateOnly), err)
		}
		if !strings.Contains(err.Error(), "AO") {
			t.Errorf("hold error %q does not give the reason", err)
		}
		if d := e.get("shop", "archived_documents", "a1"); d.Fields["document"] != "JVBERi0xLjQK" {
			t.Errorf("held document changed: %v", d.Fields)
		}
	}
	e.clock.Set(holdEnd.Add(time.Second))
	if err := e.eng.Delete(e.ctx, "admin", held); err != nil {
		t.Fatalf("delete after the hold ended: %v", err)
	}
	e.gone("shop", "archived_documents", "a1")
}

// TestPut_DisabledCollectionRefused checks C2: an optional collection the
// tenant switched off refuses writes until it is switched on again; a
// required one cannot be switched off. Optional collections of the packs
// are on by default (the policy omits enabled_by_default).
func TestPut_DisabledCollectionRefused(t *testing.T) {
	e := newTestEnv(t, 0)
	e.tenant("t1", "chatbot")
	rec := []engine.NewRecord{{ID: "n1", Fields: map[string]any{"message": "wat kost dat?", "classification": "price"}}}
	if _, err := e.eng.Put(e.ctx, "t1", "nlu_messages", rec); err != nil {
		t.Fatalf("put into an optional collection on by default: %v", err)
	}
	on, off := true, false
	e.putSettings("t1", "nlu_messages", &lethe.Settings{Enabled: &off})
	rec[0].ID = "n2"
	if _, err := e.eng.Put(e.ctx, "t1", "nlu_messages", rec); !errors.Is(err, lethe.ErrDisabled) {
		t.Errorf("put after switching off: err = %v, want lethe.ErrDisabled", err)
	}
	if _, err := e.eng.Patch(e.ctx, lethe.RecordRef{Tenant: "t1", Collection: "nlu_messages", ID: "n1"}, map[string]any{"classification": "x"}); !errors.Is(err, lethe.ErrDisabled) {
		t.Errorf("patch after switching off: err = %v, want lethe.ErrDisabled", err)
	}
	if rows := e.rows("t1", "nlu_messages"); len(rows) != 1 {
		t.Errorf("%d records stored, want only the one written while on", len(rows))
	}
	e.putSettings("t1", "nlu_messages", &lethe.Settings{Enabled: &on})
	if _, err := e.eng.Put(e.ctx, "t1", "nlu_messages", rec); err != nil {
		t.Errorf("put after switching on again: %v", err)
	}
	if _, err := e.eng.PutSettings(e.ctx, "admin", "t1", "runtime_log", &lethe.Settings{Enabled: &off}); !errors.Is(err, lethe.ErrInvalid) {
		t.Errorf("switching off a required collection: err = %v, want lethe.ErrInvalid", err)
	}
	if _, err := e.eng.Put(e.ctx, "t1", "runtime_log", []engine.NewRecord{{Fields: map[string]any{"event": "x"}}}); err != nil {
		t.Errorf("required collection refused a write: %v", err)
	}
}

// subjectFields lists every field path of the collections that holds the
// given subject kind: "email" or "lieferadressen.email".
func subjectFields(cols []*policy.Collection, kind string) map[*policy.Collection][]string {
	out := map[*policy.Collection][]string{}
	for _, c := range cols {
		for _, f := range c.Fields {
			if f.Subject == kind {
				out[c] = append(out[c], f.Name)
			}
			for _, it := range f.Items {
				if it.Subject == kind {
					out[c] = append(out[c], f.Name+"."+it.Name)
				}
			}
		}
	}
	return out
}

// TestFindSubject_EveryCollectionAnySpelling checks G1: one person's e-mail
// address or phone number, written in any spelling in any field of any
// collection that indexes it, is found by any other spelling.
func TestFindSubject_EveryCollectionAnySpelling(t *testing.T) {
	tests := []struct {
		kind      string
		spellings []string
		other     string
	}{
		{"email", []string{"Anna.Schmidt@Example.DE", "  anna.schmidt@example.de ", "ANNA.SCHMIDT@EXAMPLE.DE", "anna.schmidt@example.de"}, "anna.schmitt@example.de"},
		{"phone", []string{"+49 30 1234567", "030 1234567", "030/123 45 67", "0049 30 1234567", "(030) 12 34 56 7", "+49-30-1234567", "+4930 1234567"}, "030 1234568"},
	}
	for _, tt := range tests {
		t.Run(tt.kind, func(t *testing.T) {
			e := newTestEnv(t, 0)
			allPacks(t, e, "t1")
			cols, err := e.eng.Collections(e.ctx, "t1")
			if err != nil {
				t.Fatal(err)
			}
			var want []string
			n := 0
			for _, c := range cols {
				for _, path := range subjectFields(cols, tt.kind)[c] {
					value := tt.spellings[n%len(tt.spellings)]
					n++
					fields := sampleFields(c, testStart.Add(farFuture), 100+n)
					top, item, isItem := strings.Cut(path, ".")
					if isItem {
						fields[top].([]any)[0].(map[string]any)[item] = value
					} else {
						fields[top] = value
					}
					id := strings.ReplaceAll(path, ".", "-")
					e.put("t1", c.Name, engine.NewRecord{ID: id, Fields: fields})
					want = append(want, c.Name+"/"+id)
				}
			}
			slices.Sort(want)
			if len(want) < 8 {
				t.Fatalf("only %d fields index %s; the packs have more", len(want), tt.kind)
			}
			for _, q := range tt.spellings {
				if diff := cmp.Diff(want, findIDs(t, e, "t1", map[string]string{tt.kind: q})); diff != "" {
					t.Errorf("lookup by %q (-want +got):\n%s", q, diff)
				}
			}
			if got := findIDs(t, e, "t1", map[string]string{tt.kind: tt.other}); len(got) != 0 {
				t.Errorf("lookup of another person's %s found %v", tt.kind, got)
			}
		})
	}
	t.Run("unknown kind", func(t *testing.T) {
		e := newTestEnv(t, 0)
		e.tenant("t1", "chatbot")
		_, err := e.eng.FindSubject(e.ctx, "t1", map[string]string{"shoe_size": "42"})
		var fe *lethe.FieldError
		if !errors.As(err, &fe) || fe.Field != "shoe_size" || !errors.Is(err, lethe.ErrInvalid) {
			t.Errorf("err = %v, want a field error naming shoe_size", err)
		}
	})
}

// TestTenants_NeverSeeEachOther writes the same ids into two tenants and
// checks that reads, lookups, patches, deletes, statistics and dry runs
// of one never reach the other.
func TestTenants_NeverSeeEachOther(t *testing.T) {
	e := newTestEnv(t, 0)
	for _, tn := range []string{"a", "b"} {
		e.tenant(tn, "chatbot")
		for i := range 3 {
			e.put(tn, "runtime_log", engine.NewRecord{ID: fmt.Sprintf("r%d", i), Fields: map[string]any{
				"event": "auth_" + tn, "email": tn + "@example.com", "message": "secret of " + tn,
			}})
		}
	}
	for _, tn := range []string{"a", "b"} {
		for i := range 3 {
			d := e.get(tn, "runtime_log", fmt.Sprintf("r%d", i))
			if d.Fields["message"] != "secret of "+tn || d.Fields["email"] != tn+"@example.com" {
				t.Errorf("tenant %s reads %v", tn, d.Fields)
			}
		}
	}
	if got := findIDs(t, e, "a", map[string]string{"email": "b@example.com"}); len(got) != 0 {
		t.Errorf("tenant a finds tenant b's subject: %v", got)
	}
	if got := findIDs(t, e, "a", map[string]string{"email": "a@example.com"}); len(got) != 3 {
		t.Errorf("tenant a finds %v of its own subject", got)
	}

	if _, err := e.eng.Patch(e.ctx, lethe.RecordRef{Tenant: "a", Collection: "runtime_log", ID: "r0"}, map[string]any{"message": "changed"}); err != nil {
		t.Fatal(err)
	}
	if err := e.eng.Delete(e.ctx, "admin", lethe.RecordRef{Tenant: "a", Collection: "runtime_log", ID: "r1"}); err != nil {
		t.Fatal(err)
	}
	if d := e.get("b", "runtime_log", "r0"); d.Fields["message"] != "secret of b" {
		t.Errorf("a patch in tenant a changed tenant b: %v", d.Fields)
	}
	e.get("b", "runtime_log", "r1")
	e.gone("a", "runtime_log", "r1")

	rows, err := e.eng.Stats(e.ctx, "b", "runtime_log", "event", false)
	if err != nil {
		t.Fatal(err)
	}
	if diff := cmp.Diff([]lethe.StatRow{{Value: "auth_b", Count: 3}}, rows); diff != "" {
		t.Errorf("tenant b's statistics (-want +got):\n%s", diff)
	}
	sum, err := e.eng.PlanSummary(e.ctx, "a", testStart.Add(365*24*time.Hour))
	if err != nil {
		t.Fatal(err)
	}
	var planned int64
	for _, b := range sum {
		planned += b.Count
	}
	if planned != 2 {
		t.Errorf("tenant a's dry run counts %d records, want its own 2", planned)
	}
	if _, err := e.eng.Get(e.ctx, lethe.RecordRef{Tenant: "c", Collection: "runtime_log", ID: "r0"}); !errors.Is(err, lethe.ErrNotFound) {
		t.Errorf("read from an unknown tenant: err = %v, want lethe.ErrNotFound", err)
	}
}
