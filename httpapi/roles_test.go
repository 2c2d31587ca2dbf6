package httpapi_test

import (
	"encoding/json"
	"fmt"
	"slices"
	"strings"
	"testing"

	"github.com/lethe-privacy/lethe"
	"github.com/lethe-privacy/lethe/httpapi"
)

// routeRoles is what each route needs, written here a second time on
// purpose: the test holds the server's table to this one, so that a role
// changed in one place only, or a new route without a decision, fails.
// nil: public; "admin*": the admin role outside any tenant (the admin
// token alone reaches it).
var routeRoles = map[string][]string{
	"GET /healthz":                                                      nil,
	"GET /readyz":                                                       nil,
	"GET /v1/openapi.json":                                              nil,
	"GET /v1/receipt-keys":                                              nil,
	"POST /v1/tenants":                                                  {"admin*"},
	"GET /v1/tenants":                                                   {"admin*"},
	"POST /v1/sweeps":                                                   {"admin*"},
	"GET /v1/master-key":                                                {"admin*"},
	"GET /v1/tenants/{tenant}/data-keys":                                {"admin"},
	"POST /v1/tenants/{tenant}/data-keys/rotate":                        {"admin"},
	"GET /v1/tenants/{tenant}":                                          {"admin", "reader", "writer", "requests"},
	"GET /v1/tenants/{tenant}/collections":                              {"admin", "reader", "writer", "requests"},
	"PATCH /v1/tenants/{tenant}":                                        {"admin"},
	"POST /v1/tenants/{tenant}/keys":                                    {"admin"},
	"GET /v1/tenants/{tenant}/keys":                                     {"admin"},
	"DELETE /v1/tenants/{tenant}/keys/{prefix}":                         {"admin"},
	"GET /v1/tenants/{tenant}/settings/{collection}":                    {"admin"},
	"PUT /v1/tenants/{tenant}/settings/{collection}":                    {"admin"},
	"PATCH /v1/tenants/{tenant}/settings/{collection}":                  {"admin"},
	"POST /v1/tenants/{tenant}/collections/{collection}/records":        {"writer"},
	"PATCH /v1/tenants/{tenant}/collections/{collection}/records/{id}":  {"writer"},
	"DELETE /v1/tenants/{tenant}/collections/{collection}/records/{id}": {"writer"},
	"GET /v1/tenants/{tenant}/collections/{collection}/records/{id}":    {"reader"},
	"GET /v1/tenants/{tenant}/collections/{collection}/records":         {"reader"},
	"POST /v1/tenants/{tenant}/collections/{collection}/search":         {"reader"},
	"GET /v1/tenants/{tenant}/subjects":                                 {"reader"},
	"POST /v1/tenants/{tenant}/subjects/search":                         {"reader"},
	"GET /v1/tenants/{tenant}/plan":                                     {"reader"},
	"GET /v1/tenants/{tenant}/stats/{collection}":                       {"reader"},
	"POST /v1/tenants/{tenant}/requests":                                {"requests"},
	"GET /v1/tenants/{tenant}/requests":                                 {"requests"},
	"GET /v1/tenants/{tenant}/requests/{id}":                            {"requests"},
	"GET /v1/tenants/{tenant}/requests/{id}/items":                      {"requests"},
	"GET /v1/tenants/{tenant}/requests/{id}/receipt":                    {"requests"},
	"GET /v1/tenants/{tenant}/requests/{id}/export":                     {"requests"},
	"GET /v1/tenants/{tenant}/origins":                                  {"requests"},
	"GET /v1/tenants/{tenant}/logs/{log}":                               {"auditor"},
	"POST /v1/tenants/{tenant}/sessions":                                {"writer"},
	"POST /v1/tenants/{tenant}/sessions/verify":                         {"writer"},
	"POST /v1/tenants/{tenant}/sessions/open":                           nil,
	"POST /v1/tenants/{tenant}/sessions/variables":                      nil,
	"OPTIONS /v1/tenants/{tenant}/sessions/open":                        nil,
	"OPTIONS /v1/tenants/{tenant}/sessions/variables":                   nil,
	"POST /v1/tenants/{tenant}/session-keys":                            {"admin"},
	"GET /demo/chat":                                                    nil,
	"GET /demo/chat/lethe-chat.js":                                      nil,
	"GET /demo/chat/demo.js":                                            nil,
	"POST /v1/tenants/{tenant}/redact":                                  {"reader", "writer"},
}

// caller is one kind of principal the walk tries on every route.
type caller struct {
	name    string
	token   string
	tenant  string   // the tenant whose key it is; "" for the admin token
	roles   []string // what it holds
	allowed func(route string, need []string) bool
}

// TestRoles_EveryRouteWithEveryRole walks every route of the table with
// every role alone, the admin token (admin only), another tenant's key
// holding every role, and no token: allowed calls are not refused
// (neither 401 nor 403), refused ones answer 403 problem+json and leave an
// auth.forbidden entry in the caller's own security log, and no token is
// 401. The same walk on a server started as superuser allows the admin
// token everywhere.
func TestRoles_EveryRouteWithEveryRole(t *testing.T) {
	ts := newServer(t)
	ts.tenant("a", "erp-marketplace")
	ts.tenant("b", "erp-marketplace")
	holds := func(roles []string) func(string, []string) bool {
		return func(_ string, need []string) bool {
			for _, n := range need {
				if slices.Contains(roles, n) {
					return true
				}
			}
			return false
		}
	}
	callers := []caller{
		{name: "admin token", token: ts.admin, roles: []string{"admin"}, allowed: func(_ string, need []string) bool {
			return slices.Contains(need, "admin") || slices.Contains(need, "admin*")
		}},
		{name: "no token", allowed: func(string, []string) bool { return false }},
		{name: "tenant b's key with every role", token: ts.key("b", allRoles...), tenant: "b", roles: allRoles,
			allowed: func(string, []string) bool { return false }},
	}
	for _, role := range allRoles {
		callers = append(callers, caller{name: role + " key", token: ts.key("a", role), tenant: "a", roles: []string{role}, allowed: holds([]string{role})})
	}
	checked, refused := walkRoutes(t, ts, callers)

	// Every refusal is in the security log of the caller's own tenant (the
	// system log for the admin token), naming the route; none lands in a
	// log of a tenant the caller does not reach.
	for _, logTenant := range []string{lethe.SystemTenant, "a", "b"} {
		got := forbiddenEntries(t, ts, logTenant)
		want := refused[logTenant]
		slices.Sort(got)
		slices.Sort(want)
		if !slices.Equal(got, want) {
			t.Errorf("auth.forbidden entries in %s's security log:\n got %d %v\nwant %d %v", logTenant, len(got), got, len(want), want)
		}
	}

	// Started as superuser, the admin token holds every role everywhere.
	su := newSuperuserServer(t)
	su.tenant("a", "erp-marketplace")
	n, _ := walkRoutes(t, su, []caller{{name: "superuser admin token", token: su.admin, roles: allRoles,
		allowed: func(route string, need []string) bool { return need != nil }}})
	t.Logf("roles: %d routes x %d callers = %d calls checked", len(routeRoles), len(callers)+1, checked+n)
}

// walkRoutes calls every route of the server's table as each caller, on
// tenant a, and checks the answer against routeRoles. It returns how many
// calls it checked and, per security log, the "actor route" of each
// refusal it expects there.
func walkRoutes(t *testing.T, ts *testServer, callers []caller) (int, map[string][]string) {
	t.Helper()
	if got, want := len(httpapi.Routes()), len(routeRoles); got != want {
		t.Errorf("the server has %d routes, the roles table %d: decide the role of each new route here", got, want)
	}
	refused := map[string][]string{}
	checked := 0
	for _, rt := range httpapi.Routes() {
		need, known := routeRoles[rt]
		if !known {
			t.Errorf("%s: no role decided in routeRoles", rt)
			continue
		}
		method, pattern, _ := strings.Cut(rt, " ")
		path := strings.NewReplacer("{tenant}", "a", "{collection}", "orders", "{id}", "x", "{prefix}", "nosuchprefix", "{log}", "security").Replace(pattern)
		var body any
		switch method {
		case "POST", "PUT", "PATCH":
			body = "{}"
		}
		if rt == "POST /v1/tenants/{tenant}/keys" {
			body = `{"roles": ["admin"]}` // what a tenant admin key may grant
		}
		for _, c := range callers {
			r := ts.do(c.token, method, path, body)
			checked++
			switch {
			case need == nil:
				if r.status == 401 || r.status == 403 {
					t.Errorf("%s as %s: public route refused with %d", rt, c.name, r.status)
				}
			case c.token == "":
				if r.status != 401 {
					t.Errorf("%s with no token: status %d, want 401", rt, r.status)
				}
			case c.allowed(rt, need):
				if r.status == 401 || r.status == 403 {
					t.Errorf("%s as %s: refused with %d, want allowed: %s", rt, c.name, r.status, r.body)
				}
			default:
				if r.status != 403 || r.header.Get("Content-Type") != "application/problem+json" {
					t.Errorf("%s as %s: status %d %q, want 403 problem+json: %s", rt, c.name, r.status, r.header.Get("Content-Type"), r.body)
					continue
				}
				var p struct {
					Status int    `json:"status"`
					Detail string `json:"detail"`
				}
				if err := json.Unmarshal(r.body, &p); err != nil || p.Status != 403 || p.Detail == "" {
					t.Errorf("%s as %s: problem %s does not say why", rt, c.name, r.body)
				}
				logTenant := c.tenant
				if logTenant == "" {
					logTenant = lethe.SystemTenant
				}
				refused[logTenant] = append(refused[logTenant], actorOf(c.token)+" "+rt)
			}
		}
	}
	return checked, refused
}

// actorOf is the audit actor of a token: "key:<prefix>" or "admin".
func actorOf(token string) string {
	if rest, ok := strings.CutPrefix(token, "lk_"); ok {
		prefix, _, _ := strings.Cut(rest, "_")
		return "key:" + prefix
	}
	return "admin"
}

// forbiddenEntries lists the "actor route" of each auth.forbidden entry
// in a tenant's security log.
func forbiddenEntries(t *testing.T, ts *testServer, tenant string) []string {
	t.Helper()
	entries, err := ts.store.AuditEntries(t.Context(), lethe.AuditQuery{Tenant: tenant, Log: lethe.LogSecurity, Event: "auth.forbidden", Limit: 10000})
	if err != nil {
		t.Fatal(err)
	}
	var out []string
	for _, e := range entries {
		if e.Event != "auth.forbidden" {
			continue
		}
		var d struct {
			Route, Reason string
		}
		if err := json.Unmarshal(e.Data, &d); err != nil {
			t.Fatalf("entry %d: %v", e.Seq, err)
		}
		if d.Reason == "" {
			t.Errorf("auth.forbidden entry %d gives no reason", e.Seq)
		}
		out = append(out, fmt.Sprintf("%s %s", e.Actor, d.Route))
	}
	return out
}
