package httpapi_test

import (
	"bytes"
	"database/sql"
	"io/fs"
	"net/url"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/lethe-privacy/lethe/httpapi"

	_ "modernc.org/sqlite"
)

// canaries are PII values that must never reach the disk in the clear.
var canaries = []string{"Canary-Erika-Zwölf", "canary.person@example.org", "+49 171 5550199", "Canarystraße 77", "CANARY-VOUCHER-123"}

// seedBoth makes tenants a and b with the same record ids and returns a's
// key and b's key.
func seedBoth(t *testing.T, ts *testServer) (keyA, keyB string) {
	keyA = ts.tenant("a", "erp-marketplace", "chatbot")
	keyB = ts.tenant("b", "erp-marketplace", "chatbot")
	for _, k := range []struct{ key, tenant string }{{keyA, "a"}, {keyB, "b"}} {
		ts.must(201, ts.do(k.key, "POST", "/v1/tenants/"+k.tenant+"/collections/orders/records", map[string]any{
			"id": "o-1", "origin": "amazon",
			"fields": map[string]any{"name": canaries[0] + "-" + k.tenant, "email": k.tenant + canaries[1], "telefon": canaries[2], "strasse": canaries[3], "plz": "10115"},
		}))
		ts.must(201, ts.do(k.key, "POST", "/v1/tenants/"+k.tenant+"/collections/voucher_codes/records", map[string]any{
			"id": "v-1", "fields": map[string]any{"code": canaries[4] + k.tenant, "email": k.tenant + canaries[1]},
		}))
	}
	return keyA, keyB
}

func TestAPI_TenantIsolationOnEveryRoute(t *testing.T) {
	ts := newServer(t)
	_, keyB := seedBoth(t, ts)
	// Every role, so that each refusal below is for the tenant alone.
	keyA := ts.key("a", allRoles...)
	bodies := map[string]any{
		"POST":  map[string]any{"fields": map[string]any{"name": "x"}},
		"PUT":   map[string]any{"periods": map[string]any{}},
		"PATCH": map[string]any{"fields": map[string]any{"name": "overwritten"}},
	}
	tested := 0
	for _, rt := range httpapi.Routes() {
		method, pattern, _ := strings.Cut(rt, " ")
		if !strings.Contains(pattern, "{tenant}") && method != "POST" {
			continue
		}
		path := strings.NewReplacer("{tenant}", "b", "{collection}", "orders", "{id}", "o-1").Replace(pattern)
		if strings.Contains(pattern, "/subjects") {
			path += "?email=b" + url.QueryEscape(canaries[1])
		}
		if strings.Contains(pattern, "/stats/") {
			path += "?group_by=plz"
		}
		if pattern == "/healthz" || pattern == "/readyz" || pattern == "/v1/openapi.json" {
			continue
		}
		if strings.HasPrefix(pattern, "/demo/") || pattern == "/v1/tenants/{tenant}/sessions/open" || pattern == "/v1/tenants/{tenant}/sessions/variables" {
			// Public: their credential is a session token, which verifies
			// only under its own tenant's keys (TestSessions_MintVerifyAndRefusals
			// posts another tenant's token to them: 401).
			continue
		}
		r := ts.do(keyA, method, path, bodies[method])
		tested++
		if r.status != 403 {
			t.Errorf("%s %s with tenant a's key: status %d, want 403: %s", method, path, r.status, r.body)
		} else if strings.Contains(pattern, "{tenant}") && !strings.Contains(string(r.body), `does not reach tenant \"b\"`) {
			t.Errorf("%s %s: refused for another reason than the tenant: %s", method, path, r.body)
		}
		for _, c := range canaries {
			if bytes.Contains(r.body, []byte(c)) {
				t.Errorf("%s %s leaked %q", method, path, c)
			}
		}
	}
	if tested < 14 {
		t.Fatalf("only %d routes tested", tested)
	}
	// b's record is unchanged and a's key still works on a.
	r := ts.must(200, ts.do(keyB, "GET", "/v1/tenants/b/collections/orders/records/o-1", nil))
	if !bytes.Contains(r.body, []byte(canaries[0]+"-b")) {
		t.Errorf("b's record changed: %s", r.body)
	}
	ts.must(200, ts.do(keyA, "GET", "/v1/tenants/a/collections/orders/records/o-1", nil))
}

func TestAPI_NoPIIInTheClearOnDisk(t *testing.T) {
	ts := newServer(t)
	keyA, _ := seedBoth(t, ts)
	if err := ts.store.Checkpoint(t.Context()); err != nil {
		t.Fatal(err)
	}
	scanned := 0
	err := filepath.WalkDir(ts.dir, func(p string, d fs.DirEntry, err error) error {
		if err != nil || d.IsDir() {
			return err
		}
		b, err := os.ReadFile(p)
		if err != nil {
			return err
		}
		scanned += len(b)
		for _, c := range canaries {
			for _, form := range []string{c, strings.ToLower(c)} {
				if bytes.Contains(b, []byte(form)) {
					t.Errorf("%s holds %q in the clear", p, form)
				}
			}
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	if scanned < 4096 {
		t.Fatalf("scanned only %d bytes", scanned)
	}
	// The same values are readable through the API.
	r := ts.must(200, ts.do(keyA, "GET", "/v1/tenants/a/collections/orders/records/o-1", nil))
	if !bytes.Contains(r.body, []byte(canaries[3])) {
		t.Fatalf("record does not read back: %s", r.body)
	}
}

// TestAPI_MovedCiphertextDoesNotOpen copies sealed fields between rows
// directly in the database: into another record of the same tenant, and
// tenant b's ciphertext into tenant a's row. Neither opens; the API answers
// an integrity problem without any of the data.
func TestAPI_MovedCiphertextDoesNotOpen(t *testing.T) {
	ts := newServer(t)
	keyA, _ := seedBoth(t, ts)
	ts.must(201, ts.do(keyA, "POST", "/v1/tenants/a/collections/orders/records", map[string]any{
		"id": "o-2", "fields": map[string]any{"name": "Other Person", "email": "other@example.org"}}))
	db, err := sql.Open("sqlite", "file:"+filepath.Join(ts.dir, "lethe.db")+"?_pragma=busy_timeout(5000)")
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	for _, tc := range []struct{ name, fromTenant, fromID, toID string }{
		{"same tenant, other row", "a", "o-1", "o-2"},
		{"tenant b's ciphertext in tenant a's row", "b", "o-1", "o-1"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			res, err := db.Exec(`UPDATE records SET sealed = (SELECT sealed FROM records WHERE tenant = ? AND collection = 'orders' AND id = ?)
				WHERE tenant = 'a' AND collection = 'orders' AND id = ?`, tc.fromTenant, tc.fromID, tc.toID)
			if err != nil {
				t.Fatal(err)
			}
			if n, _ := res.RowsAffected(); n != 1 {
				t.Fatalf("%d rows changed", n)
			}
			r := ts.do(keyA, "GET", "/v1/tenants/a/collections/orders/records/"+tc.toID, nil)
			if r.status != 500 || !strings.Contains(string(r.body), "integrity") {
				t.Fatalf("status %d: %s", r.status, r.body)
			}
			for _, c := range canaries {
				if bytes.Contains(r.body, []byte(c)) {
					t.Errorf("response holds %q", c)
				}
			}
		})
	}
}

func TestAPI_BadInputIsRefusedAndStoresNothing(t *testing.T) {
	ts := newServer(t)
	key := ts.tenant("shop", "erp-marketplace")
	recs := "/v1/tenants/shop/collections/orders/records"
	big := `{"fields":{"name":"` + strings.Repeat("x", 2<<20) + `"}}`
	for _, tc := range []struct {
		name, method, path, body string
		want                     int
		field                    string
	}{
		{"malformed JSON", "POST", recs, `{"fields":`, 400, ""},
		{"not an object", "POST", recs, `[1,2]`, 400, ""},
		{"empty body", "POST", recs, ``, 400, ""},
		{"trailing data", "POST", recs, `{"fields":{}} {}`, 400, ""},
		{"unknown tenant", "POST", "/v1/tenants/nope/collections/orders/records", `{"fields":{}}`, 403, ""},
		{"unknown collection", "POST", "/v1/tenants/shop/collections/nope/records", `{"fields":{}}`, 404, ""},
		{"unknown field", "POST", recs, `{"fields":{"colour":"red"}}`, 422, "fields.colour"},
		{"unknown top-level key", "POST", recs, `{"felds":{}}`, 422, "felds"},
		{"wrong type", "POST", recs, `{"fields":{"name":42}}`, 422, "fields.name"},
		{"wrong type in list", "POST", "/v1/tenants/shop/collections/addresses/records", `{"fields":{"lieferadressen":[{"plz":5}]}}`, 422, "fields.lieferadressen[0].plz"},
		{"bad timestamp", "POST", recs, `{"fields":{"shipped_at":"yesterday"}}`, 422, "fields.shipped_at"},
		{"bad created_at", "POST", recs, `{"created_at":"soon","fields":{}}`, 422, "created_at"},
		{"future created_at", "POST", recs, `{"created_at":"2099-01-01T00:00:00Z","fields":{}}`, 422, "created_at"},
		{"bad id", "POST", recs, `{"id":"a b/c","fields":{}}`, 422, "id"},
		{"bad origin", "POST", recs, `{"origin":"Amazon EU!","fields":{}}`, 422, "origin"},
		{"bad e-mail", "POST", recs, `{"fields":{"email":"not-an-address"}}`, 422, "fields.email"},
		{"batch with one bad record", "POST", recs, `{"records":[{"fields":{"name":"ok"}},{"fields":{"name":1}}]}`, 422, "records[1].fields.name"},
		{"oversized body", "POST", recs, big, 413, ""},
		{"invalid duration", "PUT", "/v1/tenants/shop/settings/orders", `{"periods":{"delete":"ten years"}}`, 422, "periods.delete"},
		{"period not an option", "PUT", "/v1/tenants/shop/settings/orders", `{"periods":{"anonymize":"60d"}}`, 422, "periods.anonymize"},
		{"unknown identifier kind", "GET", "/v1/tenants/shop/subjects?shoe_size=42", ``, 422, "shoe_size"},
		{"bad plan horizon", "GET", "/v1/tenants/shop/plan?until=later", ``, 422, "until"},
		{"stats over a PII field", "GET", "/v1/tenants/shop/stats/orders?group_by=email", ``, 422, "group_by"},
		{"patch without fields", "PATCH", recs + "/x", `{}`, 422, "fields"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			token := key
			if strings.Contains(tc.path, "/settings/") {
				token = ts.admin // settings are the admin's
			}
			r := ts.do(token, tc.method, tc.path, tc.body)
			if r.status != tc.want {
				t.Fatalf("status %d, want %d: %.300s", r.status, tc.want, r.body)
			}
			if ct := r.header.Get("Content-Type"); ct != "application/problem+json" {
				t.Errorf("Content-Type %q", ct)
			}
			p := r.json(t)
			if p["status"] != float64(tc.want) || p["title"] == "" || p["detail"] == nil && tc.want != 401 {
				t.Errorf("problem body: %.300s", r.body)
			}
			if tc.field != "" && !strings.Contains(string(r.body), `"field":"`+tc.field+`"`) {
				t.Errorf("problem does not name field %s: %.300s", tc.field, r.body)
			}
		})
	}
	// Nothing was stored, and the server is healthy.
	r := ts.must(200, ts.do(key, "GET", "/v1/tenants/shop/plan?until=100y", nil))
	if r.json(t)["total"] != float64(0) {
		t.Errorf("something was stored: %s", r.body)
	}
	var n int
	db, _ := sql.Open("sqlite", "file:"+filepath.Join(ts.dir, "lethe.db")+"?mode=ro")
	defer db.Close()
	if err := db.QueryRow(`SELECT count(*) FROM records`).Scan(&n); err != nil || n != 0 {
		t.Errorf("records stored: %d (%v)", n, err)
	}
	ts.must(200, ts.do("", "GET", "/healthz", nil))
}
