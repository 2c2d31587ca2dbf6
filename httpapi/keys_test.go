package httpapi_test

import (
	"fmt"
	"slices"
	"strings"
	"testing"

	"github.com/lethe-privacy/lethe"
)

// TestAPI_KeyRevocation lists and revokes API keys: a revoked key is
// refused at once, the tenant's other keys keep working, another tenant's
// key cannot be revoked through this tenant, and both acts are audited.
func TestAPI_KeyRevocation(t *testing.T) {
	ts := newServer(t)
	keyA := ts.tenant("a", "chatbot")
	keyB := ts.tenant("b", "chatbot")
	second := ts.must(201, ts.do(ts.admin, "POST", "/v1/tenants/a/keys", nil)).json(t)["key"].(string)
	prefix := func(key string) string { return strings.Split(key, "_")[1] }

	list := ts.must(200, ts.do(ts.admin, "GET", "/v1/tenants/a/keys", nil))
	if strings.Contains(string(list.body), strings.Split(keyA, "_")[2]) {
		t.Fatalf("the key list shows a secret: %s", list.body)
	}
	keys := list.json(t)["keys"].([]any)
	if len(keys) != 2 {
		t.Fatalf("keys of a: %s; want 2", list.body)
	}
	ts.must(403, ts.do(keyA, "GET", "/v1/tenants/a/keys", nil))
	ts.must(403, ts.do(keyA, "DELETE", "/v1/tenants/a/keys/"+prefix(second), nil))

	ts.must(200, ts.do(keyA, "GET", "/v1/tenants/a", nil))
	ts.must(204, ts.do(ts.admin, "DELETE", "/v1/tenants/a/keys/"+prefix(keyA), nil))
	ts.must(204, ts.do(ts.admin, "DELETE", "/v1/tenants/a/keys/"+prefix(keyA), nil)) // twice is fine
	if r := ts.do(keyA, "GET", "/v1/tenants/a", nil); r.status != 401 || r.header.Get("Content-Type") != "application/problem+json" {
		t.Fatalf("revoked key: status %d (%s), want 401 problem+json", r.status, r.body)
	}
	ts.must(200, ts.do(second, "GET", "/v1/tenants/a", nil))

	// b's key is not a's to revoke, and an unknown prefix is not found.
	ts.must(404, ts.do(ts.admin, "DELETE", "/v1/tenants/a/keys/"+prefix(keyB), nil))
	ts.must(404, ts.do(ts.admin, "DELETE", "/v1/tenants/a/keys/nosuchprefix", nil))
	ts.must(200, ts.do(keyB, "GET", "/v1/tenants/b", nil))

	revoked := 0
	for _, k := range ts.must(200, ts.do(ts.admin, "GET", "/v1/tenants/a/keys", nil)).json(t)["keys"].([]any) {
		if k.(map[string]any)["revoked"] == true {
			revoked++
		}
	}
	if revoked != 1 {
		t.Fatalf("%d keys of a revoked, want 1", revoked)
	}
	entries, err := ts.store.AuditEntries(t.Context(), lethe.AuditQuery{Tenant: "a", Log: lethe.LogSecurity})
	if err != nil {
		t.Fatal(err)
	}
	var events []string
	for _, e := range entries {
		if strings.HasPrefix(e.Event, "apikey.") {
			events = append(events, e.Event)
		}
	}
	if got := strings.Join(events, ","); got != "apikey.create,apikey.create,apikey.revoke,apikey.revoke" {
		t.Fatalf("security log key events: %s", got)
	}
}

// TestAPI_KeysCarryTheirRoles creates keys with and without a role list:
// the listing shows what each holds, a bad list is refused naming the
// entry, and a tenant's admin key cannot mint a key stronger than itself.
func TestAPI_KeysCarryTheirRoles(t *testing.T) {
	ts := newServer(t)
	ts.tenant("a", "chatbot")
	r := ts.must(201, ts.do(ts.admin, "POST", "/v1/tenants/a/keys", map[string]any{"roles": []string{"writer", "reader", "writer"}}))
	if got := fmt.Sprint(r.json(t)["roles"]); got != "[reader writer]" {
		t.Errorf("created roles %s, want [reader writer] (ordered, once each)", got)
	}
	for _, tc := range []struct {
		name, body, field string
	}{
		{"unknown role", `{"roles": ["reader", "root"]}`, "roles[1]"},
		{"empty list", `{"roles": []}`, "roles"},
		{"not a list", `{"roles": "reader"}`, "roles"},
		{"unknown field", `{"role": ["reader"]}`, "role"},
	} {
		r := ts.must(422, ts.do(ts.admin, "POST", "/v1/tenants/a/keys", tc.body))
		if f := problemFields(t, r); f[tc.field] == "" {
			t.Errorf("%s: errors %v, want one on %s", tc.name, f, tc.field)
		}
	}
	adm := ts.key("a", "admin", "auditor")
	ts.must(201, ts.do(adm, "POST", "/v1/tenants/a/keys", map[string]any{"roles": []string{"auditor"}}))
	r = ts.must(403, ts.do(adm, "POST", "/v1/tenants/a/keys", map[string]any{"roles": []string{"reader"}}))
	if !strings.Contains(string(r.body), "lacks reader") {
		t.Errorf("escalation refusal does not name the role: %s", r.body)
	}
	ts.must(403, ts.do(adm, "POST", "/v1/tenants/a/keys", nil)) // the default roles include reader

	var roles []string
	for _, k := range ts.must(200, ts.do(adm, "GET", "/v1/tenants/a/keys", nil)).json(t)["keys"].([]any) {
		roles = append(roles, fmt.Sprint(k.(map[string]any)["roles"]))
	}
	want := []string{"[admin auditor]", "[auditor]", "[reader writer requests]", "[reader writer]"}
	slices.Sort(roles) // the test clock stands still: keys list by prefix
	if fmt.Sprint(roles) != fmt.Sprint(want) {
		t.Errorf("listed roles %v, want %v", roles, want)
	}
}
