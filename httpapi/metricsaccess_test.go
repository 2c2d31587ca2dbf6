package httpapi_test

import (
	"net/http/httptest"
	"strings"
	"testing"

	"github.com/lethe-privacy/lethe/httpapi"
)

// TestMetrics_APIServesThemOnlyToTheTokenBearer walks who may read
// /metrics on the API listener, with and without a metrics token, and
// checks that health and the OpenAPI document stay public either way.
func TestMetrics_APIServesThemOnlyToTheTokenBearer(t *testing.T) {
	// Configured with metricsToken; the superuser admin token reads the
	// system security log below.
	withToken := newServerWith(t, httpapi.Config{AdminSuperuser: true})
	key := withToken.tenant("bot", "chatbot")
	srv := httptest.NewServer(httpapi.CheckResponses(t, httpapi.New(httpapi.Config{Engine: withToken.eng})))
	t.Cleanup(srv.Close)
	without := *withToken
	without.url = srv.URL

	for _, tc := range []struct {
		name  string
		ts    *testServer
		token string
		want  int
	}{
		{"no metrics token configured, anonymous", &without, "", 404},
		{"no metrics token configured, admin token", &without, adminToken, 404},
		{"no metrics token configured, the would-be token", &without, metricsToken, 404},
		{"token configured, anonymous", withToken, "", 401},
		{"token configured, admin token", withToken, adminToken, 401},
		{"token configured, tenant key", withToken, key, 401},
		{"token configured, token with a byte more", withToken, metricsToken + "0", 401},
		{"token configured, token's prefix", withToken, metricsToken[:len(metricsToken)-1], 401},
		{"token configured, the token", withToken, metricsToken, 200},
	} {
		t.Run(tc.name, func(t *testing.T) {
			r := tc.ts.do(tc.token, "GET", "/metrics", nil)
			if r.status != tc.want {
				t.Fatalf("GET /metrics: status %d, want %d: %.200s", r.status, tc.want, r.body)
			}
			if tc.want != 200 {
				if ct := r.header.Get("Content-Type"); ct != "application/problem+json" {
					t.Errorf("Content-Type %q, want problem+json", ct)
				}
				if strings.Contains(string(r.body), "lethe_") {
					t.Errorf("a refused answer shows metrics: %.200s", r.body)
				}
			} else if !strings.Contains(string(r.body), "lethe_http_requests_total") {
				t.Errorf("no metrics in the answer: %.200s", r.body)
			}
			for _, path := range []string{"/healthz", "/readyz", "/v1/openapi.json"} {
				tc.ts.must(200, tc.ts.do("", "GET", path, nil))
			}
		})
	}
	// A refused token is an authentication failure like any other.
	fail := withToken.logPage(adminToken, "/v1/tenants/_system/logs/security?event=auth.failure")
	n := 0
	for _, e := range fail.Entries {
		if e.Data["route"] == "GET /metrics" {
			n++
		}
	}
	if n != 5 {
		t.Errorf("security log has %d failures on GET /metrics, want 5: %+v", n, fail.Entries)
	}
	// Without a token the API has no /metrics at all: no 405 either.
	without.must(404, without.do("", "POST", "/metrics", nil))
}

// TestMetrics_HandlerOfItsOwnServesOnlyMetrics checks the handler the
// metrics listener serves: /metrics without a token, problems elsewhere,
// and none of the API.
func TestMetrics_HandlerOfItsOwnServesOnlyMetrics(t *testing.T) {
	ts := newServer(t)
	srv := httptest.NewServer(httpapi.New(httpapi.Config{Engine: ts.eng}).MetricsHandler())
	t.Cleanup(srv.Close)
	m := *ts
	m.url = srv.URL
	r := m.must(200, m.do("", "GET", "/metrics", nil))
	if !strings.Contains(string(r.body), "lethe_sweep_lag_seconds") {
		t.Errorf("no metrics in the answer: %.200s", r.body)
	}
	r = m.must(405, m.do("", "POST", "/metrics", nil))
	if got := r.header.Get("Allow"); got != "GET, HEAD" {
		t.Errorf("Allow %q, want GET, HEAD", got)
	}
	for _, path := range []string{"/healthz", "/v1/openapi.json", "/v1/tenants/x"} {
		r := m.must(404, m.do(adminToken, "GET", path, nil))
		if ct := r.header.Get("Content-Type"); ct != "application/problem+json" {
			t.Errorf("%s: Content-Type %q, want problem+json", path, ct)
		}
	}
}
