package httpapi_test

import (
	"regexp"
	"strings"
	"testing"

	"github.com/lethe-privacy/lethe/httpapi"
)

// goish matches what a client should never read: Go type names and SQL.
var goish = regexp.MustCompile(`map\[|interface ?\{|struct ?\{|\[\]string|\[\]httpapi|httpapi\.|engine\.|lethe\.|\bint64\b|\bfloat64\b|json: |UNIQUE|constraint|INSERT|SELECT|sqlite|SQLSTATE|\(\d{4}\)`)

// TestErrors_NameThePathInJSONWords sends bodies of the wrong shape to
// every kind of decoded body and checks that the problem names the exact
// place (list index, map key) and what was wanted in JSON's words.
func TestErrors_NameThePathInJSONWords(t *testing.T) {
	ts := newServer(t)
	key := ts.tenant("shop", "erp-marketplace", "chatbot")
	recs := "/v1/tenants/shop/collections/orders/records"
	settings := "/v1/tenants/shop/settings/live_chat_messages"
	for _, tc := range []struct {
		name, token, method, path, body string
		field, reason                   string
	}{
		{"string wanted", ts.admin, "POST", "/v1/tenants", `{"id": 5, "packs": ["chatbot"]}`, "id", "want a string, got a number"},
		{"list wanted", ts.admin, "POST", "/v1/tenants", `{"id": "x", "packs": "chatbot"}`, "packs", "want a list, got a string"},
		{"list item", ts.admin, "POST", "/v1/tenants", `{"id": "x", "packs": ["chatbot", 1]}`, "packs[1]", "want a string, got a number"},
		{"map value", ts.admin, "PUT", settings, `{"periods": {"delete": 5}}`, "periods.delete", "want a string, got a number"},
		{"boolean", ts.admin, "PUT", settings, `{"enabled": "yes"}`, "enabled", "want true or false, got a string"},
		{"object wanted", key, "POST", recs, `{"fields": []}`, "fields", "want an object, got a list"},
		{"batch not a list", key, "POST", recs, `{"records": {}}`, "records", "want a list, got an object"},
		{"batch item", key, "POST", recs, `{"records": [{"id": "a"}, {"id": 5}]}`, "records[1].id", "want a string, got a number"},
		{"batch item not an object", key, "POST", recs, `{"records": [{"id": "a"}, "b"]}`, "records[1]", "want an object, got a string"},
		{"unknown key in batch item", key, "POST", recs, `{"records": [{"idd": "a"}]}`, "records[0].idd", "unknown field"},
		{"key spelled in another case", key, "POST", recs, `{"ID": "a"}`, "ID", "unknown field"},
		{"request subject", key, "POST", "/v1/tenants/shop/requests", `{"type": "export", "subject": {"email": 5}}`, "subject.email", "want a string, got a number"},
		{"request dry run", key, "POST", "/v1/tenants/shop/requests", `{"type": "export", "dry_run": "no"}`, "dry_run", "want true or false, got a string"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			r := ts.do(tc.token, tc.method, tc.path, tc.body)
			if r.status != 422 {
				t.Fatalf("status %d, want 422: %s", r.status, r.body)
			}
			want := `{"field":"` + tc.field + `","reason":"` + tc.reason + `"}`
			if !strings.Contains(string(r.body), want) {
				t.Errorf("problem lacks %s: %s", want, r.body)
			}
			if m := goish.FindString(string(r.body)); m != "" {
				t.Errorf("problem shows %q to the client: %s", m, r.body)
			}
		})
	}
}

// TestErrors_BodyMustBeAnObject checks that a body that is valid JSON but
// not an object is refused with 400 before it can decode into a zero
// value (null into a struct is no error for encoding/json).
func TestErrors_BodyMustBeAnObject(t *testing.T) {
	ts := newServer(t)
	key := ts.tenant("shop", "erp-marketplace")
	for _, body := range []string{`null`, `[]`, `[{"id": "x"}]`, `5`, `"x"`, `true`, ` null `} {
		for _, c := range []struct{ token, method, path string }{
			{ts.admin, "POST", "/v1/tenants"},
			{key, "POST", "/v1/tenants/shop/collections/orders/records"},
			{key, "PATCH", "/v1/tenants/shop/collections/orders/records/x"},
			{ts.admin, "PUT", "/v1/tenants/shop/settings/orders"},
			{key, "POST", "/v1/tenants/shop/requests"},
		} {
			r := ts.do(c.token, c.method, c.path, body)
			if r.status != 400 || !strings.Contains(string(r.body), "must be a JSON object") {
				t.Errorf("%s %s with %s: status %d, want 400 naming the object: %s", c.method, c.path, body, r.status, r.body)
			}
		}
	}
	// null settings would have reset every choice; they are unchanged.
	r := ts.must(200, ts.do(ts.admin, "GET", "/v1/tenants/shop/settings/orders", nil))
	if _, ok := r.json(t)["updated_at"]; ok {
		t.Errorf("settings were written: %s", r.body)
	}
}

// TestErrors_ConflictSaysWhatExists checks every 409 a client can cause:
// it names the tenant, the record id and collection, or the unique
// identifier, and quotes no SQL.
func TestErrors_ConflictSaysWhatExists(t *testing.T) {
	ts := newServer(t)
	key := ts.tenant("acme", "erp-marketplace", "chatbot")
	recs := "/v1/tenants/acme/collections/orders/records"
	ts.must(201, ts.do(key, "POST", recs, `{"id": "A-1", "fields": {"name": "x"}}`))
	voucher := "/v1/tenants/acme/collections/voucher_codes/records"
	ts.must(201, ts.do(key, "POST", voucher, `{"fields": {"code": "SPRING", "email": "a@example.com"}}`))
	for _, tc := range []struct {
		name, token, path, body, detail string
	}{
		{"tenant", ts.admin, "/v1/tenants", `{"id": "acme", "packs": ["chatbot"]}`, "tenant acme exists"},
		{"record", key, recs, `{"id": "A-1", "fields": {"name": "y"}}`, "record A-1 exists in collection orders"},
		{"record in a batch", key, recs, `{"records": [{"id": "A-2"}, {"id": "A-1"}]}`, "record A-1 exists in collection orders"},
		{"record twice in a batch", key, recs, `{"records": [{"id": "A-3"}, {"id": "A-3"}]}`, "record A-3 exists in collection orders"},
		{"unique identifier", key, voucher, `{"fields": {"code": " SPRING ", "email": "b@example.com"}}`, "a record with this voucher_code exists in collection voucher_codes"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			r := ts.do(tc.token, "POST", tc.path, tc.body)
			if r.status != 409 {
				t.Fatalf("status %d, want 409: %s", r.status, r.body)
			}
			if d := r.json(t)["detail"]; d != tc.detail {
				t.Errorf("detail %q, want %q", d, tc.detail)
			}
			if m := goish.FindString(string(r.body)); m != "" {
				t.Errorf("problem shows %q to the client: %s", m, r.body)
			}
		})
	}
	ts.must(404, ts.do(key, "GET", recs+"/A-2", nil))
}

// TestErrors_WrongMethodIs405WithAllow checks that a known path asked with
// a method it does not serve answers 405 naming the allowed methods, for
// every path of the table, and that an unknown path still answers 404.
func TestErrors_WrongMethodIs405WithAllow(t *testing.T) {
	ts := newServer(t)
	for _, tc := range []struct{ method, path, allow string }{
		{"DELETE", "/v1/tenants/shop/collections/orders/records", "GET, HEAD, POST"},
		{"PUT", "/v1/tenants/shop", "GET, HEAD, PATCH"},
		{"POST", "/v1/tenants/shop/collections/orders/records/x", "DELETE, GET, HEAD, PATCH"},
		{"DELETE", "/v1/tenants/shop/settings/orders", "GET, HEAD, PATCH, PUT"},
		{"GET", "/v1/sweeps", "POST"},
		{"POST", "/metrics", "GET, HEAD"},
		{"GET", "/v1/tenants/shop/keys/abc", "DELETE"},
	} {
		r := ts.do("", tc.method, tc.path, nil)
		if r.status != 405 || r.header.Get("Allow") != tc.allow || r.header.Get("Content-Type") != "application/problem+json" {
			t.Errorf("%s %s: status %d, Allow %q, Content-Type %q; want 405, %q, problem+json: %s",
				tc.method, tc.path, r.status, r.header.Get("Allow"), r.header.Get("Content-Type"), tc.allow, r.body)
			continue
		}
		if d, _ := r.json(t)["detail"].(string); !strings.Contains(d, tc.method) || !strings.Contains(d, tc.allow) {
			t.Errorf("%s %s: detail %q names neither the method nor the allowed ones", tc.method, tc.path, d)
		}
	}
	// Every route of the table: its path with another method is a 405.
	for _, rt := range httpapi.Routes() {
		method, path, _ := strings.Cut(rt, " ")
		other := "DELETE"
		if method == "DELETE" {
			other = "PUT"
		}
		if methodsOf(path)[other] {
			continue
		}
		r := ts.do("", other, fill(path), nil)
		if r.status != 405 || !strings.Contains(r.header.Get("Allow"), method) {
			t.Errorf("%s %s: status %d, Allow %q; want 405 allowing %s", other, path, r.status, r.header.Get("Allow"), method)
		}
	}
	r := ts.must(404, ts.do("", "PUT", "/v1/nope", nil))
	if r.header.Get("Allow") != "" {
		t.Errorf("unknown path answers Allow %q", r.header.Get("Allow"))
	}
}

// TestErrors_TooLargeNamesTheLimitAndTheFlag checks the 413: it says how
// large a body may be and how the operator raises the limit.
func TestErrors_TooLargeNamesTheLimitAndTheFlag(t *testing.T) {
	ts := newServer(t) // MaxBody 1 MiB
	key := ts.tenant("shop", "erp-marketplace")
	body := `{"fields": {"name": "` + strings.Repeat("x", 1<<20) + `"}}`
	r := ts.must(413, ts.do(key, "POST", "/v1/tenants/shop/collections/orders/records", body))
	d, _ := r.json(t)["detail"].(string)
	for _, want := range []string{"1048576 bytes (1 MiB)", "--max-body"} {
		if !strings.Contains(d, want) {
			t.Errorf("413 detail %q lacks %q", d, want)
		}
	}
}

// methodsOf lists the methods the table serves on a pattern.
func methodsOf(pattern string) map[string]bool {
	out := map[string]bool{}
	for _, rt := range httpapi.Routes() {
		m, p, _ := strings.Cut(rt, " ")
		if p == pattern {
			out[m] = true
		}
	}
	return out
}

// fill puts sample values into a pattern's wildcards.
func fill(pattern string) string {
	return regexp.MustCompile(`\{[a-z]+\}`).ReplaceAllString(pattern, "x")
}
