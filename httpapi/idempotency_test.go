package httpapi_test

import (
	"bytes"
	"encoding/json"
	"io"
	"io/fs"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/lethe-privacy/lethe/engine"
)

// post sends a JSON body with an Idempotency-Key.
func (ts *testServer) post(token, path, key, body string) response {
	ts.t.Helper()
	req, err := http.NewRequest("POST", ts.url+path, strings.NewReader(body))
	if err != nil {
		ts.t.Fatal(err)
	}
	req.Header.Set("Authorization", "Bearer "+token)
	req.Header.Set("Content-Type", "application/json")
	if key != "" {
		req.Header.Set("Idempotency-Key", key)
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

// problemField returns the field the first error of a problem names.
func problemField(t *testing.T, r response) string {
	t.Helper()
	errs, _ := r.json(t)["errors"].([]any)
	if len(errs) == 0 {
		return ""
	}
	return errs[0].(map[string]any)["field"].(string)
}

const ordersPath = "/v1/tenants/shop/collections/orders/records"

// orderCount counts the tenant's orders through the listing.
func (ts *testServer) orderCount(key string) int {
	ts.t.Helper()
	ids, _ := ts.pageAll(key, ordersPath+"?limit=1000", "records")
	return len(ids)
}

func TestIdempotency_RetryGetsTheFirstAnswerAndRunsOnce(t *testing.T) {
	ts := newServer(t)
	key := ts.tenant("shop", "erp-marketplace")
	body := `{"origin":"amazon","fields":{"name":"Erika Mustermann","email":"erika@example.com"}}`
	first := ts.must(201, ts.post(key, ordersPath, "k-1", body))
	if first.header.Get("Idempotent-Replayed") != "" {
		t.Fatal("a first answer is marked replayed")
	}
	again := ts.must(201, ts.post(key, ordersPath, "k-1", body))
	if !bytes.Equal(again.body, first.body) || again.header.Get("Location") != first.header.Get("Location") ||
		again.header.Get("Content-Type") != first.header.Get("Content-Type") {
		t.Fatalf("replay differs:\nfirst %s %v\nagain %s %v", first.body, first.header, again.body, again.header)
	}
	if again.header.Get("Idempotent-Replayed") != "true" {
		t.Fatalf("replay not marked: %v", again.header)
	}
	if n := ts.orderCount(key); n != 1 {
		t.Fatalf("%d orders after a retry, want 1", n)
	}

	// The same key with another body, path or method is refused.
	for _, c := range []struct{ path, body string }{
		{ordersPath, `{"origin":"amazon","fields":{"name":"Erika Musterfrau"}}`},
		{"/v1/tenants/shop/collections/invoices/records", body},
	} {
		r := ts.must(422, ts.post(key, c.path, "k-1", c.body))
		if f := problemField(t, r); f != "Idempotency-Key" || !strings.Contains(string(r.body), "another request") {
			t.Fatalf("reuse: %s", r.body)
		}
	}
	// Another principal's key space is its own: a second key's k-1 runs.
	ts.must(201, ts.post(ts.key("shop", "writer"), ordersPath, "k-1", body))
	// Without a key, or with a new one, a request runs again.
	ts.must(201, ts.post(key, ordersPath, "", body))
	ts.must(201, ts.post(key, ordersPath, "k-2", body))
	if n := ts.orderCount(key); n != 4 {
		t.Fatalf("%d orders, want 4", n)
	}
}

func TestIdempotency_FailedRequestIsNotKept(t *testing.T) {
	ts := newServer(t)
	key := ts.tenant("shop", "erp-marketplace")
	ts.must(422, ts.post(key, ordersPath, "k", `{"fields":{"nope":1}}`))
	ts.must(400, ts.post(key, ordersPath, "k", `{"fields":`))
	ts.must(201, ts.post(key, ordersPath, "k", `{"id":"A-1","fields":{"name":"X"}}`))
	ts.must(201, ts.post(key, ordersPath, "k", `{"id":"A-1","fields":{"name":"X"}}`))
	// Bad keys are refused before anything runs.
	for _, k := range []string{"with space", strings.Repeat("x", 256), "ümlaut"} {
		r := ts.must(422, ts.post(key, ordersPath, k, `{"fields":{"name":"Y"}}`))
		if f := problemField(t, r); f != "Idempotency-Key" {
			t.Fatalf("key %q: %s", k, r.body)
		}
	}
	if n := ts.orderCount(key); n != 1 {
		t.Fatalf("%d orders, want 1", n)
	}
}

func TestIdempotency_ConcurrentDuplicatesRunOnce(t *testing.T) {
	ts := newServer(t)
	key := ts.tenant("shop", "erp-marketplace")
	// A batch big enough that the duplicates arrive while it runs.
	var recs []string
	for range 500 {
		recs = append(recs, `{"fields":{"name":"Erika Mustermann","email":"erika@example.com"}}`)
	}
	body := `{"records":[` + strings.Join(recs, ",") + `]}`
	const n = 8
	res := make([]response, n)
	var wg sync.WaitGroup
	for i := range n {
		wg.Add(1)
		go func() {
			defer wg.Done()
			res[i] = ts.post(key, ordersPath, "batch-1", body)
		}()
	}
	wg.Wait()
	var created []byte
	statuses := map[int]int{}
	for _, r := range res {
		statuses[r.status]++
		switch r.status {
		case 201:
			if created != nil && !bytes.Equal(created, r.body) {
				t.Fatal("two different 201 answers")
			}
			created = r.body
		case 409:
			if !strings.Contains(string(r.body), "in progress") {
				t.Fatalf("409: %s", r.body)
			}
		default:
			t.Fatalf("status %d: %s", r.status, r.body)
		}
	}
	if created == nil {
		t.Fatal("no request created the batch")
	}
	t.Logf("answers by status: %v", statuses)
	if got := ts.orderCount(key); got != 500 {
		t.Fatalf("%d orders, want 500 (one batch)", got)
	}
}

func TestIdempotency_RequestInProgressKeepsTheRetryOut(t *testing.T) {
	ts := newServer(t)
	ts.tenant("shop", "erp-marketplace")
	writer := ts.key("shop", "writer")
	body := `{"fields":{"name":"X"}}`
	// A request of the writer that has begun and not answered yet.
	call, kept, err := ts.eng.BeginIdempotent(t.Context(), engine.IdempotentRequest{
		Tenant: "shop", Principal: "key:" + strings.Split(writer, "_")[1], Key: "k", Method: "POST", Path: ordersPath, Body: []byte(body)})
	if err != nil || call == nil || kept != nil {
		t.Fatalf("BeginIdempotent: %v %v %v", call, kept, err)
	}
	r := ts.must(409, ts.post(writer, ordersPath, "k", body))
	if !strings.Contains(string(r.body), "a request with this Idempotency-Key is in progress") {
		t.Fatalf("in progress: %s", r.body)
	}
	// Another body is refused as such even while the first runs.
	ts.must(422, ts.post(writer, ordersPath, "k", `{"fields":{"name":"Y"}}`))
	// A request that outlives its lock (its server died) lets the retry run.
	*ts.now = ts.now.Add(16 * time.Minute)
	ts.must(201, ts.post(writer, ordersPath, "k", body))
	if err := call.Finish(t.Context(), engine.Answer{Status: 201}); err == nil {
		t.Fatal("the stale request kept its answer over the retry's")
	}
}

func TestIdempotency_AnswersExpireAfter24Hours(t *testing.T) {
	ts := newServer(t)
	key := ts.tenant("shop", "erp-marketplace")
	body := `{"fields":{"name":"X"}}`
	first := ts.must(201, ts.post(key, ordersPath, "k", body))
	*ts.now = ts.now.Add(24*time.Hour - time.Millisecond)
	if r := ts.must(201, ts.post(key, ordersPath, "k", body)); !bytes.Equal(r.body, first.body) {
		t.Fatal("not replayed within 24 hours")
	}
	*ts.now = ts.now.Add(time.Millisecond)
	// Expired, not yet deleted: never replayed.
	second := ts.must(201, ts.post(key, ordersPath, "k", body))
	if bytes.Equal(second.body, first.body) || second.header.Get("Idempotent-Replayed") != "" {
		t.Fatal("an expired answer was replayed")
	}
	if n := ts.orderCount(key); n != 2 {
		t.Fatalf("%d orders, want 2", n)
	}
	// The sweep deletes expired entries.
	*ts.now = ts.now.Add(24 * time.Hour)
	if _, err := ts.eng.Sweep(t.Context()); err != nil {
		t.Fatal(err)
	}
	if n, err := ts.eng.DeleteExpiredIdempotency(t.Context()); err != nil || n != 0 {
		t.Fatalf("after a sweep %d expired entries are left (%v), want 0", n, err)
	}
}

func TestIdempotency_AdminRoutesWithoutTenantReplaySealed(t *testing.T) {
	ts := newServer(t)
	body := `{"id":"shop","packs":["erp-marketplace"]}`
	first := ts.must(201, ts.post(ts.admin, "/v1/tenants", "t-1", body))
	again := ts.must(201, ts.post(ts.admin, "/v1/tenants", "t-1", body))
	if !bytes.Equal(first.body, again.body) || again.header.Get("Idempotent-Replayed") != "true" {
		t.Fatalf("tenant creation not replayed: %s / %s", first.body, again.body)
	}
	ts.must(200, ts.post(ts.admin, "/v1/sweeps", "s-1", ""))
	if r := ts.must(200, ts.post(ts.admin, "/v1/sweeps", "s-1", "")); r.header.Get("Idempotent-Replayed") != "true" {
		t.Fatal("sweep not replayed")
	}

	// A new API key's secret is never kept: the header is refused there,
	// so that nobody counts on a retry not making a second key.
	if r := ts.post(ts.admin, "/v1/tenants/shop/keys", "key-1", ""); r.status != 422 || !strings.Contains(string(r.body), "Idempotency-Key") {
		t.Fatalf("key creation with an Idempotency-Key: %d %s", r.status, r.body)
	}
	k1 := ts.must(201, ts.post(ts.admin, "/v1/tenants/shop/keys", "", ""))
	var got struct{ Key string }
	if err := json.Unmarshal(k1.body, &got); err != nil || got.Key == "" {
		t.Fatalf("key: %s", k1.body)
	}
	// A kept record answer holds no personal data: a replay after the
	// record was deleted brings none of it back.
	const canary = "Zyprian Quastenflosser"
	first = ts.must(201, ts.post(got.Key, ordersPath, "r-1", `{"id":"o-canary","fields":{"name":"`+canary+`"}}`))
	if strings.Contains(string(first.body), canary) || !strings.Contains(string(first.body), `"id":"o-canary"`) {
		t.Fatalf("a kept create answer: %s", first.body)
	}
	ts.must(204, ts.do(got.Key, "DELETE", ordersPath+"/o-canary", nil))
	again = ts.must(201, ts.post(got.Key, ordersPath, "r-1", `{"id":"o-canary","fields":{"name":"`+canary+`"}}`))
	if !bytes.Equal(first.body, again.body) || again.header.Get("Idempotent-Replayed") != "true" {
		t.Fatalf("create replay: %s / %s", first.body, again.body)
	}
	if r := ts.post(got.Key, ordersPath+"?echo=true", "r-2", `{"records":[{"fields":{"name":"x"}}]}`); r.status != 422 {
		t.Errorf("echo=true with an Idempotency-Key: %d %s", r.status, r.body)
	}
	if err := ts.store.Checkpoint(t.Context()); err != nil {
		t.Fatal(err)
	}
	secret := got.Key[strings.LastIndex(got.Key, "_")+1:]
	err := filepath.WalkDir(ts.dir, func(p string, d fs.DirEntry, err error) error {
		if err != nil || d.IsDir() {
			return err
		}
		b, err := os.ReadFile(p)
		if err != nil {
			return err
		}
		for _, s := range []string{canary, secret} {
			if bytes.Contains(b, []byte(s)) {
				t.Errorf("%s holds %q in the clear", p, s)
			}
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
}

func TestIdempotency_EveryPostDocumentsTheHeader(t *testing.T) {
	ts := newServer(t)
	r := ts.must(200, ts.do("", "GET", "/v1/openapi.json", nil))
	var doc struct {
		Paths map[string]map[string]struct {
			Parameters []map[string]any `json:"parameters"`
			Responses  map[string]any   `json:"responses"`
		} `json:"paths"`
		Components struct {
			Parameters map[string]map[string]any `json:"parameters"`
		} `json:"components"`
	}
	if err := json.Unmarshal(r.body, &doc); err != nil {
		t.Fatal(err)
	}
	if p := doc.Components.Parameters["IdempotencyKey"]; p["name"] != "Idempotency-Key" || p["in"] != "header" {
		t.Fatalf("parameter: %v", p)
	}
	// Answers of these POSTs are never kept (httpapi/idempotency.go,
	// notKept): a read, a new key's secret, and the session routes (a
	// token holds sealed personal data; the chat's calls repeat safely).
	notKept := map[string]bool{"/v1/tenants/{tenant}/subjects/search": true, "/v1/tenants/{tenant}/keys": true,
		"/v1/tenants/{tenant}/sessions": true, "/v1/tenants/{tenant}/sessions/verify": true,
		"/v1/tenants/{tenant}/sessions/open": true, "/v1/tenants/{tenant}/sessions/variables": true}
	posts := 0
	for path, ops := range doc.Paths {
		for method, op := range ops {
			if method == "post" && notKept[path] {
				continue
			}
			has := false
			for _, p := range op.Parameters {
				has = has || p["$ref"] == "#/components/parameters/IdempotencyKey"
			}
			if has != (method == "post") {
				t.Errorf("%s %s: Idempotency-Key documented %v", method, path, has)
			}
			if method == "post" {
				posts++
				if op.Responses["409"] == nil || op.Responses["422"] == nil {
					t.Errorf("POST %s documents no 409 or 422", path)
				}
			}
		}
	}
	if posts < 4 {
		t.Fatalf("only %d POSTs documented", posts)
	}
}
