package console_test

import (
	"context"
	"net/http"
	"net/url"
	"strings"
	"testing"
	"time"

	"github.com/lethe-privacy/lethe"
	"github.com/lethe-privacy/lethe/engine"
)

func TestProtection_ActivateRunsTheAnonymization(t *testing.T) {
	s := newStack(t)
	ctx := context.Background()
	shipped := s.now.Add(-40 * 24 * time.Hour)
	docs, err := s.eng.Put(ctx, "acme", "orders", []engine.NewRecord{
		{Origin: "amazon", CreatedAt: shipped, Fields: map[string]any{"belegnr": "AU-1", "name": "Erika Mustermann", "shipped_at": shipped.Format(time.RFC3339)}},
		{Origin: "amazon", CreatedAt: s.now, Fields: map[string]any{"belegnr": "AU-2", "name": "Max Muster", "shipped_at": s.now.Format(time.RFC3339)}},
		{CreatedAt: shipped, Fields: map[string]any{"belegnr": "AU-3", "name": "Shop Kunde", "shipped_at": shipped.Format(time.RFC3339)}},
	})
	if err != nil {
		t.Fatal(err)
	}
	mia := s.signedIn("mia")
	code, body := s.get(mia, "/console/t/acme/protection")
	if code != 200 || !strings.Contains(body, "Not activated yet") || !strings.Contains(body, "<td>amazon</td>") ||
		!strings.Contains(body, "Last run: none yet") || !strings.Contains(body, `id="activate"`) {
		t.Fatalf("protection before activation: %d\n%s", code, body)
	}
	if strings.Contains(body, "Erika") {
		t.Fatal("protection page shows PII")
	}
	resp := s.post(mia, "/console/t/acme/protection", url.Values{"csrf": {csrfOf(t, body)}})
	if resp.StatusCode != http.StatusSeeOther {
		t.Fatalf("activate: %d", resp.StatusCode)
	}
	_, body = s.get(mia, "/console/t/acme/protection")
	if !strings.Contains(body, "<strong>Active</strong> since 2026-11-23 12:00 UTC (activated by console:mia)") ||
		!strings.Contains(body, `anonymized <strong id="last-anonymized">1</strong> records`) {
		t.Fatalf("protection after activation:\n%s", body)
	}
	// The run anonymized the shipped Amazon order only.
	for i, want := range []lethe.State{lethe.StateAnonymized, lethe.StateActive, lethe.StateActive} {
		d, err := s.eng.Get(ctx, lethe.RecordRef{Tenant: "acme", Collection: "orders", ID: docs[i].ID})
		if err != nil || d.State != want {
			t.Fatalf("order %d: %+v, %v; want %s", i, d, err, want)
		}
	}
	// The periods are pinned in the settings; the decision is audited.
	for _, coll := range []string{"orders", "delivery_notes", "invoices", "addresses"} {
		st, err := s.eng.Settings(ctx, "acme", coll)
		if err != nil || st.Periods["anonymize"].String() != "30d" {
			t.Fatalf("%s settings after activation: %+v, %v", coll, st, err)
		}
	}
	e := newest(t, s, "acme", "protection.activate")
	if e == nil || e.Actor != "console:mia" {
		t.Fatalf("activation not in the security log: %+v", e)
	}
}

func TestProtection_AuditorAndOtherTenant(t *testing.T) {
	s := newStack(t)
	aud := s.signedIn("aud")
	code, body := s.get(aud, "/console/t/acme/protection")
	if code != 200 || strings.Contains(body, `id="activate"`) {
		t.Fatalf("auditor's protection page: %d\n%s", code, body)
	}
	if resp := s.post(aud, "/console/t/acme/protection", url.Values{"csrf": {csrfOf(t, body)}}); resp.StatusCode != http.StatusForbidden {
		t.Fatalf("auditor activates: %d", resp.StatusCode)
	}
	chatTenant(t, s)
	ben := s.signedIn("ben")
	_, own := s.get(ben, "/console/t/bot/protection")
	if !strings.Contains(own, "protect no marketplace origin") {
		t.Fatalf("chatbot tenant's protection page:\n%s", own)
	}
	if resp := s.post(ben, "/console/t/acme/protection", url.Values{"csrf": {csrfOf(t, own)}}); resp.StatusCode != http.StatusForbidden {
		t.Fatalf("bot's manager activates acme: %d", resp.StatusCode)
	}
	if e := newest(t, s, "acme", "protection.activate"); e != nil {
		t.Fatalf("activated by someone: %+v", e)
	}
}

// TestProtection_SweepsOnlyTheClickedTenant: two marketplace tenants and
// a chatbot tenant all have due work; the button on acme's page acts on
// acme's records alone.
func TestProtection_SweepsOnlyTheClickedTenant(t *testing.T) {
	s := newStack(t)
	chatTenant(t, s) // bot: two live-chat messages due for deletion
	ctx := context.Background()
	if _, err := s.eng.CreateTenant(ctx, "test", "shop2", []string{"erp-marketplace"}); err != nil {
		t.Fatal(err)
	}
	shipped := s.now.Add(-40 * 24 * time.Hour)
	order := func(tenant, no string) string {
		t.Helper()
		d, err := s.eng.Put(ctx, tenant, "orders", []engine.NewRecord{{Origin: "amazon", CreatedAt: shipped,
			Fields: map[string]any{"belegnr": no, "name": "Erika Mustermann", "shipped_at": shipped.Format(time.RFC3339)}}})
		if err != nil {
			t.Fatal(err)
		}
		return d[0].ID
	}
	acmeOrder, shopOrder := order("acme", "AU-1"), order("shop2", "SH-1")
	mia := s.signedIn("mia")
	_, body := s.get(mia, "/console/t/acme/protection")
	if resp := s.post(mia, "/console/t/acme/protection", url.Values{"csrf": {csrfOf(t, body)}}); resp.StatusCode != http.StatusSeeOther {
		t.Fatalf("activate: %d", resp.StatusCode)
	}
	state := func(tenant, id string) lethe.State {
		t.Helper()
		d, err := s.eng.Get(ctx, lethe.RecordRef{Tenant: tenant, Collection: "orders", ID: id})
		if err != nil {
			t.Fatal(err)
		}
		return d.State
	}
	if got := state("acme", acmeOrder); got != lethe.StateAnonymized {
		t.Fatalf("acme's due order is %s after acme's button", got)
	}
	if got := state("shop2", shopOrder); got != lethe.StateActive {
		t.Fatalf("shop2's due order is %s after acme's button", got)
	}
	if p, err := s.eng.BrowseRecords(ctx, "bot", "live_chat_messages", engine.RecordFilter{}); err != nil || len(p.Items) != 2 {
		t.Fatalf("bot's due messages after acme's button: %+v, %v; want both kept", p, err)
	}
	// The scheduled sweep still does the rest.
	if _, err := s.eng.Sweep(ctx); err != nil {
		t.Fatal(err)
	}
	if got := state("shop2", shopOrder); got != lethe.StateAnonymized {
		t.Fatalf("shop2's order after the scheduled sweep: %s", got)
	}
}
