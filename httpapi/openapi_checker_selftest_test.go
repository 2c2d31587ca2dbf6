package httpapi

import (
	"encoding/json"
	"fmt"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
)

// TestCheckResponses_FailsOnEveryKindOfMismatch feeds the suite's OpenAPI
// checker canned answers that break the document in one way each, and
// checks that it reports each one (naming the route, the status and the
// JSON pointer where the body departs), and that a correct answer passes.
// Without it, a checker that accepted everything would look like a
// document that matched.
func TestCheckResponses_FailsOnEveryKindOfMismatch(t *testing.T) {
	c, err := loadChecker()
	if err != nil {
		t.Fatal(err)
	}
	const tenant = `{"id":"shop","packs":["chatbot"],"created_at":"2026-11-23T12:00:00Z"}`
	const problem = `{"type":"urn:lethe:problem:not-found","title":"Not found","status":404,"detail":"tenant shop"}`
	for _, tc := range []struct {
		name, method, path string
		status             int
		contentType, body  string
		want               []string // in the report; none: the answer passes
	}{
		{"correct tenant", "GET", "/v1/tenants/shop", 200, "application/json", tenant, nil},
		{"correct problem", "GET", "/v1/tenants/shop", 404, "application/problem+json", problem, nil},
		{"correct empty answer", "DELETE", "/v1/tenants/shop/collections/orders/records/x", 204, "", "", nil},
		{"correct batch answer", "POST", "/v1/tenants/shop/collections/orders/records", 201, "application/json",
			`{"records":[{"id":"a","state":"active","plan":{"action":"delete","rule":"delete","due_at":"2026-12-01T00:00:00Z"}},{"id":"b","state":"active"}]}`, nil},
		{"undocumented field", "GET", "/v1/tenants/shop", 200, "application/json",
			`{"id":"shop","packs":["chatbot"],"created_at":"2026-11-23T12:00:00Z","colour":"red"}`,
			[]string{"route GET /v1/tenants/{tenant}", "status 200", "colour"}},
		{"missing required field", "GET", "/v1/tenants/shop", 200, "application/json",
			`{"id":"shop","created_at":"2026-11-23T12:00:00Z"}`, []string{"status 200", "packs"}},
		{"wrong type deep inside", "POST", "/v1/tenants/shop/collections/orders/records", 201, "application/json",
			`{"records":[{"id":"a","state":"active"},{"id":"b","state":"active","plan":{"action":"delete","rule":"delete","due_at":5}}]}`,
			[]string{"/records/1"}},
		{"value outside the enum", "GET", "/healthz", 200, "application/json", `{"status":"fine"}`, []string{"/status"}},
		{"undocumented status", "GET", "/v1/tenants/shop", 418, "application/problem+json",
			`{"type":"x","title":"Teapot","status":418}`, []string{"status 418", "status is not supported"}},
		{"undocumented content type", "GET", "/v1/tenants/shop", 200, "text/plain", tenant, []string{"text/plain"}},
		{"error as plain JSON", "GET", "/v1/tenants/shop", 404, "application/json", problem, []string{"want application/problem+json"}},
		{"problem of the wrong shape", "GET", "/v1/tenants/shop", 404, "application/problem+json",
			`{"title":"Not found","status":404}`, []string{"Problem", "type"}},
		{"problem status differs", "GET", "/v1/tenants/shop", 404, "application/problem+json",
			strings.Replace(problem, "404", "400", 1), []string{"differs from the HTTP status"}},
		{"body where none is documented", "DELETE", "/v1/tenants/shop/collections/orders/records/x", 204, "application/json", `{}`,
			[]string{"a body where the document has none"}},
		{"body without a content type", "GET", "/v1/tenants/shop", 200, "", tenant, []string{"without a Content-Type"}},
		{"unrouted path answers 200", "GET", "/v1/nowhere", 200, "application/json", `{}`, []string{"outside the route table"}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			h := http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
				if tc.contentType != "" {
					w.Header().Set("Content-Type", tc.contentType)
				}
				w.WriteHeader(tc.status)
				w.Write([]byte(tc.body))
			})
			var reports []string
			rec := httptest.NewRecorder()
			c.wrap(h, func(err error) { reports = append(reports, err.Error()) }).ServeHTTP(rec, httptest.NewRequest(tc.method, tc.path, nil))
			if rec.Code != tc.status || rec.Body.String() != tc.body {
				t.Errorf("the answer did not pass through: %d %q", rec.Code, rec.Body.String())
			}
			if len(tc.want) == 0 {
				if len(reports) > 0 {
					t.Errorf("a correct answer was reported: %v", reports)
				}
				return
			}
			if len(reports) != 1 {
				t.Fatalf("%d reports, want 1: %v", len(reports), reports)
			}
			for _, w := range tc.want {
				if !strings.Contains(reports[0], w) {
					t.Errorf("report lacks %q:\n%s", w, reports[0])
				}
			}
		})
	}
}

// TestOpenAPI_ResponseObjectsAreClosed walks every schema a response can
// reach and fails for an object that lists properties but leaves others
// open: such a schema lets an undocumented field through the checker. An
// object meant to hold any keys (a record's fields, a log entry's data)
// lists no properties, or says what its additionalProperties are.
func TestOpenAPI_ResponseObjectsAreClosed(t *testing.T) {
	raw, err := openAPIDocument()
	if err != nil {
		t.Fatal(err)
	}
	var doc map[string]any
	if err := json.Unmarshal(raw, &doc); err != nil {
		t.Fatal(err)
	}
	schemas := doc["components"].(map[string]any)["schemas"].(map[string]any)
	seen := map[string]bool{}
	var walk func(where string, s any)
	walk = func(where string, s any) {
		m, ok := s.(map[string]any)
		if !ok {
			return
		}
		if ref, ok := m["$ref"].(string); ok {
			name := strings.TrimPrefix(ref, "#/components/schemas/")
			if !seen[name] {
				seen[name] = true
				walk("#/components/schemas/"+name, schemas[name])
			}
			return
		}
		if props, ok := m["properties"].(map[string]any); ok {
			if _, set := m["additionalProperties"]; !set {
				t.Errorf("%s: an object with properties but no additionalProperties (add \"additionalProperties\": false and a required list)", where)
			}
			for k, p := range props {
				walk(where+"/properties/"+k, p)
			}
		}
		walk(where+"/items", m["items"])
		walk(where+"/additionalProperties", m["additionalProperties"])
		for _, kw := range []string{"oneOf", "anyOf", "allOf"} {
			list, _ := m[kw].([]any)
			for i, sub := range list {
				walk(fmt.Sprintf("%s/%s/%d", where, kw, i), sub)
			}
		}
	}
	for path, item := range doc["paths"].(map[string]any) {
		for method, op := range item.(map[string]any) {
			resps, _ := op.(map[string]any)["responses"].(map[string]any)
			for code, resp := range resps {
				content, _ := resp.(map[string]any)["content"].(map[string]any)
				for ct, media := range content {
					walk(fmt.Sprintf("%s %s %s %s", strings.ToUpper(method), path, code, ct), media.(map[string]any)["schema"])
				}
			}
		}
	}
	walk("#/components/schemas/Problem", schemas["Problem"])
}
