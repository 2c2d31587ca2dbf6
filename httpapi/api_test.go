package httpapi_test

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/lethe-privacy/lethe/engine"
	"github.com/lethe-privacy/lethe/httpapi"
	"github.com/lethe-privacy/lethe/keyring"
	"github.com/lethe-privacy/lethe/sqlite"
)

// testServer is a real Lethe API on loopback over a real SQLite file.
type testServer struct {
	t     *testing.T
	url   string
	admin string
	dir   string
	store *sqlite.Store
	eng   *engine.Engine
	api   *httpapi.Server
	now   *time.Time
}

const (
	adminToken   = "test-admin-token-0123456789"
	metricsToken = "test-metrics-token-9876543210"
)

func newServer(t *testing.T) *testServer {
	t.Helper()
	return newServerWith(t, httpapi.Config{})
}

// newSuperuserServer is a server started with --admin-superuser: the
// admin token holds every role.
func newSuperuserServer(t *testing.T) *testServer {
	t.Helper()
	return newServerWith(t, httpapi.Config{AdminSuperuser: true})
}

// newServerWith is newServer with cfg's options (its engine is set here,
// and the metrics token and a 1 MiB body limit unless cfg names its own);
// the server's Close runs before the engine closes.
func newServerWith(t *testing.T, cfg httpapi.Config) *testServer {
	t.Helper()
	dir := t.TempDir()
	ctx := context.Background()
	kek, _, err := keyring.LoadOrCreateKeyFile(filepath.Join(dir, "master.key"))
	if err != nil {
		t.Fatal(err)
	}
	now := time.Date(2026, 11, 23, 12, 0, 0, 0, time.UTC)
	ts := &testServer{t: t, admin: adminToken, dir: dir, now: &now}
	clock := func() time.Time { return *ts.now }
	st, err := sqlite.Open(ctx, filepath.Join(dir, "lethe.db"), sqlite.Options{Now: clock})
	if err != nil {
		t.Fatal(err)
	}
	eng, err := engine.New(ctx, engine.Config{Store: st, KEK: kek, Now: clock})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := eng.EnsureAdminToken(ctx, adminToken); err != nil {
		t.Fatal(err)
	}
	if cfg.MetricsToken == "" {
		cfg.MetricsToken = metricsToken
	}
	if cfg.MaxBody == 0 {
		cfg.MaxBody = 1 << 20
	}
	cfg.Engine = eng
	api := httpapi.New(cfg)
	srv := httptest.NewServer(httpapi.CheckResponses(t, api))
	t.Cleanup(func() {
		srv.Close()
		api.Close()
		eng.Close()
		st.Close()
	})
	ts.url, ts.store, ts.eng, ts.api = srv.URL, st, eng, api
	return ts
}

type response struct {
	status int
	header http.Header
	body   []byte
}

func (r response) json(t *testing.T) map[string]any {
	t.Helper()
	var m map[string]any
	if err := json.Unmarshal(r.body, &m); err != nil {
		t.Fatalf("response %d is not a JSON object: %v\n%s", r.status, err, r.body)
	}
	return m
}

func (ts *testServer) do(token, method, path string, body any) response {
	ts.t.Helper()
	var rd io.Reader
	switch b := body.(type) {
	case nil:
	case string:
		rd = strings.NewReader(b)
	case []byte:
		rd = bytes.NewReader(b)
	default:
		buf, err := json.Marshal(b)
		if err != nil {
			ts.t.Fatal(err)
		}
		rd = bytes.NewReader(buf)
	}
	req, err := http.NewRequest(method, ts.url+path, rd)
	if err != nil {
		ts.t.Fatal(err)
	}
	if token != "" {
		req.Header.Set("Authorization", "Bearer "+token)
	}
	if rd != nil {
		req.Header.Set("Content-Type", "application/json")
	}
	res, err := http.DefaultClient.Do(req)
	if err != nil {
		ts.t.Fatal(err)
	}
	defer res.Body.Close()
	b, err := io.ReadAll(res.Body)
	if err != nil {
		ts.t.Fatal(err)
	}
	return response{status: res.StatusCode, header: res.Header, body: b}
}

func (ts *testServer) must(want int, r response) response {
	ts.t.Helper()
	if r.status != want {
		ts.t.Fatalf("status %d, want %d: %s", r.status, want, r.body)
	}
	return r
}

// allRoles are every role a key may hold.
var allRoles = []string{"admin", "reader", "writer", "requests", "auditor"}

// key makes an API key of the tenant with the roles named (none: the
// default roles) and returns it.
func (ts *testServer) key(tenant string, roles ...string) string {
	ts.t.Helper()
	var body any
	if len(roles) > 0 {
		body = map[string]any{"roles": roles}
	}
	r := ts.must(201, ts.do(ts.admin, "POST", "/v1/tenants/"+tenant+"/keys", body))
	key, _ := r.json(ts.t)["key"].(string)
	if key == "" {
		ts.t.Fatalf("no key in %s", r.body)
	}
	return key
}

// tenant creates a tenant with packs and returns an API key for it with
// the default roles (reader, writer, requests).
func (ts *testServer) tenant(id string, packs ...string) string {
	ts.t.Helper()
	ts.must(201, ts.do(ts.admin, "POST", "/v1/tenants", map[string]any{"id": id, "packs": packs}))
	r := ts.must(201, ts.do(ts.admin, "POST", "/v1/tenants/"+id+"/keys", nil))
	key, _ := r.json(ts.t)["key"].(string)
	if key == "" {
		ts.t.Fatalf("no key in %s", r.body)
	}
	return key
}

func TestAPI_RecordRoundTrip(t *testing.T) {
	ts := newServer(t)
	key := ts.tenant("shop", "erp-marketplace")
	order := map[string]any{
		"id": "A-1001", "origin": "amazon",
		"fields": map[string]any{
			"name": "Erika Mustermann", "strasse": "Hauptstr. 5", "plz": "10115", "ort": "Berlin",
			"email": "Erika@Example.com", "telefon": "+49 171 1234567",
		},
	}
	r := ts.must(201, ts.do(key, "POST", "/v1/tenants/shop/collections/orders/records", order))
	got := r.json(t)
	if got["id"] != "A-1001" || got["origin"] != "amazon" || got["state"] != "active" || got["collection"] != "orders" {
		t.Fatalf("created record: %s", r.body)
	}
	if loc := r.header.Get("Location"); loc != "/v1/tenants/shop/collections/orders/records/A-1001" {
		t.Errorf("Location %q", loc)
	}
	r = ts.must(200, ts.do(key, "GET", "/v1/tenants/shop/collections/orders/records/A-1001", nil))
	fields := r.json(t)["fields"].(map[string]any)
	if fields["name"] != "Erika Mustermann" || fields["plz"] != "10115" || fields["email"] != "Erika@Example.com" {
		t.Fatalf("read back: %s", r.body)
	}
	// PATCH shipped_at plans the Amazon rule: anonymize 30 days after shipment.
	r = ts.must(200, ts.do(key, "PATCH", "/v1/tenants/shop/collections/orders/records/A-1001",
		map[string]any{"fields": map[string]any{"shipped_at": "2026-11-20T10:00:00Z"}}))
	plan, _ := r.json(t)["plan"].(map[string]any)
	if plan["action"] != "anonymize" || plan["due_at"] != "2026-12-20T10:00:00Z" {
		t.Fatalf("plan after shipment: %s", r.body)
	}
	// The subject is found by any spelling of its e-mail or phone.
	for _, q := range []string{"email=%20erika@EXAMPLE.com", "phone=0171%201234567"} {
		r = ts.must(200, ts.do(key, "GET", "/v1/tenants/shop/subjects?"+q, nil))
		if n := r.json(t)["count"]; n != float64(1) {
			t.Errorf("subjects?%s: count %v: %s", q, n, r.body)
		}
	}
	// Batch create, all or nothing.
	batch := map[string]any{"records": []any{
		map[string]any{"id": "A-2", "fields": map[string]any{"name": "B"}},
		map[string]any{"id": "A-3", "fields": map[string]any{"name": "C"}},
	}}
	r = ts.must(201, ts.do(key, "POST", "/v1/tenants/shop/collections/orders/records", batch))
	if recs := r.json(t)["records"].([]any); len(recs) != 2 {
		t.Fatalf("batch: %s", r.body)
	}
	ts.must(204, ts.do(key, "DELETE", "/v1/tenants/shop/collections/orders/records/A-2", nil))
	ts.must(404, ts.do(key, "GET", "/v1/tenants/shop/collections/orders/records/A-2", nil))
	ts.must(404, ts.do(key, "DELETE", "/v1/tenants/shop/collections/orders/records/A-2", nil))
}

func TestAPI_Collections(t *testing.T) {
	ts := newServer(t)
	key := ts.tenant("bot", "chatbot", "conversations")
	r := ts.must(200, ts.do(key, "GET", "/v1/tenants/bot/collections", nil))
	var body struct {
		Collections []struct {
			Name   string `json:"name"`
			Fields []struct {
				Name    string `json:"name"`
				Type    string `json:"type"`
				PII     bool   `json:"pii"`
				Subject string `json:"subject"`
			} `json:"fields"`
			Rules []map[string]any `json:"rules"`
		} `json:"collections"`
	}
	if err := json.Unmarshal(r.body, &body); err != nil {
		t.Fatal(err)
	}
	names := map[string]bool{}
	for _, c := range body.Collections {
		names[c.Name] = true
		if len(c.Fields) == 0 || len(c.Rules) == 0 {
			t.Errorf("collection %s has %d fields and %d rules", c.Name, len(c.Fields), len(c.Rules))
		}
	}
	for _, want := range []string{"live_chat_messages", "web_notifications", "sessions", "messages", "contexts"} {
		if !names[want] {
			t.Errorf("collection %s missing", want)
		}
	}
	if len(body.Collections) != 19 {
		t.Errorf("%d collections, want 16 + 3", len(body.Collections))
	}
}

func TestAPI_Settings(t *testing.T) {
	ts := newServer(t)
	key := ts.tenant("bot", "chatbot")
	adm := ts.key("bot", "admin") // settings are the admin's
	path := "/v1/tenants/bot/settings/live_chat_messages"
	r := ts.must(200, ts.do(adm, "GET", path, nil))
	if p := r.json(t)["periods"].(map[string]any); p["delete"] != "7d" {
		t.Fatalf("default period: %s", r.body)
	}
	r = ts.must(422, ts.do(adm, "PUT", path, map[string]any{"periods": map[string]any{"delete": "45d"}}))
	if !strings.Contains(string(r.body), "30d") || r.header.Get("Content-Type") != "application/problem+json" {
		t.Fatalf("refusal should name the allowed options as problem+json: %s", r.body)
	}
	ts.must(422, ts.do(adm, "PUT", path, map[string]any{"periods": map[string]any{"delete": "7x"}}))
	ts.must(422, ts.do(adm, "PUT", path, map[string]any{"periods": map[string]any{"nope": "7d"}}))
	r = ts.must(200, ts.do(adm, "PUT", path, map[string]any{"periods": map[string]any{"delete": "30d"}}))
	if p := r.json(t)["periods"].(map[string]any); p["delete"] != "30d" {
		t.Fatalf("chosen period: %s", r.body)
	}
	// A required collection cannot be switched off; an optional one can,
	// and then refuses writes.
	ts.must(422, ts.do(adm, "PUT", "/v1/tenants/bot/settings/runtime_log", map[string]any{"enabled": false}))
	ts.must(200, ts.do(adm, "PUT", "/v1/tenants/bot/settings/marketing_consents", map[string]any{"enabled": false}))
	r = ts.must(409, ts.do(key, "POST", "/v1/tenants/bot/collections/marketing_consents/records",
		map[string]any{"fields": map[string]any{"email": "a@example.com"}}))
	if !strings.Contains(string(r.body), "switched") {
		t.Errorf("disabled collection answer: %s", r.body)
	}
}

func TestAPI_Auth(t *testing.T) {
	ts := newServer(t)
	key := ts.tenant("a", "chatbot")
	for _, tc := range []struct {
		name, token string
		want        int
	}{
		{"no token", "", 401},
		{"wrong admin token", "test-admin-token-012345678X", 401},
		{"unknown key", "lk_aaaaaaaaaaaa_bbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbb", 401},
		{"tampered key", key[:len(key)-1] + "x", 401},
		{"tenant key on admin route", key, 403},
	} {
		t.Run(tc.name, func(t *testing.T) {
			r := ts.do(tc.token, "POST", "/v1/tenants", map[string]any{"id": "x", "packs": []string{"chatbot"}})
			if r.status != tc.want || r.header.Get("Content-Type") != "application/problem+json" {
				t.Fatalf("status %d (%s), want %d problem+json", r.status, r.body, tc.want)
			}
		})
	}
	ts.must(404, ts.do(adminToken, "GET", "/v1/tenants/x", nil))
}

func TestAPI_HealthAndMetrics(t *testing.T) {
	ts := newServer(t)
	ts.must(200, ts.do("", "GET", "/healthz", nil))
	ts.must(200, ts.do("", "GET", "/readyz", nil))
	key := ts.tenant("bot", "chatbot")
	ts.must(201, ts.do(key, "POST", "/v1/tenants/bot/collections/nlu_messages/records", map[string]any{
		"created_at": "2026-10-01T00:00:00Z", "fields": map[string]any{"message": "hi"}}))
	r := ts.must(200, ts.do(metricsToken, "GET", "/metrics", nil))
	for _, want := range []string{"lethe_http_requests_total", "lethe_sweep_lag_seconds", "lethe_overdue_records 1"} {
		if !strings.Contains(string(r.body), want) {
			t.Errorf("metrics lack %q", want)
		}
	}
	// The key's creation went through the durable appender, the
	// authentication passes through the lazy one. Those are submitted
	// without waiting and commit within the lazy batcher's SubmitDelay,
	// so the lazy counters may lag a scrape by that much.
	counted := func(body []byte) []string {
		var missing []string
		for _, mode := range []string{"durable", "lazy"} {
			for _, name := range []string{"lethe_audit_commits_total", "lethe_audit_entries_total"} {
				m := regexp.MustCompile(name + `\{mode="` + mode + `"\} (\d+)`).FindSubmatch(body)
				if m == nil || string(m[1]) == "0" {
					missing = append(missing, fmt.Sprintf("%s{mode=%q} missing or zero: %q", name, mode, m))
				}
			}
		}
		return missing
	}
	for deadline := time.Now().Add(5 * time.Second); len(counted(r.body)) > 0 && time.Now().Before(deadline); {
		time.Sleep(10 * time.Millisecond)
		r = ts.must(200, ts.do(metricsToken, "GET", "/metrics", nil))
	}
	for _, m := range counted(r.body) {
		t.Errorf("metrics: %s", m)
	}
	r = ts.must(200, ts.do(adminToken, "POST", "/v1/sweeps", nil))
	if d := r.json(t)["deleted"]; d != float64(1) {
		t.Errorf("sweep deleted %v: %s", d, r.body)
	}
	r = ts.must(200, ts.do(metricsToken, "GET", "/metrics", nil))
	if !strings.Contains(string(r.body), "lethe_overdue_records 0") {
		t.Errorf("after the sweep nothing should be overdue")
	}
	ts.must(404, ts.do("", "GET", "/nope", nil))
}

func TestOpenAPI_MatchesRoutes(t *testing.T) {
	ts := newServer(t)
	r := ts.must(200, ts.do("", "GET", "/v1/openapi.json", nil))
	var doc struct {
		OpenAPI string                               `json:"openapi"`
		Paths   map[string]map[string]map[string]any `json:"paths"`
	}
	if err := json.Unmarshal(r.body, &doc); err != nil {
		t.Fatal(err)
	}
	if !strings.HasPrefix(doc.OpenAPI, "3.") {
		t.Fatalf("openapi version %q", doc.OpenAPI)
	}
	documented := map[string]bool{}
	for path, ops := range doc.Paths {
		for method, op := range ops {
			documented[strings.ToUpper(method)+" "+path] = true
			if op["operationId"] == nil || op["responses"] == nil {
				t.Errorf("%s %s lacks operationId or responses", method, path)
			}
		}
	}
	served := map[string]bool{}
	for _, rt := range httpapi.Routes() {
		served[rt] = true
		if !documented[rt] {
			t.Errorf("route %s is served but not documented", rt)
		}
	}
	for d := range documented {
		if !served[d] {
			t.Errorf("%s is documented but not served", d)
		}
	}
	// Every documented path answers something other than the catch-all.
	for d := range documented {
		method, path, _ := strings.Cut(d, " ")
		path = strings.NewReplacer("{tenant}", "t", "{collection}", "c", "{id}", "i").Replace(path)
		res := ts.do("", method, path, nil)
		if res.status == 404 && strings.Contains(string(res.body), "no route") {
			t.Errorf("%s: not routed", d)
		}
	}
	_ = fmt.Sprint()
}
