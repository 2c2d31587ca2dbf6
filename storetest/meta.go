package storetest

import (
	"bytes"
	"fmt"
	"testing"
	"time"

	"github.com/lethe-privacy/lethe"
)

var metaTests = map[string]func(*testing.T, Opener){
	"MetaUnsetIsNotFoundThenRoundTrips": func(t *testing.T, open Opener) {
		s := open(t)
		ctx := t.Context()
		_, err := s.Meta(ctx, "admin_token")
		wantErr(t, "Meta unset", err, lethe.ErrNotFound)
		for _, v := range [][]byte{[]byte("first"), []byte("second")} {
			if err := s.SetMeta(ctx, "admin_token", v); err != nil {
				t.Fatalf("SetMeta: %v", err)
			}
			got, err := s.Meta(ctx, "admin_token")
			if err != nil || !bytes.Equal(got, v) {
				t.Fatalf("Meta = %q, %v; want %q", got, err, v)
			}
		}
	},
	"TenantDuplicateIsConflict": func(t *testing.T, open Opener) {
		s := open(t)
		ctx := t.Context()
		b := &lethe.Tenant{ID: "beta", Packs: []string{"chatbot", "conversations"}, PhoneRegion: "BE", CreatedAt: t0}
		a := &lethe.Tenant{ID: "alpha", Packs: []string{"erp-marketplace"}, PhoneRegion: "DE", CreatedAt: t0.Add(time.Hour)}
		for _, tn := range []*lethe.Tenant{b, a} {
			if err := s.CreateTenant(ctx, tn); err != nil {
				t.Fatalf("CreateTenant %s: %v", tn.ID, err)
			}
		}
		err := s.CreateTenant(ctx, &lethe.Tenant{ID: "alpha", CreatedAt: t0})
		wantErr(t, "second alpha", err, lethe.ErrConflict)
		wantConflict(t, "second alpha", err, "tenant alpha exists")
		got, err := s.Tenant(ctx, "alpha")
		if err != nil {
			t.Fatalf("Tenant: %v", err)
		}
		same(t, "Tenant alpha", got, a)
		_, err = s.Tenant(ctx, "gamma")
		wantErr(t, "unknown tenant", err, lethe.ErrNotFound)
		all, err := s.Tenants(ctx)
		if err != nil {
			t.Fatalf("Tenants: %v", err)
		}
		same(t, "Tenants", all, []*lethe.Tenant{a, b})
	},
	"KeysOldestVersionFirstPerTenant": func(t *testing.T, open Opener) {
		s := open(t)
		ctx := t.Context()
		keys := []*lethe.WrappedKey{
			{Tenant: "a", Purpose: lethe.KeyData, Version: 2, KEKID: "kek1", Wrapped: []byte("w-a-data-2"), Created: t0.Add(time.Hour)},
			{Tenant: "a", Purpose: lethe.KeyData, Version: 1, KEKID: "kek1", Wrapped: []byte("w-a-data-1"), Created: t0, Retired: true},
			{Tenant: "a", Purpose: lethe.KeyIndex, Version: 1, KEKID: "kek1", Wrapped: []byte("w-a-index-1"), Created: t0},
			{Tenant: "b", Purpose: lethe.KeyData, Version: 1, KEKID: "kek2", Wrapped: []byte("w-b-data-1"), Created: t0},
		}
		for _, k := range keys {
			if err := s.PutKey(ctx, k); err != nil {
				t.Fatalf("PutKey %s/%s/%d: %v", k.Tenant, k.Purpose, k.Version, err)
			}
		}
		err := s.PutKey(ctx, &lethe.WrappedKey{Tenant: "a", Purpose: lethe.KeyData, Version: 1, KEKID: "kek1", Wrapped: []byte("x"), Created: t0})
		wantErr(t, "PutKey same version", err, lethe.ErrConflict)
		got, err := s.Keys(ctx, "a")
		if err != nil {
			t.Fatalf("Keys: %v", err)
		}
		if len(got) != 3 {
			t.Fatalf("Keys(a) returned %d keys, want 3", len(got))
		}
		for i := 1; i < len(got); i++ {
			if got[i].Version < got[i-1].Version {
				t.Fatalf("Keys(a) not oldest version first: v%d before v%d", got[i-1].Version, got[i].Version)
			}
		}
		for _, k := range got {
			if k.Tenant != "a" {
				t.Fatalf("Keys(a) returned a key of tenant %q", k.Tenant)
			}
			if k.Purpose == lethe.KeyData && k.Version == 1 {
				same(t, "retired key", k, keys[1])
			}
		}
		none, err := s.Keys(ctx, "c")
		if err != nil || len(none) != 0 {
			t.Fatalf("Keys(c) = %v, %v; want none", none, err)
		}
	},
	"InitMetaFirstValueWins": func(t *testing.T, open Opener) {
		s := open(t)
		ctx := t.Context()
		got, err := s.InitMeta(ctx, "kek_id", []byte("first"))
		if err != nil || string(got) != "first" {
			t.Fatalf("InitMeta on an unset key = %q, %v; want first", got, err)
		}
		got, err = s.InitMeta(ctx, "kek_id", []byte("second"))
		if err != nil || string(got) != "first" {
			t.Fatalf("InitMeta on a set key = %q, %v; want the earlier first", got, err)
		}
		if v, err := s.Meta(ctx, "kek_id"); err != nil || string(v) != "first" {
			t.Fatalf("Meta after InitMeta = %q, %v", v, err)
		}
		// Racing callers agree on one value.
		vals := make(chan string, 8)
		for i := range 8 {
			go func() {
				v, err := s.InitMeta(ctx, "race", []byte(fmt.Sprint("v", i)))
				if err != nil {
					v = []byte("error: " + err.Error())
				}
				vals <- string(v)
			}()
		}
		first := <-vals
		for range 7 {
			if v := <-vals; v != first {
				t.Fatalf("racing InitMeta calls saw %q and %q", first, v)
			}
		}
	},
	"APIKeysListAndRevoke": func(t *testing.T, open Opener) {
		s := open(t)
		ctx := t.Context()
		k1 := &lethe.APIKey{Prefix: "p1", Tenant: "a", Hash: hash("s1"), CreatedAt: t0, Roles: []lethe.Role{lethe.RoleReader}}
		k2 := &lethe.APIKey{Prefix: "p2", Tenant: "a", Hash: hash("s2"), CreatedAt: t0.Add(time.Second), Roles: []lethe.Role{lethe.RoleAdmin, lethe.RoleWriter, lethe.RoleAuditor}}
		kb := &lethe.APIKey{Prefix: "p3", Tenant: "b", Hash: hash("s3"), CreatedAt: t0, Roles: lethe.DefaultKeyRoles()}
		for _, k := range []*lethe.APIKey{k2, k1, kb} {
			if err := s.CreateAPIKey(ctx, k); err != nil {
				t.Fatalf("CreateAPIKey: %v", err)
			}
		}
		got, err := s.APIKeys(ctx, "a")
		if err != nil {
			t.Fatalf("APIKeys: %v", err)
		}
		same(t, "APIKeys(a)", got, []*lethe.APIKey{k1, k2})
		wantErr(t, "RevokeAPIKey of another tenant's key", s.RevokeAPIKey(ctx, "a", "p3"), lethe.ErrNotFound)
		wantErr(t, "RevokeAPIKey of an unknown key", s.RevokeAPIKey(ctx, "a", "nope"), lethe.ErrNotFound)
		for range 2 { // revoking twice is not an error
			if err := s.RevokeAPIKey(ctx, "a", "p2"); err != nil {
				t.Fatalf("RevokeAPIKey: %v", err)
			}
		}
		if k, err := s.APIKey(ctx, "p2"); err != nil || !k.Revoked {
			t.Fatalf("APIKey(p2) after revoke = %+v, %v; want revoked", k, err)
		}
		if k, err := s.APIKey(ctx, "p3"); err != nil || k.Revoked {
			t.Fatalf("APIKey(p3) = %+v, %v; want b's key untouched", k, err)
		}
	},
	"APIKeyByPrefix": func(t *testing.T, open Opener) {
		s := open(t)
		ctx := t.Context()
		k := &lethe.APIKey{Prefix: "lk_abc123", Tenant: "a", Hash: hash("secret"), CreatedAt: t0, Roles: []lethe.Role{lethe.RoleRequests, lethe.RoleAuditor}}
		if err := s.CreateAPIKey(ctx, k); err != nil {
			t.Fatalf("CreateAPIKey: %v", err)
		}
		err := s.CreateAPIKey(ctx, &lethe.APIKey{Prefix: "lk_abc123", Tenant: "b", Hash: hash("other"), CreatedAt: t0})
		wantErr(t, "same prefix", err, lethe.ErrConflict)
		got, err := s.APIKey(ctx, "lk_abc123")
		if err != nil {
			t.Fatalf("APIKey: %v", err)
		}
		same(t, "APIKey", got, k)
		_, err = s.APIKey(ctx, "lk_nope")
		wantErr(t, "unknown prefix", err, lethe.ErrNotFound)
	},
	"SettingsRoundTripPerTenantAndCollection": func(t *testing.T, open Opener) {
		s := open(t)
		ctx := t.Context()
		_, err := s.Settings(ctx, "a", "orders")
		wantErr(t, "Settings unset", err, lethe.ErrNotFound)
		off := false
		st := &lethe.Settings{
			Enabled:      &off,
			Periods:      map[string]lethe.Duration{"delete-after": lethe.MustDuration("30d"), "anonymize": lethe.MustDuration("2y")},
			Placeholder:  "Kunde",
			DropMetadata: []string{"ip", "user_agent"},
			UpdatedAt:    t0,
		}
		if err := s.PutSettings(ctx, "a", "orders", st); err != nil {
			t.Fatalf("PutSettings: %v", err)
		}
		got, err := s.Settings(ctx, "a", "orders")
		if err != nil {
			t.Fatalf("Settings: %v", err)
		}
		same(t, "Settings", got, st)
		_, err = s.Settings(ctx, "b", "orders")
		wantErr(t, "other tenant's settings", err, lethe.ErrNotFound)
		_, err = s.Settings(ctx, "a", "invoices")
		wantErr(t, "other collection's settings", err, lethe.ErrNotFound)

		st2 := &lethe.Settings{Placeholder: "Gast", UpdatedAt: t0.Add(time.Hour)}
		if err := s.PutSettings(ctx, "a", "orders", st2); err != nil {
			t.Fatalf("PutSettings again: %v", err)
		}
		got, err = s.Settings(ctx, "a", "orders")
		if err != nil {
			t.Fatalf("Settings: %v", err)
		}
		same(t, "replaced Settings", got, st2)
	},
}
