package httpapi_test

import (
	"archive/zip"
	"bytes"
	"strings"
	"sync"
	"testing"
)

// reqRunQueue runs every pending request job to its end.
func reqRunQueue(ts *testServer) {
	ts.t.Helper()
	if _, err := ts.eng.NewRequestRunner().RunPending(ts.t.Context()); err != nil {
		ts.t.Fatal(err)
	}
}

func reqSeed(ts *testServer) string {
	key := ts.tenant("shop", "erp-marketplace")
	for _, rec := range []map[string]any{
		{"id": "A-1", "origin": "amazon", "fields": map[string]any{"name": "Erika Mustermann", "email": "erika@example.com", "plz": "10115", "ort": "Berlin", "kundennummer": "K-1"}},
		{"id": "S-1", "origin": "shop", "fields": map[string]any{"name": "Max Muster", "email": "max@example.com", "plz": "20095", "ort": "Hamburg"}},
	} {
		ts.must(201, ts.do(key, "POST", "/v1/tenants/shop/collections/orders/records", rec))
	}
	ts.must(201, ts.do(key, "POST", "/v1/tenants/shop/collections/archived_documents/records",
		map[string]any{"id": "D-1", "fields": map[string]any{"belegart": "rechnung", "kundennummer": "K-1", "document": "JVBERi0="}}))
	return key
}

func TestRequestAPI_EraseSubject_HoldReportedAndReceiptServed(t *testing.T) {
	ts := newServer(t)
	key := reqSeed(ts)
	body := map[string]any{"type": "erase", "subject": map[string]any{"email": "ERIKA@example.com ", "customer_id": "K-1"}}
	r := ts.must(201, ts.do(key, "POST", "/v1/tenants/shop/requests", body))
	job := r.json(t)
	id, _ := job["id"].(string)
	if job["state"] != "pending" || r.header.Get("Location") != "/v1/tenants/shop/requests/"+id {
		t.Fatalf("created: %s", r.body)
	}
	if bytes.Contains(r.body, []byte("erika")) || bytes.Contains(r.body, []byte("K-1")) {
		t.Fatalf("job holds identifier values: %s", r.body)
	}
	// The same request while it is pending: the same job, 200.
	again := ts.must(200, ts.do(key, "POST", "/v1/tenants/shop/requests", body)).json(t)
	if again["id"] != id {
		t.Fatalf("second submission made job %v, want %s", again["id"], id)
	}
	reqRunQueue(ts)
	got := ts.must(200, ts.do(key, "GET", "/v1/tenants/shop/requests/"+id, nil)).json(t)
	if got["state"] != "done" {
		t.Fatalf("job: %v", got)
	}
	progress := got["progress"].(map[string]any)
	if progress["processed"] != float64(2) || progress["total"] != float64(2) {
		t.Errorf("progress %v", progress)
	}
	held := ts.must(200, ts.do(key, "GET", "/v1/tenants/shop/requests/"+id+"/items?action=hold", nil)).json(t)
	items := held["items"].([]any)
	if len(items) != 1 || items[0].(map[string]any)["id"] != "D-1" || items[0].(map[string]any)["reason"] == "" || items[0].(map[string]any)["until"] == nil {
		t.Fatalf("held items: %v", held)
	}
	ts.must(404, ts.do(key, "GET", "/v1/tenants/shop/collections/orders/records/A-1", nil))
	ts.must(200, ts.do(key, "GET", "/v1/tenants/shop/collections/archived_documents/records/D-1", nil))
	ts.must(200, ts.do(key, "GET", "/v1/tenants/shop/collections/orders/records/S-1", nil))
	rc := ts.must(200, ts.do(key, "GET", "/v1/tenants/shop/requests/"+id+"/receipt", nil))
	if _, err := ts.eng.VerifyReceipt(t.Context(), rc.body); err != nil {
		t.Fatalf("served receipt does not verify: %v", err)
	}
}

func TestRequestAPI_IdenticalEraseAtOnce_OneJob(t *testing.T) {
	ts := newServer(t)
	key := reqSeed(ts)
	body := map[string]any{"type": "erase", "subject": map[string]any{"customer_id": "K-1"}}
	const n = 10
	var (
		mu       sync.Mutex
		ids      = map[string]bool{}
		statuses = map[int]int{}
		wg       sync.WaitGroup
	)
	for range n {
		wg.Add(1)
		go func() {
			defer wg.Done()
			r := ts.do(key, "POST", "/v1/tenants/shop/requests", body)
			mu.Lock()
			defer mu.Unlock()
			statuses[r.status]++
			if r.status < 300 {
				ids[r.json(t)["id"].(string)] = true
			}
		}()
	}
	wg.Wait()
	if len(ids) != 1 || statuses[201] != 1 || statuses[200] != n-1 {
		t.Fatalf("jobs %v, statuses %v", ids, statuses)
	}
}

func TestRequestAPI_ExportZipDownload(t *testing.T) {
	ts := newServer(t)
	key := reqSeed(ts)
	job := ts.must(201, ts.do(key, "POST", "/v1/tenants/shop/requests", map[string]any{"type": "export_then_anonymize", "origin": "amazon"})).json(t)
	id := job["id"].(string)
	reqRunQueue(ts)
	got := ts.must(200, ts.do(key, "GET", "/v1/tenants/shop/requests/"+id, nil)).json(t)
	if exp, _ := got["export"].(map[string]any); exp["available"] != true {
		t.Fatalf("export not available: %v", got)
	}
	if rc := got["receipt"].(map[string]any)["receipt"].(map[string]any); len(rc["warnings"].([]any)) != 1 {
		t.Errorf("no shipping warning: %v", rc)
	}
	r := ts.must(200, ts.do(key, "GET", "/v1/tenants/shop/requests/"+id+"/export?format=zip", nil))
	if r.header.Get("Content-Type") != "application/zip" {
		t.Fatalf("content type %q", r.header.Get("Content-Type"))
	}
	zr, err := zip.NewReader(bytes.NewReader(r.body), int64(len(r.body)))
	if err != nil {
		t.Fatal(err)
	}
	var names []string
	for _, f := range zr.File {
		names = append(names, f.Name)
	}
	if list := strings.Join(names, " "); !strings.Contains(list, "orders.json") || !strings.Contains(list, "orders.csv") || !strings.Contains(list, "manifest.json") {
		t.Fatalf("zip holds %v", names)
	}
	jr := ts.must(200, ts.do(key, "GET", "/v1/tenants/shop/requests/"+id+"/export?format=json", nil))
	if !bytes.Contains(jr.body, []byte("Erika Mustermann")) {
		t.Fatalf("json export lacks the data as it was before anonymization: %s", jr.body)
	}
	ts.must(422, ts.do(key, "GET", "/v1/tenants/shop/requests/"+id+"/export?format=pdf", nil))
	origins := ts.must(200, ts.do(key, "GET", "/v1/tenants/shop/origins", nil)).json(t)["origins"].([]any)
	active := false
	for _, o := range origins {
		m := o.(map[string]any)
		if m["origin"] == "amazon" && m["active"] == true && m["since"] != nil {
			active = true
		}
	}
	if !active {
		t.Errorf("amazon rule not active: %v", origins)
	}
}

func TestRequestAPI_TenantIsolationAndBadInput(t *testing.T) {
	ts := newServer(t)
	keyA := ts.tenant("a", "erp-marketplace")
	keyB := reqSeed(ts)
	id := ts.must(201, ts.do(keyB, "POST", "/v1/tenants/shop/requests", map[string]any{"type": "export", "scope": "tenant"})).json(t)["id"].(string)
	reqRunQueue(ts)
	for _, p := range []string{"", "/items", "/receipt", "/export"} {
		r := ts.must(403, ts.do(keyA, "GET", "/v1/tenants/shop/requests/"+id+p, nil))
		if bytes.Contains(r.body, []byte("Erika")) {
			t.Errorf("%s: B's data in the refusal", p)
		}
		ts.must(404, ts.do(keyA, "GET", "/v1/tenants/a/requests/"+id+p, nil))
	}
	ts.must(403, ts.do(keyA, "POST", "/v1/tenants/shop/requests", map[string]any{"type": "erase", "scope": "tenant"}))
	ts.must(403, ts.do(keyA, "GET", "/v1/tenants/shop/origins", nil))
	tests := []struct {
		body  string
		field string
	}{
		{`{"subject": {"email": "x@example.com"}}`, "type"},
		{`{"type": "burn", "origin": "amazon"}`, "type"},
		{`{"type": "erase"}`, "scope"},
		{`{"type": "erase", "scope": "galaxy"}`, "scope"},
		{`{"type": "erase", "origin": "amazon", "scope": "tenant"}`, "scope"},
		{`{"type": "erase", "origin": "AMAZON!"}`, "origin"},
		{`{"type": "erase", "subject": {"shoe_size": "42"}}`, "subject.shoe_size"},
		{`{"type": "erase", "subject": {"email": "not-an-email"}}`, "subject.email"},
		{`{"type": "erase", "origin": "amazon", "dry_run": "yes"}`, "dry_run"},
		{`{"type": "erase", "origin": "amazon", "extra": 1}`, "extra"},
	}
	for _, tt := range tests {
		r := ts.must(422, ts.do(keyB, "POST", "/v1/tenants/shop/requests", tt.body))
		if !strings.Contains(string(r.body), `"`+tt.field) {
			t.Errorf("%s: problem does not name %s: %s", tt.body, tt.field, r.body)
		}
	}
}
