package httpapi_test

import (
	"net/http"
	"strings"
	"testing"
	"time"
)

// sessionTenant makes a chatbot tenant with the webchat pack and session
// tokens on for lifetime, and returns its writer key.
func sessionTenant(ts *testServer, id, lifetime string) string {
	ts.t.Helper()
	key := ts.tenant(id, "chatbot", "webchat")
	admin := ts.key(id, "admin")
	r := ts.must(200, ts.do(admin, "PATCH", "/v1/tenants/"+id, map[string]any{"session_lifetime": lifetime}))
	if got := r.json(ts.t)["session_lifetime"]; got != lifetime {
		ts.t.Fatalf("session_lifetime %v, want %s", got, lifetime)
	}
	return key
}

func TestSessions_LifetimeIsValidatedAndZeroRefusesMinting(t *testing.T) {
	ts := newServer(t)
	key := ts.tenant("bot", "chatbot", "webchat")
	admin := ts.key("bot", "admin")
	if got := ts.must(200, ts.do(admin, "GET", "/v1/tenants/bot", nil)).json(t)["session_lifetime"]; got != "0" {
		t.Fatalf("a new tenant's session_lifetime is %v, want 0 (off)", got)
	}
	for _, bad := range []string{"29m", "15d", "1y", "soon"} {
		r := ts.must(422, ts.do(admin, "PATCH", "/v1/tenants/bot", map[string]any{"session_lifetime": bad}))
		if !strings.Contains(string(r.body), "session_lifetime") {
			t.Errorf("%s: problem does not name the field: %s", bad, r.body)
		}
	}
	r := ts.must(409, ts.do(key, "POST", "/v1/tenants/bot/sessions", map[string]any{"variables": map[string]any{"a": 1}}))
	if !strings.Contains(r.json(t)["detail"].(string), "session_lifetime") {
		t.Errorf("refusal does not say how to switch tokens on: %s", r.body)
	}
	// A writer key cannot change the setting.
	ts.must(403, ts.do(key, "PATCH", "/v1/tenants/bot", map[string]any{"session_lifetime": "1h"}))
}

func TestSessions_MintVerifyAndRefusals(t *testing.T) {
	ts := newServer(t)
	key := sessionTenant(ts, "bot", "2h")
	otherKey := sessionTenant(ts, "other", "2h")
	body := map[string]any{"variables": map[string]any{"email": "ida.canary@example.org"}, "public": map[string]any{"lang": "de"}}
	m := ts.must(201, ts.do(key, "POST", "/v1/tenants/bot/sessions", body)).json(t)
	tok := m["token"].(string)
	if strings.Contains(tok, "ida.canary") {
		t.Fatal("token shows the sealed variable")
	}
	if exp, _ := time.Parse(time.RFC3339, m["expires_at"].(string)); !exp.Equal(ts.now.Add(2 * time.Hour)) {
		t.Errorf("expires_at %v, want now + 2h", m["expires_at"])
	}
	v := ts.must(200, ts.do(key, "POST", "/v1/tenants/bot/sessions/verify", map[string]any{"token": tok})).json(t)
	if v["variables"].(map[string]any)["email"] != "ida.canary@example.org" || v["public"].(map[string]any)["lang"] != "de" || v["session_id"] != m["session_id"] {
		t.Fatalf("verify answered %v", v)
	}
	other := ts.must(201, ts.do(otherKey, "POST", "/v1/tenants/other/sessions", body)).json(t)["token"].(string)
	tampered := tok[:len(tok)-3] + flip(tok[len(tok)-3:])
	for name, bad := range map[string]string{"tampered": tampered, "other tenant's": other, "garbage": "x.y.z"} {
		r := ts.must(401, ts.do(key, "POST", "/v1/tenants/bot/sessions/verify", map[string]any{"token": bad}))
		if strings.Contains(string(r.body), "ida.canary") {
			t.Errorf("%s: refusal shows a variable", name)
		}
		ts.must(401, ts.do("", "POST", "/v1/tenants/bot/sessions/open", map[string]any{"token": bad}))
	}
	// Another tenant's key cannot verify this tenant's tokens.
	ts.must(403, ts.do(otherKey, "POST", "/v1/tenants/bot/sessions/verify", map[string]any{"token": tok}))
	*ts.now = ts.now.Add(2*time.Hour + time.Second)
	r := ts.must(401, ts.do(key, "POST", "/v1/tenants/bot/sessions/verify", map[string]any{"token": tok}))
	if !strings.Contains(string(r.body), "expired") {
		t.Errorf("expired token: %s", r.body)
	}
}

func flip(s string) string {
	b := []byte(s)
	if b[0] == 'A' {
		b[0] = 'B'
	} else {
		b[0] = 'A'
	}
	return string(b)
}

// Opening the chat is public (the token is the credential), stores the
// address once with a 30-day plan, and answers no address.
func TestSessions_OpenStoresTheAddressFor30Days(t *testing.T) {
	ts := newServer(t)
	key := sessionTenant(ts, "bot", "1h")
	tok := ts.must(201, ts.do(key, "POST", "/v1/tenants/bot/sessions", map[string]any{})).json(t)["token"].(string)
	found := ts.must(200, ts.do(key, "GET", "/v1/tenants/bot/subjects?ip_address=127.0.0.1", nil))
	if strings.Contains(string(found.body), "chat_openings") {
		t.Fatalf("an address is stored before the chat was opened: %s", found.body)
	}
	r := ts.must(200, ts.do("", "POST", "/v1/tenants/bot/sessions/open", map[string]any{"token": tok}))
	if strings.Contains(string(r.body), "127.0.0.1") {
		t.Errorf("the public answer shows the address: %s", r.body)
	}
	due, _ := time.Parse(time.RFC3339, r.json(t)["delete_at"].(string))
	if want := ts.now.Add(30 * 24 * time.Hour); !due.Equal(want) {
		t.Errorf("delete_at %v, want %v", due, want)
	}
	found = ts.must(200, ts.do(key, "GET", "/v1/tenants/bot/subjects?ip_address=127.0.0.1", nil))
	if !strings.Contains(string(found.body), "chat_openings") || !strings.Contains(string(found.body), "127.0.0.1") {
		t.Fatalf("the address is not found after opening: %s", found.body)
	}
	ts.must(200, ts.do("", "POST", "/v1/tenants/bot/sessions/open", map[string]any{"token": tok}))
	if n := strings.Count(string(ts.must(200, ts.do(key, "GET", "/v1/tenants/bot/subjects?ip_address=127.0.0.1", nil)).body), `"chat_openings"`); n != 1 {
		t.Errorf("%d openings after opening twice, want 1", n)
	}
	ts.must(422, ts.do("", "POST", "/v1/tenants/bot/sessions/open", map[string]any{}))
}

// C5: the export gets the token's variables.
func TestSessions_VariablesForExportComeFromTheToken(t *testing.T) {
	ts := newServer(t)
	key := sessionTenant(ts, "bot", "1h")
	tok := ts.must(201, ts.do(key, "POST", "/v1/tenants/bot/sessions", map[string]any{"variables": map[string]any{"email": "uma.canary@example.org", "plan": "gold"}})).json(t)["token"].(string)
	r := ts.must(200, ts.do("", "POST", "/v1/tenants/bot/sessions/variables", map[string]any{"token": tok}))
	if strings.Contains(string(r.body), "gold") {
		t.Errorf("public answer shows a variable: %s", r.body)
	}
	found := ts.must(200, ts.do(key, "GET", "/v1/tenants/bot/subjects?email=uma.canary@example.org", nil))
	if !strings.Contains(string(found.body), `"gold"`) {
		t.Fatalf("variables not found by e-mail: %s", found.body)
	}
	// Only the token is read: extra members are refused, not merged.
	ts.must(422, ts.do("", "POST", "/v1/tenants/bot/sessions/variables", map[string]any{"token": tok, "variables": map[string]any{"plan": "platinum"}}))
}

func TestSessions_RotationKeepsOldTokensValid(t *testing.T) {
	ts := newServer(t)
	key := sessionTenant(ts, "bot", "1h")
	admin := ts.key("bot", "admin")
	old := ts.must(201, ts.do(key, "POST", "/v1/tenants/bot/sessions", map[string]any{})).json(t)["token"].(string)
	kid := ts.must(201, ts.do(admin, "POST", "/v1/tenants/bot/session-keys", nil)).json(t)["kid"].(string)
	fresh := ts.must(201, ts.do(key, "POST", "/v1/tenants/bot/sessions", map[string]any{})).json(t)["token"].(string)
	for _, tok := range []string{old, fresh} {
		ts.must(200, ts.do(key, "POST", "/v1/tenants/bot/sessions/verify", map[string]any{"token": tok}))
	}
	if old[:strings.IndexByte(old, '.')] == fresh[:strings.IndexByte(fresh, '.')] {
		t.Error("the new token's header (kid) is the old one's")
	}
	if kid == "" {
		t.Error("no kid")
	}
	ts.must(403, ts.do(key, "POST", "/v1/tenants/bot/session-keys", nil))
}

func TestDemoChat_ServedFromTheBinary(t *testing.T) {
	ts := newServer(t)
	for path, ct := range map[string]string{"/demo/chat": "text/html", "/demo/chat/lethe-chat.js": "text/javascript", "/demo/chat/demo.js": "text/javascript"} {
		r := ts.must(200, ts.do("", "GET", path, nil))
		if !strings.HasPrefix(r.header.Get("Content-Type"), ct) || !strings.Contains(r.header.Get("Content-Security-Policy"), "connect-src 'self'") || len(r.body) == 0 {
			t.Errorf("%s: %v, %d bytes", path, r.header, len(r.body))
		}
	}
}

// The customer's site calls the public chat routes across origins: only
// its exact origins get the CORS headers, the preflight included.
func TestSessions_CORSForTheTenantsChatOrigins(t *testing.T) {
	ts := newServer(t)
	key := sessionTenant(ts, "bot", "1h")
	admin := ts.key("bot", "admin")
	r := ts.must(200, ts.do(admin, "PATCH", "/v1/tenants/bot", map[string]any{"chat_origins": []string{"https://shop.example"}}))
	if got := r.json(t)["chat_origins"].([]any); len(got) != 1 || got[0] != "https://shop.example" {
		t.Fatalf("chat_origins %v", got)
	}
	ts.must(422, ts.do(admin, "PATCH", "/v1/tenants/bot", map[string]any{"chat_origins": []string{"*"}}))
	tok := ts.must(201, ts.do(key, "POST", "/v1/tenants/bot/sessions", map[string]any{})).json(t)["token"].(string)
	for _, tt := range []struct {
		origin string
		allow  bool
	}{{"https://shop.example", true}, {"https://evil.example", false}, {"", false}} {
		for _, method := range []string{"OPTIONS", "POST"} {
			req, _ := http.NewRequest(method, ts.url+"/v1/tenants/bot/sessions/open", strings.NewReader(`{"token":"`+tok+`"}`))
			if tt.origin != "" {
				req.Header.Set("Origin", tt.origin)
			}
			req.Header.Set("Access-Control-Request-Method", "POST")
			res, err := http.DefaultClient.Do(req)
			if err != nil {
				t.Fatal(err)
			}
			res.Body.Close()
			want := map[string]int{"OPTIONS": 204, "POST": 200}[method]
			got := res.Header.Get("Access-Control-Allow-Origin")
			if res.StatusCode != want || (got == tt.origin && tt.origin != "") != tt.allow || (!tt.allow && got != "") {
				t.Errorf("%s from %q: %d, Allow-Origin %q", method, tt.origin, res.StatusCode, got)
			}
			if !strings.Contains(res.Header.Get("Vary"), "Origin") {
				t.Errorf("%s from %q: no Vary: Origin", method, tt.origin)
			}
			if method == "OPTIONS" && tt.allow && res.Header.Get("Access-Control-Allow-Headers") != "Content-Type" {
				t.Errorf("preflight allows headers %q", res.Header.Get("Access-Control-Allow-Headers"))
			}
		}
	}
	// Another tenant's origins are not this one's.
	sessionTenant(ts, "other", "1h")
	req, _ := http.NewRequest("OPTIONS", ts.url+"/v1/tenants/other/sessions/open", nil)
	req.Header.Set("Origin", "https://shop.example")
	res, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	res.Body.Close()
	if res.Header.Get("Access-Control-Allow-Origin") != "" {
		t.Error("tenant other allows bot's origin")
	}
}
