package engine_test

import (
	"slices"
	"testing"
	"time"

	"github.com/lethe-privacy/lethe"
	"github.com/lethe-privacy/lethe/engine"
)

// TestRecordHistory_ListsTheReadsNamingTheRecord: reads by Get and by a
// list page name the record; reads of another record, of another tenant
// and before a cut-off do not; the newest comes first, max bounds it.
func TestRecordHistory_ListsTheReadsNamingTheRecord(t *testing.T) {
	e := audNewEnv(t, engine.Config{})
	if _, err := e.eng.CreateTenant(e.ctx, "admin", "other", []string{"chatbot"}); err != nil {
		t.Fatal(err)
	}
	d, other := e.audPut("a@example.org"), e.audPut("b@example.org")
	ref := lethe.RecordRef{Tenant: "shop", Collection: "runtime_log", ID: d.ID}
	read := func(actor string, r lethe.RecordRef) {
		t.Helper()
		ctx := engine.WithCaller(e.ctx, engine.Caller{Actor: actor, IP: "192.0.2.7"})
		if _, err := e.eng.Get(ctx, r); err != nil {
			t.Fatal(err)
		}
	}
	read("key:first", ref)
	e.clock.Set(audStart.Add(time.Minute))
	read("key:other-record", lethe.RecordRef{Tenant: "shop", Collection: "runtime_log", ID: other.ID})
	// The same id under another tenant is another record.
	if _, err := e.eng.Put(e.ctx, "other", "runtime_log", []engine.NewRecord{{ID: d.ID, Fields: map[string]any{"event": "x", "email": "c@example.org", "message": "m"}}}); err != nil {
		t.Fatal(err)
	}
	read("key:other-tenant", lethe.RecordRef{Tenant: "other", Collection: "runtime_log", ID: d.ID})
	e.clock.Set(audStart.Add(2 * time.Minute))
	lctx := engine.WithCaller(e.ctx, engine.Caller{Actor: "key:lister", IP: "192.0.2.8"})
	if _, err := e.eng.ListRecords(lctx, "shop", "runtime_log", engine.RecordFilter{}); err != nil {
		t.Fatal(err)
	}
	e.clock.Set(audStart.Add(3 * time.Minute))
	read("key:last", ref)

	h, err := e.eng.RecordHistory(e.ctx, ref, d.CreatedAt, 10)
	if err != nil {
		t.Fatal(err)
	}
	var got []string
	for _, ev := range h.Events {
		got = append(got, ev.Actor+"/"+ev.Via)
	}
	if want := []string{"key:last/", "key:lister/list", "key:first/"}; !slices.Equal(got, want) {
		t.Fatalf("history %v, want %v", got, want)
	}
	if f := h.Events[0].Fields; !slices.Equal(f, []string{"email", "message"}) || h.Events[0].Event != "record.read" || h.Partial {
		t.Fatalf("newest event %+v, partial %v", h.Events[0], h.Partial)
	}
	if h, _ := e.eng.RecordHistory(e.ctx, ref, d.CreatedAt, 2); len(h.Events) != 2 || h.Events[0].Actor != "key:last" {
		t.Fatalf("max 2: %+v", h.Events)
	}
	// Entries before the given start are not read at all.
	if h, _ := e.eng.RecordHistory(e.ctx, ref, audStart.Add(90*time.Second), 10); len(h.Events) != 2 {
		t.Fatalf("from +90s: %+v", h.Events)
	}
}
