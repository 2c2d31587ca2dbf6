package storetest

import (
	"slices"
	"testing"

	"github.com/lethe-privacy/lethe"
)

var tenantTests = map[string]func(*testing.T, Opener){
	// A tenant keeps the phone region it was created with, DE when it
	// named none, and a change reaches that tenant alone.
	"PhoneRegionStoredAndChanged": func(t *testing.T, open Opener) {
		s := open(t)
		ctx := t.Context()
		for _, tn := range []*lethe.Tenant{
			{ID: "nl", Packs: []string{"chatbot"}, PhoneRegion: "NL", CreatedAt: t0},
			{ID: "plain", Packs: []string{"chatbot"}, CreatedAt: t0},
		} {
			if err := s.CreateTenant(ctx, tn); err != nil {
				t.Fatalf("CreateTenant %s: %v", tn.ID, err)
			}
		}
		region := func(id string) string {
			t.Helper()
			tn, err := s.Tenant(ctx, id)
			if err != nil {
				t.Fatalf("Tenant %s: %v", id, err)
			}
			return tn.PhoneRegion
		}
		if got := region("nl"); got != "NL" {
			t.Errorf("region of nl = %q, want NL", got)
		}
		if got := region("plain"); got != lethe.DefaultPhoneRegion {
			t.Errorf("region of a tenant that named none = %q, want %s", got, lethe.DefaultPhoneRegion)
		}
		if err := s.SetTenantPhoneRegion(ctx, "plain", "AT"); err != nil {
			t.Fatalf("SetTenantPhoneRegion: %v", err)
		}
		if got := region("plain"); got != "AT" {
			t.Errorf("region after the change = %q, want AT", got)
		}
		if got := region("nl"); got != "NL" {
			t.Errorf("the change reached another tenant: nl is %q", got)
		}
		all, err := s.Tenants(ctx)
		if err != nil || len(all) != 2 || all[0].PhoneRegion != "NL" || all[1].PhoneRegion != "AT" {
			t.Fatalf("Tenants = %v, %v; want nl NL, plain AT", all, err)
		}
		wantErr(t, "SetTenantPhoneRegion of an unknown tenant", s.SetTenantPhoneRegion(ctx, "nobody", "NL"), lethe.ErrNotFound)
		wantErr(t, "SetTenantPhoneRegion to nothing", s.SetTenantPhoneRegion(ctx, "nl", ""), lethe.ErrInvalid)
	},
	// A tenant starts with session tokens off and no chat origins; what it
	// sets is read back as written and reaches that tenant alone.
	"ChatSettingsOffByDefaultAndChanged": func(t *testing.T, open Opener) {
		s := open(t)
		ctx := t.Context()
		for _, id := range []string{"a", "b"} {
			if err := s.CreateTenant(ctx, &lethe.Tenant{ID: id, Packs: []string{"chatbot"}, CreatedAt: t0}); err != nil {
				t.Fatalf("CreateTenant %s: %v", id, err)
			}
		}
		lifetime := func(id string) string {
			t.Helper()
			tn, err := s.Tenant(ctx, id)
			if err != nil {
				t.Fatalf("Tenant %s: %v", id, err)
			}
			return tn.SessionLifetime.String()
		}
		if got := lifetime("a"); got != "0s" {
			t.Errorf("new tenant's session lifetime = %s, want 0s (off)", got)
		}
		if tn, _ := s.Tenant(ctx, "a"); tn.ChatOrigins != nil {
			t.Errorf("new tenant's chat origins = %v, want none", tn.ChatOrigins)
		}
		origins := []string{"https://shop.example", "http://localhost:3000"}
		if err := s.SetTenantChat(ctx, "a", lethe.MustDuration("14d"), origins); err != nil {
			t.Fatalf("SetTenantChat: %v", err)
		}
		if tn, _ := s.Tenant(ctx, "a"); !slices.Equal(tn.ChatOrigins, origins) {
			t.Errorf("chat origins = %v, want %v", tn.ChatOrigins, origins)
		}
		if got := lifetime("a"); got != "14d" {
			t.Errorf("lifetime after the change = %s, want 14d", got)
		}
		if got := lifetime("b"); got != "0s" {
			t.Errorf("the change reached another tenant: b is %s", got)
		}
		all, err := s.Tenants(ctx)
		if err != nil || len(all) != 2 || all[0].SessionLifetime.String() != "14d" {
			t.Fatalf("Tenants = %v, %v; want a with 14d", all, err)
		}
		page, err := s.ListTenants(ctx, lethe.TenantQuery{Limit: 10})
		if err != nil || len(page) != 2 || page[0].SessionLifetime.String() != "14d" {
			t.Fatalf("ListTenants = %v, %v; want a with 14d", page, err)
		}
		if err := s.SetTenantChat(ctx, "a", lethe.MustDuration("14d"), nil); err != nil {
			t.Fatalf("SetTenantChat without origins: %v", err)
		}
		if tn, _ := s.Tenant(ctx, "a"); tn.ChatOrigins != nil {
			t.Errorf("chat origins after clearing = %v", tn.ChatOrigins)
		}
		wantErr(t, "SetTenantChat of an unknown tenant", s.SetTenantChat(ctx, "nobody", lethe.MustDuration("1h"), nil), lethe.ErrNotFound)
	},
}
