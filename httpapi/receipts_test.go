package httpapi_test

import (
	"bytes"
	"testing"

	"github.com/lethe-privacy/lethe/engine"
	"github.com/lethe-privacy/lethe/keyring"
)

// A receipt served by the API verifies with the key set the public route
// answers, fetched without a token; the answer passes the strict OpenAPI
// check (newServer wraps the API in CheckResponses).
func TestReceiptKeysAPI_PublishedKeyVerifiesServedReceipt(t *testing.T) {
	ts := newServer(t)
	key := reqSeed(ts)
	// Before the first receipt the tenant has no signing key: the same
	// empty set as a name that is no tenant.
	before := ts.must(200, ts.do("", "GET", "/v1/receipt-keys?tenant=shop", nil))
	unknown := ts.must(200, ts.do("", "GET", "/v1/receipt-keys?tenant=no-such-tenant", nil))
	if !bytes.Equal(before.body, unknown.body) || !bytes.Equal(bytes.TrimSpace(before.body), []byte(`{"keys":[]}`)) {
		t.Fatalf("before any receipt %s, unknown tenant %s; want the same empty set", before.body, unknown.body)
	}
	job := ts.must(201, ts.do(key, "POST", "/v1/tenants/shop/requests", map[string]any{"type": "erase", "subject": map[string]any{"email": "max@example.com"}})).json(t)
	reqRunQueue(ts)
	receipt := ts.must(200, ts.do(key, "GET", "/v1/tenants/shop/requests/"+job["id"].(string)+"/receipt", nil)).body

	r := ts.must(200, ts.do("", "GET", "/v1/receipt-keys?tenant=shop", nil))
	if ct := r.header.Get("Content-Type"); ct != "application/json" {
		t.Errorf("Content-Type %q", ct)
	}
	set, err := keyring.ParseJWKS(r.body)
	if err != nil || len(set.Keys) != 1 {
		t.Fatalf("key set %s: %v", r.body, err)
	}
	if _, err := engine.VerifyReceiptPublic(receipt, set, "shop"); err != nil {
		t.Fatalf("served receipt with the published key: %v", err)
	}
	// Another tenant's set does not verify it.
	ts.tenant("other", "erp-marketplace")
	if other := ts.must(200, ts.do("", "GET", "/v1/receipt-keys?tenant=other", nil)); bytes.Equal(other.body, r.body) {
		t.Fatalf("tenant other publishes shop's keys: %s", other.body)
	}
}

func TestReceiptKeysAPI_WithoutTenantIsInvalid(t *testing.T) {
	ts := newServer(t)
	r := ts.must(422, ts.do("", "GET", "/v1/receipt-keys", nil))
	if !bytes.Contains(r.body, []byte(`"tenant"`)) {
		t.Fatalf("problem does not name the parameter: %s", r.body)
	}
}
