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
