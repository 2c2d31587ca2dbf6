package engine_test

import (
	"errors"
	"slices"
	"sort"
	"testing"

	"github.com/lethe-privacy/lethe"
	"github.com/lethe-privacy/lethe/engine"
)

// found lists the ids of the records FindSubject returns for one phone
// number.
func found(t *testing.T, eng *engine.Engine, e *testEnv, tenant, phone string) []string {
	t.Helper()
	docs, err := eng.FindSubject(e.ctx, tenant, map[string]string{"phone": phone})
	if err != nil {
		t.Fatalf("FindSubject(%s, %q): %v", tenant, phone, err)
	}
	ids := make([]string, 0, len(docs))
	for _, d := range docs {
		ids = append(ids, d.ID)
	}
	sort.Strings(ids)
	return ids
}

func same(a []string, b ...string) bool { return slices.Equal(a, b) }

// TestTenants_PhoneRegionReadsNationalNumbers: "06 12345678" is the
// Dutch mobile +31612345678 for a tenant in NL, and a German number for a
// tenant in DE.
func TestTenants_PhoneRegionReadsNationalNumbers(t *testing.T) {
	e := newTestEnv(t, 0)
	if _, err := e.eng.CreateTenantFrom(e.ctx, "admin", engine.TenantSpec{ID: "nl", Packs: []string{"erp-marketplace"}, PhoneRegion: "NL"}); err != nil {
		t.Fatal(err)
	}
	e.tenant("de", "erp-marketplace")
	order := engine.NewRecord{ID: "A-1", Fields: map[string]any{"name": "Erika Mustermann", "telefon": "06 12345678"}}
	e.put("nl", "orders", order)
	e.put("de", "orders", order)

	if got := found(t, e.eng, e, "nl", "+31612345678"); !same(got, "A-1") {
		t.Errorf("NL tenant, +31612345678: found %v, want A-1", got)
	}
	if got := found(t, e.eng, e, "nl", "06-12 34 56 78"); !same(got, "A-1") {
		t.Errorf("NL tenant, national spelling: found %v, want A-1", got)
	}
	if got := found(t, e.eng, e, "de", "+31612345678"); len(got) != 0 {
		t.Errorf("DE tenant, +31612345678: found %v, want nothing", got)
	}
	if got := found(t, e.eng, e, "de", "+49612345678"); !same(got, "A-1") {
		t.Errorf("DE tenant, +49612345678: found %v, want A-1", got)
	}
	for id, want := range map[string]string{"nl": "NL", "de": "DE"} {
		tn, err := e.eng.Tenant(e.ctx, id)
		if err != nil || tn.PhoneRegion != want {
			t.Errorf("Tenant(%s) = %+v, %v; want region %s", id, tn, err, want)
		}
	}
}

// TestTenants_PhoneRegionChangeKeepsStoredHashes: after a move from DE to
// NL, numbers stored before are still found by their E.164 form, a
// national spelling is read in NL, and a second instance started later
// reads in NL too.
func TestTenants_PhoneRegionChangeKeepsStoredHashes(t *testing.T) {
	e := newTestEnv(t, 0)
	e.tenant("shop", "erp-marketplace")
	e.put("shop", "orders", engine.NewRecord{ID: "before", Fields: map[string]any{"name": "A", "telefon": "06 12345678"}})
	tn, err := e.eng.SetPhoneRegion(e.ctx, "admin", "shop", "NL")
	if err != nil || tn.PhoneRegion != "NL" {
		t.Fatalf("SetPhoneRegion = %+v, %v", tn, err)
	}
	e.put("shop", "orders", engine.NewRecord{ID: "after", Fields: map[string]any{"name": "B", "telefon": "06 12345678"}})

	for _, eng := range []*engine.Engine{e.eng, e.secondEngine()} {
		if got := found(t, eng, e, "shop", "+49612345678"); !same(got, "before") {
			t.Errorf("+49612345678: found %v, want the record stored under DE", got)
		}
		if got := found(t, eng, e, "shop", "06 12345678"); !same(got, "after") {
			t.Errorf("06 12345678 after the move: found %v, want the record stored under NL", got)
		}
	}
	if _, err := e.eng.SetPhoneRegion(e.ctx, "admin", "shop", "XX"); !errors.Is(err, lethe.ErrInvalid) {
		t.Errorf("SetPhoneRegion(XX) = %v, want ErrInvalid", err)
	}
	if _, err := e.eng.SetPhoneRegion(e.ctx, "admin", "nobody", "NL"); !errors.Is(err, lethe.ErrNotFound) {
		t.Errorf("SetPhoneRegion of an unknown tenant = %v, want ErrNotFound", err)
	}
	entries, err := e.store.AuditEntries(e.ctx, lethe.AuditQuery{Tenant: "shop", Log: lethe.LogSecurity, Event: "tenant.update"})
	if err != nil || len(entries) != 1 {
		t.Fatalf("tenant.update entries = %d, %v; want 1", len(entries), err)
	}
}

func TestTenants_PhoneRegionDefaultsToThePacks(t *testing.T) {
	e := newTestEnv(t, 0)
	tests := []struct {
		id, region string
		packs      []string
		want       string
	}{
		{"conv", "", []string{"conversations"}, "BE"},
		{"erp", "", []string{"erp-marketplace"}, "DE"},
		{"bot-conv", "", []string{"chatbot", "conversations"}, "DE"},
		{"conv-bot", "", []string{"conversations", "chatbot"}, "BE"},
		{"chosen", "AT", []string{"conversations"}, "AT"},
	}
	for _, tt := range tests {
		t.Run(tt.id, func(t *testing.T) {
			tn, err := e.eng.CreateTenantFrom(e.ctx, "admin", engine.TenantSpec{ID: tt.id, Packs: tt.packs, PhoneRegion: tt.region})
			if err != nil || tn.PhoneRegion != tt.want {
				t.Fatalf("CreateTenantFrom = %+v, %v; want region %s", tn, err, tt.want)
			}
		})
	}
	_, err := e.eng.CreateTenantFrom(e.ctx, "admin", engine.TenantSpec{ID: "bad", Packs: []string{"chatbot"}, PhoneRegion: "nl"})
	var fe *lethe.FieldError
	if !errors.As(err, &fe) || fe.Field != "phone_region" {
		t.Fatalf("region nl: err = %v, want a field error on phone_region", err)
	}
	if _, err := e.store.Tenant(e.ctx, "bad"); !errors.Is(err, lethe.ErrNotFound) {
		t.Errorf("a refused tenant was stored: %v", err)
	}
}
