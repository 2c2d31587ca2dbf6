package main

import (
	"context"
	"errors"
	"log/slog"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/lethe-privacy/lethe"
	"github.com/lethe-privacy/lethe/engine"
)

// TestTenantsSetKey_OwnKeyPerTenantFailsClosedForThatTenantOnly gives two
// tenants two master keys of their own (two key files), beside the
// instance's: each tenant's keys are rewrapped under its own key, the data
// reads after a restart, and the instance's master key rotation leaves
// them alone. Once one tenant's key file is gone, that tenant's reads and
// writes fail while the other's go on, and /readyz names the failing one.
func TestTenantsSetKey_OwnKeyPerTenantFailsClosedForThatTenantOnly(t *testing.T) {
	ctx := context.Background()
	dir := filepath.Join(t.TempDir(), "data")
	tenants := []string{"acme", "shop"}
	func() {
		o, err := (&dataFlags{dir: dir}).open(ctx, true, slog.New(slog.DiscardHandler))
		if err != nil {
			t.Fatal(err)
		}
		defer o.Close()
		for _, tn := range tenants {
			if _, err := o.eng.CreateTenant(ctx, "admin", tn, []string{"erp-marketplace"}); err != nil {
				t.Fatal(err)
			}
			if _, err := o.eng.Put(ctx, tn, "orders", []engine.NewRecord{{ID: "A-1", Fields: map[string]any{"email": tn + "@example.com"}}}); err != nil {
				t.Fatal(err)
			}
		}
	}()
	keyOf := map[string]string{"acme": newKeyFile(t), "shop": newKeyFile(t)}

	for _, tc := range []struct {
		name string
		args []string
		code int
	}{
		{"unknown tenant", []string{"nobody", "file://" + keyOf["acme"]}, exitNotFound},
		{"missing key file", []string{"acme", "file://" + filepath.Join(t.TempDir(), "none.key")}, exitMasterKey},
		{"unknown scheme", []string{"acme", "hsm://x"}, exitInvalid},
		{"the system tenant", []string{lethe.SystemTenant, "file://" + keyOf["acme"]}, exitInvalid},
	} {
		t.Run(tc.name, func(t *testing.T) {
			_, err := runKeysCLI(t, append([]string{"tenants", "set-key", "--data", dir}, tc.args...)...)
			if exitCode(err) != tc.code || strings.Contains(message(err), "\n") {
				t.Fatalf("set-key %v: %v (exit %d), want exit %d", tc.args, err, exitCode(err), tc.code)
			}
		})
	}
	func() {
		o, err := (&dataFlags{dir: dir}).open(ctx, false, slog.New(slog.DiscardHandler))
		if err != nil {
			t.Fatal(err)
		}
		defer o.Close()
		if _, err := o.eng.TenantMasterKey(ctx, "acme"); !errors.Is(err, lethe.ErrNotFound) {
			t.Fatalf("a refused set-key recorded a key: %v", err)
		}
	}()

	for _, tn := range tenants {
		if _, err := runKeysCLI(t, "tenants", "set-key", "--data", dir, tn, "file://"+keyOf[tn]); err != nil {
			t.Fatal(err)
		}
	}
	// The instance's master key rotates; the tenants' keys stay on theirs.
	if _, err := runKeysCLI(t, "keys", "rotate", "--master", "--data", dir); err != nil {
		t.Fatal(err)
	}
	o, err := (&dataFlags{dir: dir}).open(ctx, false, slog.New(slog.DiscardHandler))
	if err != nil {
		t.Fatal(err)
	}
	kekIDs := map[string]map[string]bool{}
	for _, tn := range tenants {
		keys, err := o.store.Keys(ctx, tn)
		if err != nil {
			t.Fatal(err)
		}
		kekIDs[tn] = map[string]bool{}
		for _, k := range keys {
			kekIDs[tn][k.KEKID] = true
		}
		if len(kekIDs[tn]) != 1 {
			t.Fatalf("%s's keys are wrapped by %v, want one key of its own", tn, kekIDs[tn])
		}
		d, err := o.eng.Get(ctx, lethe.RecordRef{Tenant: tn, Collection: "orders", ID: "A-1"})
		if err != nil || d.Fields["email"] != tn+"@example.com" {
			t.Fatalf("%s after a restart on its own key: %v %v", tn, d, err)
		}
	}
	o.Close()
	for id := range kekIDs["acme"] {
		if kekIDs["shop"][id] {
			t.Fatal("both tenants' keys are wrapped by one key")
		}
	}

	env := map[string]string{"LETHE_ADMIN_TOKEN": "a-long-enough-admin-token"}
	addr, _, stop := startServe(t, env, "--data", dir, "--addr", "127.0.0.1:0")
	admin := api{t: t, base: addr, token: env["LETHE_ADMIN_TOKEN"]}
	apiKey := map[string]string{}
	for _, tn := range tenants {
		var key struct{ Key string }
		admin.must("POST", "/v1/tenants/"+tn+"/keys", nil, &key, 201)
		apiKey[tn] = key.Key
	}
	if err := stop(); err != nil {
		t.Fatal(err)
	}

	// acme's key goes: acme fails, closed; shop goes on; /readyz says so.
	if err := os.Rename(keyOf["acme"], keyOf["acme"]+".gone"); err != nil {
		t.Fatal(err)
	}
	addr, _, stop = startServe(t, env, "--data", dir, "--addr", "127.0.0.1:0")
	shop, acme := api{t, addr, apiKey["shop"]}, api{t, addr, apiKey["acme"]}
	var rec map[string]any
	shop.must("GET", "/v1/tenants/shop/collections/orders/records/A-1", nil, &rec, 200)
	if code := acme.do("GET", "/v1/tenants/acme/collections/orders/records/A-1", nil, nil); code < 400 {
		t.Fatalf("acme's record without its key: %d", code)
	}
	if code := acme.do("POST", "/v1/tenants/acme/collections/orders/records", map[string]any{"records": []map[string]any{{"id": "A-2", "fields": map[string]any{"email": "x@example.com"}}}}, nil); code < 400 {
		t.Fatalf("a write to acme without its key: %d", code)
	}
	shop.must("POST", "/v1/tenants/shop/collections/orders/records", map[string]any{"records": []map[string]any{{"id": "A-2", "fields": map[string]any{"email": "y@example.com"}}}}, nil, 201)
	got := getReadyz(t, addr)
	if got["tenant_master_keys_failing"] != "acme" || got["master_key"] != "ok" || got["status"] != "ready" {
		t.Fatalf("readyz with acme's key gone: %v", got)
	}

	// The same through the API (admin only): shop moves to a third key
	// while serving; a key that cannot be opened is refused, 422 or 400.
	admin = api{t: t, base: addr, token: env["LETHE_ADMIN_TOKEN"]}
	third := newKeyFile(t)
	if code := shop.do("PATCH", "/v1/tenants/shop", map[string]any{"master_key": "file://" + third}, nil); code != 403 {
		t.Fatalf("PATCH master_key with the tenant's own key: %d, want 403", code)
	}
	if code := admin.do("PATCH", "/v1/tenants/shop", map[string]any{"master_key": "file://" + filepath.Join(t.TempDir(), "none.key")}, nil); code != 422 && code != 400 {
		t.Fatalf("PATCH master_key to a missing key file: %d", code)
	}
	var tj map[string]any
	admin.must("PATCH", "/v1/tenants/shop", map[string]any{"master_key": "file://" + third}, &tj, 200)
	if _, shown := tj["master_key"]; shown || tj["id"] != "shop" {
		t.Fatalf("PATCH answer: %v", tj)
	}
	shop.must("GET", "/v1/tenants/shop/collections/orders/records/A-1", nil, &rec, 200)
	if err := stop(); err != nil {
		t.Fatal(err)
	}
	o, err = (&dataFlags{dir: dir}).open(ctx, false, slog.New(slog.DiscardHandler))
	if err != nil {
		t.Fatal(err)
	}
	defer o.Close()
	if u, err := o.eng.TenantMasterKey(ctx, "shop"); err != nil || u != "file://"+third {
		t.Fatalf("shop's key after the PATCH: %q %v", u, err)
	}
}
