package httpapi_test

import (
	"strings"
	"testing"
)

// Answers that may hold personal data are never kept by a cache (ASVS
// 14.3.2), and TRACE is not served on any route (ASVS 13.4.4).
func TestAPI_NoStoreAndNoTrace(t *testing.T) {
	ts := newServer(t)
	key := ts.tenant("shop", "erp-marketplace")
	path := "/v1/tenants/shop/collections/orders/records"
	ts.must(201, ts.do(key, "POST", path, map[string]any{"id": "o1", "fields": map[string]any{"name": "Erika", "email": "erika@example.com"}}))
	for _, p := range []string{path + "/o1", "/v1/tenants/shop/subjects?email=erika@example.com", path} {
		r := ts.must(200, ts.do(key, "GET", p, nil))
		if cc := r.header.Get("Cache-Control"); !strings.Contains(cc, "no-store") {
			t.Errorf("GET %s: Cache-Control %q, want no-store", p, cc)
		}
	}
	if cc := ts.do(key, "GET", path+"/missing", nil).header.Get("Cache-Control"); !strings.Contains(cc, "no-store") {
		t.Errorf("a problem answer: Cache-Control %q, want no-store", cc)
	}
	for _, p := range []string{path + "/o1", "/v1/tenants/shop", "/healthz", "/v1/openapi.json"} {
		if r := ts.do(key, "TRACE", p, nil); r.status != 405 {
			t.Errorf("TRACE %s: status %d, want 405", p, r.status)
		}
	}
}

// The body form of the subject lookup finds what the query form finds,
// and keeps the identifiers out of the URL (ASVS 14.2.1).
func TestAPI_SubjectSearchInTheBody(t *testing.T) {
	ts := newServer(t)
	key := ts.tenant("shop", "erp-marketplace")
	path := "/v1/tenants/shop/collections/orders/records"
	ts.must(201, ts.do(key, "POST", path, map[string]any{"id": "o1", "fields": map[string]any{"email": "erika@example.com", "kundennummer": "K-1"}}))
	ts.must(201, ts.do(key, "POST", path, map[string]any{"id": "o2", "fields": map[string]any{"email": "max@example.com"}}))
	byQuery := ts.must(200, ts.do(key, "GET", "/v1/tenants/shop/subjects?email=ERIKA@example.com", nil)).json(t)
	byBody := ts.must(200, ts.do(key, "POST", "/v1/tenants/shop/subjects/search", map[string]any{"identifiers": map[string]any{"email": "ERIKA@example.com"}})).json(t)
	if byBody["count"] != float64(1) || byQuery["count"] != byBody["count"] {
		t.Fatalf("query form %v, body form %v", byQuery["count"], byBody["count"])
	}
	for _, tc := range []struct {
		body any
		want int
	}{
		{map[string]any{"identifiers": map[string]any{"colour": "blue"}}, 422},
		{map[string]any{"identifiers": map[string]any{}}, 422},
		{map[string]any{"email": "erika@example.com"}, 422},
		{[]any{"erika@example.com"}, 400},
	} {
		if r := ts.do(key, "POST", "/v1/tenants/shop/subjects/search", tc.body); r.status != tc.want {
			t.Errorf("%v: status %d, want %d: %s", tc.body, r.status, tc.want, r.body)
		}
	}
}
