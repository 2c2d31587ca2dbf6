package httpapi_test

import (
	"encoding/json"
	"fmt"
	"net/url"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"
)

// page is the answer of a listing.
type page struct {
	Tenants  []map[string]any `json:"tenants"`
	Records  []map[string]any `json:"records"`
	Requests []map[string]any `json:"requests"`
	Next     *string          `json:"next"`
}

func (ts *testServer) page(token, path string) page {
	ts.t.Helper()
	r := ts.must(200, ts.do(token, "GET", path, nil))
	var p page
	if err := json.Unmarshal(r.body, &p); err != nil {
		ts.t.Fatal(err)
	}
	return p
}

// pageAll follows next from path to the last page and returns the ids
// and how many pages it took.
func (ts *testServer) pageAll(token, path, items string) ([]string, int) {
	ts.t.Helper()
	var out []string
	sep := "?"
	if u, _ := url.Parse(path); u.RawQuery != "" {
		sep = "&"
	}
	next := ""
	for pages := 1; pages < 100; pages++ {
		p := path
		if next != "" {
			p += sep + "next=" + url.QueryEscape(next)
		}
		pg := ts.page(token, p)
		list := map[string][]map[string]any{"tenants": pg.Tenants, "records": pg.Records, "requests": pg.Requests}[items]
		for _, it := range list {
			out = append(out, it["id"].(string))
		}
		if pg.Next == nil {
			return out, pages
		}
		if *pg.Next == "" {
			ts.t.Fatalf("empty next on page %d", pages)
		}
		next = *pg.Next
	}
	ts.t.Fatal("paging does not end")
	return nil, 0
}

func TestListing_RecordsPageThroughEveryRecordOnceAuditedAsReads(t *testing.T) {
	ts := newServer(t)
	key := ts.tenant("shop", "erp-marketplace")
	var want []string
	for i := range 7 {
		id := fmt.Sprintf("A-%d", i)
		want = append(want, id)
		origin := "shop"
		if i%2 == 0 {
			origin = "amazon"
		}
		ts.must(201, ts.do(key, "POST", "/v1/tenants/shop/collections/orders/records", map[string]any{
			"id": id, "origin": origin, "created_at": fmt.Sprintf("2026-11-%02dT10:00:00Z", 10+i),
			"fields": map[string]any{"name": "Erika Mustermann " + id, "plz": "10115"}}))
	}
	ts.must(201, ts.do(key, "POST", "/v1/tenants/shop/collections/invoices/records", map[string]any{"id": "I-1", "fields": map[string]any{"name": "X"}}))

	got, pages := ts.pageAll(key, "/v1/tenants/shop/collections/orders/records?limit=3", "records")
	same(t, "ids", got, want)
	if pages != 3 {
		t.Fatalf("%d pages of 3 for 7 records, want 3", pages)
	}
	// Records come as GET gives them: PII decrypted.
	p := ts.page(key, "/v1/tenants/shop/collections/orders/records?limit=1")
	single := ts.must(200, ts.do(key, "GET", "/v1/tenants/shop/collections/orders/records/A-0", nil)).json(t)
	same(t, "listed record", p.Records[0], single)
	if p.Records[0]["fields"].(map[string]any)["name"] != "Erika Mustermann A-0" {
		t.Fatalf("PII not decrypted: %v", p.Records[0])
	}

	// Each page is one read in the manager log, listing its records.
	lp := ts.logPage(ts.key("shop", "auditor"), "/v1/tenants/shop/logs/manager?event=record.read")
	var listed []float64
	for _, e := range lp.Entries {
		if e.Data["via"] == "list" {
			listed = append(listed, e.Data["records"].(float64))
		}
	}
	same(t, "records per logged page read", listed, []float64{3, 3, 1, 1})

	tests := []struct {
		query string
		want  []string
	}{
		{"origin=amazon", []string{"A-0", "A-2", "A-4", "A-6"}},
		{"origin=amazon&created_from=2026-11-12T10:00:00Z&created_to=2026-11-16T10:00:00Z", []string{"A-2", "A-4"}},
		{"state=anonymized", nil},
		{"state=active&updated_to=2026-11-23T12:00:00Z", nil},
		{"updated_from=2026-11-23T12:00:00Z", want},
	}
	for _, tc := range tests {
		for _, limit := range []string{"1", "1000"} {
			got, _ := ts.pageAll(key, "/v1/tenants/shop/collections/orders/records?limit="+limit+"&"+tc.query, "records")
			same(t, tc.query, got, tc.want)
		}
	}
}

func TestListing_TenantsAreListedForTheAdminOnly(t *testing.T) {
	ts := newServer(t)
	var key string
	for _, id := range []string{"c", "a", "b"} {
		key = ts.tenant(id, "chatbot")
	}
	got, pages := ts.pageAll(ts.admin, "/v1/tenants?limit=2", "tenants")
	same(t, "tenants", got, []string{"a", "b", "c"})
	if pages != 2 {
		t.Fatalf("%d pages, want 2", pages)
	}
	p := ts.page(ts.admin, "/v1/tenants")
	if p.Next != nil || len(p.Tenants) != 3 || p.Tenants[0]["packs"].([]any)[0] != "chatbot" {
		t.Fatalf("one page: %+v", p)
	}
	ts.must(403, ts.do(key, "GET", "/v1/tenants", nil))
	ts.must(401, ts.do("", "GET", "/v1/tenants", nil))
}

func TestListing_RequestsFilterByStateAndType(t *testing.T) {
	ts := newServer(t)
	key := reqSeed(ts)
	var ids []string
	for _, body := range []map[string]any{
		{"type": "export", "subject": map[string]string{"email": "erika@example.com"}},
		{"type": "erase", "origin": "amazon", "dry_run": true},
		{"type": "export", "origin": "shop"},
	} {
		r := ts.must(201, ts.do(key, "POST", "/v1/tenants/shop/requests", body))
		ids = append(ids, r.json(t)["id"].(string))
	}
	got, _ := ts.pageAll(key, "/v1/tenants/shop/requests?limit=2", "requests")
	same(t, "all", got, ids)
	got, _ = ts.pageAll(key, "/v1/tenants/shop/requests?type=export", "requests")
	same(t, "exports", got, []string{ids[0], ids[2]})
	reqRunQueue(ts)
	got, _ = ts.pageAll(key, "/v1/tenants/shop/requests?state=done&type=erase", "requests")
	same(t, "done erasures", got, []string{ids[1]})
	got, _ = ts.pageAll(key, "/v1/tenants/shop/requests?state=pending", "requests")
	same(t, "pending", got, []string(nil))
	p := ts.page(key, "/v1/tenants/shop/requests?limit=1")
	one := ts.must(200, ts.do(key, "GET", "/v1/tenants/shop/requests/"+ids[0], nil)).json(t)
	same(t, "listed job", p.Requests[0], one)

	other := ts.tenant("other", "chatbot")
	ts.must(403, ts.do(other, "GET", "/v1/tenants/shop/requests", nil))
	if p := ts.page(other, "/v1/tenants/other/requests"); len(p.Requests) != 0 {
		t.Fatalf("another tenant sees %v", p.Requests)
	}
}

func TestListing_RefusesBadQueriesNamingTheParameter(t *testing.T) {
	ts := newServer(t)
	key := ts.tenant("shop", "erp-marketplace")
	other := ts.tenant("other", "erp-marketplace")
	ts.must(201, ts.do(key, "POST", "/v1/tenants/shop/collections/orders/records", map[string]any{"id": "A-1", "fields": map[string]any{"name": "X"}}))
	records := "/v1/tenants/shop/collections/orders/records"
	tenantCursor := *ts.page(ts.admin, "/v1/tenants?limit=1").Next
	cases := []struct {
		path, field string
	}{
		{records + "?limit=0", "limit"},
		{records + "?limit=1001", "limit"},
		{records + "?limit=ten", "limit"},
		{records + "?next=not-a-cursor", "next"},
		{records + "?next=" + url.QueryEscape(tenantCursor), "next"},
		{records + "?state=deleted", "state"},
		{records + "?origin=Amazon", "origin"},
		{records + "?created_from=yesterday", "created_from"},
		{records + "?created_from=2026-01-02T00:00:00Z&created_to=2026-01-01T00:00:00Z", "created_to"},
		{records + "?create_from=2026-01-01T00:00:00Z", "create_from"},
		{records + "?limit=1&limit=2", "limit"},
		{"/v1/tenants?limit=5000", "limit"},
		{"/v1/tenants?next=eyJrIjoidGVuYW50cyJ9", "next"},
		{"/v1/tenants/shop/requests?state=finished", "state"},
		{"/v1/tenants/shop/requests?type=delete", "type"},
	}
	every := ts.key("shop", allRoles...)
	for _, c := range cases {
		token := ts.admin
		if strings.HasPrefix(c.path, "/v1/tenants/shop/") {
			token = every
		}
		r := ts.do(token, "GET", c.path, nil)
		if r.status != 422 {
			t.Errorf("%s: status %d, want 422: %s", c.path, r.status, r.body)
			continue
		}
		errs, _ := r.json(t)["errors"].([]any)
		if len(errs) != 1 || errs[0].(map[string]any)["field"] != c.field {
			t.Errorf("%s: errors %v, want one naming %s", c.path, errs, c.field)
		}
	}
	ts.must(404, ts.do(key, "GET", "/v1/tenants/shop/collections/nope/records", nil))
	ts.must(403, ts.do(other, "GET", records, nil))
}

// same fails the test with a diff unless got equals want.
func same(t *testing.T, what string, got, want any) {
	t.Helper()
	if d := cmp.Diff(want, got); d != "" {
		t.Fatalf("%s: mismatch (-want +got):\n%s", what, d)
	}
}
