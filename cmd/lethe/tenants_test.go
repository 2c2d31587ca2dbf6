package main

import (
	"encoding/json"
	"net/http"
	"strings"
	"testing"
)

// mustCLI runs the command line and fails the test on a non-zero exit.
func mustCLI(t *testing.T, args ...string) (stdout, stderr string) {
	t.Helper()
	out, errOut, code := reqCLI(args...)
	if code != 0 {
		t.Fatalf("lethe %s: exit %d\n%s", strings.Join(args, " "), code, errOut)
	}
	return out, errOut
}

// mustJSON decodes a command's --json output into v.
func mustJSON(t *testing.T, out string, v any) {
	t.Helper()
	if err := json.Unmarshal([]byte(out), v); err != nil {
		t.Fatalf("output is not JSON: %v\n%s", err, out)
	}
}

func TestTenantsCommands_CreateListShowAudited(t *testing.T) {
	dir := newDataDir(t)
	out, _ := mustCLI(t, "tenants", "create", "shop", "--pack", "erp-marketplace", "--json", "--data", dir)
	var created tenantJSON
	mustJSON(t, out, &created)
	if created.ID != "shop" || len(created.Packs) != 1 || created.Packs[0] != "erp-marketplace" || created.CreatedAt.IsZero() {
		t.Fatalf("created: %s", out)
	}
	out, _ = mustCLI(t, "tenants", "create", "bot", "--pack", "chatbot,conversations", "--data", dir)
	if !strings.Contains(out, "created tenant bot (packs: chatbot, conversations)") {
		t.Errorf("human create: %q", out)
	}

	out, _ = mustCLI(t, "tenants", "list", "--json", "--data", dir)
	var list struct {
		Tenants []tenantJSON `json:"tenants"`
	}
	mustJSON(t, out, &list)
	if len(list.Tenants) != 2 || list.Tenants[0].ID != "bot" || list.Tenants[1].ID != "shop" {
		t.Fatalf("list: %s", out)
	}
	out, _ = mustCLI(t, "tenants", "list", "--data", dir)
	if !strings.Contains(out, "chatbot,conversations") || !strings.Contains(out, "erp-marketplace") {
		t.Errorf("human list:\n%s", out)
	}

	out, _ = mustCLI(t, "tenants", "show", "shop", "--json", "--data", dir)
	var shown struct {
		ID          string                 `json:"id"`
		Collections []tenantCollectionJSON `json:"collections"`
		ActiveKeys  int                    `json:"active_keys"`
	}
	mustJSON(t, out, &shown)
	names := map[string]bool{}
	for _, c := range shown.Collections {
		names[c.Name] = c.Enabled
	}
	if shown.ID != "shop" || !names["orders"] || !names["invoices"] || shown.ActiveKeys != 0 {
		t.Fatalf("show: %s", out)
	}

	out, _ = mustCLI(t, "audit", "tail", "--tenant", "shop", "--log", "security", "--data", dir)
	if !strings.Contains(out, operator()) || !strings.Contains(out, "tenant.create") {
		t.Errorf("tenant creation not audited under %q:\n%s", operator(), out)
	}
}

func TestKeysCommands_CreatedKeyWorksUntilRevoked(t *testing.T) {
	dir := newDataDir(t)
	mustCLI(t, "tenants", "create", "shop", "--pack", "erp-marketplace", "--data", dir)
	key1, stderr := mustCLI(t, "keys", "create", "--tenant", "shop", "--data", dir)
	key1 = strings.TrimSpace(key1)
	if !strings.HasPrefix(key1, "lk_") || !strings.Contains(stderr, "shown once") {
		t.Fatalf("keys create: stdout %q stderr %q", key1, stderr)
	}
	out, _ := mustCLI(t, "keys", "create", "--tenant", "shop", "--json", "--data", dir)
	var k2 struct{ Key, Tenant, Prefix string }
	mustJSON(t, out, &k2)
	if k2.Tenant != "shop" || !strings.HasPrefix(k2.Key, "lk_"+k2.Prefix+"_") {
		t.Fatalf("keys create --json: %s", out)
	}

	mustCLI(t, "keys", "revoke", keyPrefix(key1), "--tenant", "shop", "--data", dir)
	out, _ = mustCLI(t, "keys", "list", "--tenant", "shop", "--json", "--data", dir)
	var list struct {
		Keys []keyJSON `json:"keys"`
	}
	mustJSON(t, out, &list)
	revoked := map[string]bool{}
	for _, k := range list.Keys {
		revoked[k.Prefix] = k.Revoked
	}
	if len(list.Keys) != 2 || !revoked[keyPrefix(key1)] || revoked[k2.Prefix] {
		t.Fatalf("keys list: %s", out)
	}
	if strings.Contains(out, k2.Key) {
		t.Errorf("keys list shows a secret:\n%s", out)
	}
	out, _ = mustCLI(t, "keys", "list", "--tenant", "shop", "--data", dir)
	if !strings.Contains(out, k2.Prefix) {
		t.Errorf("human list lacks %s:\n%s", k2.Prefix, out)
	}
	if _, stderr, code := reqCLI("keys", "revoke", "nosuchprefix", "--tenant", "shop", "--data", dir); code != exitNotFound {
		t.Errorf("revoke unknown: exit %d, want %d\n%s", code, exitNotFound, stderr)
	}
	if _, stderr, code := reqCLI("keys", "create", "--tenant", "nope", "--data", dir); code != exitNotFound {
		t.Errorf("key for unknown tenant: exit %d, want %d\n%s", code, exitNotFound, stderr)
	}
	out, _ = mustCLI(t, "audit", "tail", "--tenant", "shop", "--log", "security", "--data", dir)
	if strings.Count(out, "apikey.create") != 2 || !strings.Contains(out, "apikey.revoke") || !strings.Contains(out, operator()) {
		t.Errorf("key changes not audited:\n%s", out)
	}

	// The keys made here are the server's keys: the revoked one is refused.
	addr, _, _ := startServe(t, map[string]string{"LETHE_ADMIN_TOKEN": "a-long-enough-admin-token"}, "--data", dir, "--addr", "127.0.0.1:0", "--sweep-interval", "0")
	for _, tc := range []struct {
		key  string
		want int
	}{{key1, http.StatusUnauthorized}, {k2.Key, http.StatusOK}} {
		req, _ := http.NewRequest("GET", "http://"+addr+"/v1/tenants/shop/collections", nil)
		req.Header.Set("Authorization", "Bearer "+tc.key)
		res, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		res.Body.Close()
		if res.StatusCode != tc.want {
			t.Errorf("key %s: status %d, want %d", keyPrefix(tc.key), res.StatusCode, tc.want)
		}
	}
}

// TestKeysCommands_RolesAndTheSuperuserFlag makes keys with --role: the
// listing shows the roles, an unknown role is refused as bad input, and
// the server holds each key to its roles. The admin token reads records
// only on a server started with --admin-superuser, which warns.
func TestKeysCommands_RolesAndTheSuperuserFlag(t *testing.T) {
	dir := newDataDir(t)
	mustCLI(t, "tenants", "create", "shop", "--pack", "erp-marketplace", "--data", dir)
	out, _ := mustCLI(t, "keys", "create", "--tenant", "shop", "--role", "auditor", "--role", "reader", "--json", "--data", dir)
	var aud struct {
		Key   string
		Roles []string
	}
	mustJSON(t, out, &aud)
	if strings.Join(aud.Roles, ",") != "reader,auditor" {
		t.Fatalf("keys create --role auditor --role reader: %s", out)
	}
	def, _ := mustCLI(t, "keys", "create", "--tenant", "shop", "--data", dir)
	def = strings.TrimSpace(def)
	out, _ = mustCLI(t, "keys", "list", "--tenant", "shop", "--data", dir)
	if !strings.Contains(out, "ROLES") || !strings.Contains(out, "reader,auditor") || !strings.Contains(out, "reader,writer,requests") {
		t.Errorf("keys list does not show the roles:\n%s", out)
	}
	if _, stderr, code := reqCLI("keys", "create", "--tenant", "shop", "--role", "root", "--data", dir); code != exitInvalid || !strings.Contains(stderr, `unknown role "root"`) {
		t.Errorf("unknown role: exit %d, want %d\n%s", code, exitInvalid, stderr)
	}

	const admin = "a-long-enough-admin-token"
	status := func(addr, token, method, path, body string) int {
		t.Helper()
		req, _ := http.NewRequest(method, "http://"+addr+path, strings.NewReader(body))
		req.Header.Set("Authorization", "Bearer "+token)
		res, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		res.Body.Close()
		return res.StatusCode
	}
	addr, stderr, stop := startServe(t, map[string]string{"LETHE_ADMIN_TOKEN": admin}, "--data", dir, "--addr", "127.0.0.1:0", "--sweep-interval", "0")
	for _, tc := range []struct {
		name, token, method, path string
		want                      int
	}{
		{"default key writes", def, "POST", "/v1/tenants/shop/collections/orders/records", http.StatusCreated},
		{"auditor key reads logs", aud.Key, "GET", "/v1/tenants/shop/logs/security", http.StatusOK},
		{"auditor key does not write", aud.Key, "POST", "/v1/tenants/shop/collections/orders/records", http.StatusForbidden},
		{"default key reads no logs", def, "GET", "/v1/tenants/shop/logs/security", http.StatusForbidden},
		{"admin token reads no records", admin, "GET", "/v1/tenants/shop/collections/orders/records", http.StatusForbidden},
		{"admin token changes settings", admin, "GET", "/v1/tenants/shop/settings/orders", http.StatusOK},
	} {
		if got := status(addr, tc.token, tc.method, tc.path, `{"id":"o-1","fields":{"name":"Erika"}}`); got != tc.want {
			t.Errorf("%s: status %d, want %d", tc.name, got, tc.want)
		}
	}
	if strings.Contains(stderr.String(), "superuser") {
		t.Errorf("a start without the flag warns of a superuser:\n%s", stderr)
	}
	if err := stop(); err != nil {
		t.Fatal(err)
	}
	addr, stderr, _ = startServe(t, map[string]string{"LETHE_ADMIN_TOKEN": admin, "LETHE_ADMIN_SUPERUSER": "1"}, "--data", dir, "--addr", "127.0.0.1:0", "--sweep-interval", "0")
	if got := status(addr, admin, "GET", "/v1/tenants/shop/collections/orders/records", ""); got != http.StatusOK {
		t.Errorf("superuser admin token reads records: status %d, want 200", got)
	}
	if !strings.Contains(stderr.String(), "level=WARN") || !strings.Contains(stderr.String(), "superuser") {
		t.Errorf("the superuser start does not warn:\n%s", stderr)
	}
}
