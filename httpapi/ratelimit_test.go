package httpapi_test

import (
	"context"
	"net/http"
	"net/http/httptest"
	"regexp"
	"strconv"
	"testing"
	"time"

	"github.com/lethe-privacy/lethe"
	"github.com/lethe-privacy/lethe/httpapi"
)

// metric reads one sample of the server's metrics ("name{labels}") from
// its own metrics handler, as the separate listener serves them: the
// test's address may itself be refused by the limits under test.
func (ts *testServer) metric(sample string) float64 {
	ts.t.Helper()
	rec := httptest.NewRecorder()
	ts.api.MetricsHandler().ServeHTTP(rec, httptest.NewRequest("GET", "/metrics", nil))
	b := rec.Body.Bytes()
	m := regexp.MustCompile(`(?m)^` + regexp.QuoteMeta(sample) + ` (\S+)$`).FindSubmatch(b)
	if m == nil {
		ts.t.Fatalf("no sample %s in /metrics", sample)
	}
	v, err := strconv.ParseFloat(string(m[1]), 64)
	if err != nil {
		ts.t.Fatal(err)
	}
	return v
}

// mustLimited checks a refusal: 429, a problem, and Retry-After of want
// seconds.
func mustLimited(t *testing.T, r response, want string) {
	t.Helper()
	if r.status != http.StatusTooManyRequests {
		t.Fatalf("status %d, want 429: %s", r.status, r.body)
	}
	if ct := r.header.Get("Content-Type"); ct != "application/problem+json" {
		t.Fatalf("Content-Type %q", ct)
	}
	if got := r.header.Get("Retry-After"); got != want {
		t.Fatalf("Retry-After %q, want %q", got, want)
	}
	if typ := r.json(t)["type"]; typ != "urn:lethe:problem:rate-limited" {
		t.Fatalf("problem type %v", typ)
	}
}

func TestRateLimit_KeyOverItsBurstIsRefusedAndOtherKeysAreNot(t *testing.T) {
	// One request every 2 s, 5 at once: the sixth waits about 2 s, which
	// Retry-After rounds up to 2. (The admin token, a credential too,
	// spends 4 of its own on the set-up.)
	ts := newServerWith(t, httpapi.Config{Limits: httpapi.Limits{KeyRate: 0.5, KeyBurst: 5}})
	a := ts.tenant("a", "chatbot")
	b := ts.tenant("b", "chatbot")
	for i := range 5 {
		if r := ts.do(a, "GET", "/v1/tenants/a", nil); r.status != 200 {
			t.Fatalf("call %d of the burst: %d %s", i+1, r.status, r.body)
		}
	}
	mustLimited(t, ts.do(a, "GET", "/v1/tenants/a", nil), "2")
	ts.must(200, ts.do(b, "GET", "/v1/tenants/b", nil)) // b has a bucket of its own
	if n := ts.metric(`lethe_http_rate_limited_total{limit="key"}`); n != 1 {
		t.Fatalf("key refusals %v, want 1", n)
	}
	// A refused call is not an authenticated pass of the security log:
	// a flood of one key does not flood the log.
	passes, _, err := ts.eng.AuditLog(context.Background(), lethe.AuditQuery{Tenant: "a", Log: lethe.LogSecurity, Event: "auth.success", Limit: 100})
	if err != nil {
		t.Fatal(err)
	}
	if len(passes) != 5 {
		t.Fatalf("%d auth.success entries for a, want the 5 served calls", len(passes))
	}
}

func TestRateLimit_AddressLimitCoversUnauthenticatedRoutes(t *testing.T) {
	ts := newServerWith(t, httpapi.Config{Limits: httpapi.Limits{IPRate: 0.1, IPBurst: 2}})
	ts.must(200, ts.do("", "GET", "/healthz", nil))
	ts.must(401, ts.do("wrong-token-0123456789", "GET", "/v1/tenants/x", nil))
	mustLimited(t, ts.do("", "GET", "/healthz", nil), "10")
	mustLimited(t, ts.do(ts.admin, "GET", "/v1/tenants/x", nil), "10")
	if n := ts.metric(`lethe_http_rate_limited_total{limit="ip"}`); n != 2 {
		t.Fatalf("address refusals %v, want 2", n)
	}
}

func TestRateLimit_NoLimitsByDefault(t *testing.T) {
	ts := newServer(t)
	key := ts.tenant("a", "chatbot")
	for i := range 300 {
		if r := ts.do(key, "GET", "/v1/tenants/a", nil); r.status != 200 {
			t.Fatalf("call %d: %d %s", i+1, r.status, r.body)
		}
	}
}

// securityLog reads the system security log's entries of one event.
func (ts *testServer) securityLog(event string) []map[string]any {
	ts.t.Helper()
	es, _, err := ts.eng.AuditLog(context.Background(), lethe.AuditQuery{Tenant: lethe.SystemTenant, Log: lethe.LogSecurity, Event: event, Limit: 1000})
	if err != nil {
		ts.t.Fatal(err)
	}
	out := make([]map[string]any, len(es))
	for i, e := range es {
		out[i] = e.Data
	}
	return out
}

func TestAuthFailures_SlowDownBeforeTheTokenIsCheckedAndAreSummarized(t *testing.T) {
	const window = 800 * time.Millisecond
	ts := newServerWith(t, httpapi.Config{Limits: httpapi.Limits{AuthFailures: 3, AuthWindow: window}})
	start := time.Now()
	for range 3 {
		ts.must(401, ts.do("wrong-token-0123456789", "GET", "/v1/tenants/x", nil))
	}
	// Past the limit the token is not even looked at: a valid one is
	// refused as well, until the window ends.
	mustLimited(t, ts.do("wrong-token-0123456789", "GET", "/v1/tenants/x", nil), "1")
	mustLimited(t, ts.do(ts.admin, "GET", "/v1/tenants", nil), "1")
	if time.Since(start) > window/2 {
		t.Skipf("the machine is too slow for a %s window", window)
	}
	if n := ts.metric(`lethe_http_rate_limited_total{limit="auth"}`); n != 2 {
		t.Fatalf("auth refusals %v, want 2", n)
	}
	if got := ts.securityLog("auth.failure"); len(got) != 1 {
		t.Fatalf("%d auth.failure entries, want the first of the window alone: %v", len(got), got)
	}

	// The window ends: the admin is served again, and the summary is in
	// the security log within a sweep (a quarter window).
	deadline := time.Now().Add(5 * time.Second)
	var sums []map[string]any
	for time.Now().Before(deadline) {
		if sums = ts.securityLog("auth.failure.summary"); len(sums) > 0 {
			break
		}
		time.Sleep(50 * time.Millisecond)
	}
	if len(sums) != 1 {
		t.Fatalf("auth.failure.summary entries: %v, want 1", sums)
	}
	s := sums[0]
	if s["ip"] != "127.0.0.1" || s["failures"] != float64(3) || s["refused"] != float64(2) || s["window_seconds"] != window.Seconds() {
		t.Fatalf("summary %v, want 3 failures and 2 refused from 127.0.0.1 in %s", s, window)
	}
	if since := time.Since(start); since < window {
		t.Fatalf("summary written %s after the first failure, before its %s window ended", since, window)
	}
	ts.must(200, ts.do(ts.admin, "GET", "/v1/tenants", nil))
	// A new window: its first failure is logged on its own again.
	ts.must(401, ts.do("wrong-token-0123456789", "GET", "/v1/tenants/x", nil))
	if got := ts.securityLog("auth.failure"); len(got) != 2 {
		t.Fatalf("%d auth.failure entries, want 2 (one per window)", len(got))
	}
}

func TestAuthFailures_CloseWritesTheRunningWindowsSummary(t *testing.T) {
	ts := newServerWith(t, httpapi.Config{Limits: httpapi.Limits{AuthWindow: time.Hour}})
	api := httpapi.New(httpapi.Config{Engine: ts.eng, Limits: httpapi.Limits{AuthWindow: time.Hour}})
	for range 5 {
		req, _ := http.NewRequest("GET", "/v1/tenants/x", nil)
		req.RemoteAddr = "192.0.2.7:4711"
		req.Header.Set("Authorization", "Bearer wrong-token-0123456789")
		rec := httptest.NewRecorder()
		api.ServeHTTP(rec, req)
		if rec.Code != 401 {
			t.Fatalf("status %d, want 401 (no slowdown configured)", rec.Code)
		}
	}
	if got := ts.securityLog("auth.failure.summary"); len(got) != 0 {
		t.Fatalf("a summary before the window ended: %v", got)
	}
	api.Close()
	sums := ts.securityLog("auth.failure.summary")
	if len(sums) != 1 || sums[0]["ip"] != "192.0.2.7" || sums[0]["failures"] != float64(5) || sums[0]["refused"] != float64(0) {
		t.Fatalf("summaries after Close: %v, want one of 5 failures from 192.0.2.7", sums)
	}
	if got := ts.securityLog("auth.failure"); len(got) != 1 {
		t.Fatalf("%d auth.failure entries, want 1", len(got))
	}
}

// The metrics token is guarded like every credential: after the failures
// of a window the address is refused before the token is compared, even
// the right one.
func TestAuthFailures_CoverTheMetricsToken(t *testing.T) {
	ts := newServerWith(t, httpapi.Config{Limits: httpapi.Limits{AuthFailures: 3, AuthWindow: time.Minute}})
	for range 3 {
		ts.must(401, ts.do("wrong-metrics-token-0000", "GET", "/metrics", nil))
	}
	if r := ts.do(metricsToken, "GET", "/metrics", nil); r.status != 429 {
		t.Fatalf("the right token after 3 failures: %d, want 429", r.status)
	}
}
