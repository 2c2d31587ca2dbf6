package httpapi_test

import (
	"testing"
)

func TestAPI_TenantPhoneRegion(t *testing.T) {
	ts := newServer(t)
	r := ts.must(201, ts.do(ts.admin, "POST", "/v1/tenants", map[string]any{"id": "nl", "packs": []string{"erp-marketplace"}, "phone_region": "NL"}))
	if got := r.json(t)["phone_region"]; got != "NL" {
		t.Fatalf("created tenant: %s", r.body)
	}
	key := ts.key("nl", "admin", "reader", "writer") // the region is the admin's

	conv := ts.tenant("conv", "conversations")
	if got := ts.must(200, ts.do(conv, "GET", "/v1/tenants/conv", nil)).json(t)["phone_region"]; got != "BE" {
		t.Errorf("region of a conversations tenant = %v, want the pack's BE", got)
	}

	ts.must(201, ts.do(key, "POST", "/v1/tenants/nl/collections/orders/records",
		map[string]any{"id": "A-1", "fields": map[string]any{"name": "Eva de Vries", "telefon": "06 12345678"}}))
	r = ts.must(200, ts.do(key, "GET", "/v1/tenants/nl/subjects?phone=%2B31612345678", nil))
	if recs, _ := r.json(t)["records"].([]any); len(recs) != 1 {
		t.Fatalf("lookup of +31612345678 in NL: %s", r.body)
	}

	r = ts.must(200, ts.do(key, "PATCH", "/v1/tenants/nl", map[string]any{"phone_region": "BE"}))
	if got := r.json(t)["phone_region"]; got != "BE" {
		t.Fatalf("PATCH answer: %s", r.body)
	}
	if got := ts.must(200, ts.do(key, "GET", "/v1/tenants/nl", nil)).json(t)["phone_region"]; got != "BE" {
		t.Errorf("GET after PATCH: region %v, want BE", got)
	}
	// Stored numbers keep their hash: the E.164 form still finds them.
	r = ts.must(200, ts.do(key, "GET", "/v1/tenants/nl/subjects?phone=%2B31612345678", nil))
	if recs, _ := r.json(t)["records"].([]any); len(recs) != 1 {
		t.Errorf("lookup of +31612345678 after the move to BE: %s", r.body)
	}

	for _, bad := range []any{"XX", "nl", "", 31} {
		r := ts.must(422, ts.do(key, "PATCH", "/v1/tenants/nl", map[string]any{"phone_region": bad}))
		if f := problemFields(t, r); len(f) != 1 || f["phone_region"] == "" {
			t.Errorf("phone_region %v: errors %v, want one on phone_region", bad, f)
		}
	}
	ts.must(422, ts.do(ts.admin, "POST", "/v1/tenants", map[string]any{"id": "zz", "packs": []string{"chatbot"}, "phone_region": "ZZ"}))
	ts.must(404, ts.do(ts.admin, "GET", "/v1/tenants/zz", nil))
	ts.must(422, ts.do(key, "PATCH", "/v1/tenants/nl", map[string]any{"region": "NL"}))
	ts.must(403, ts.do(ts.key("conv", "admin"), "PATCH", "/v1/tenants/nl", map[string]any{"phone_region": "DE"}))
	ts.must(404, ts.do(ts.admin, "PATCH", "/v1/tenants/nobody", map[string]any{"phone_region": "DE"}))
	if got := ts.must(200, ts.do(key, "GET", "/v1/tenants/nl", nil)).json(t)["phone_region"]; got != "BE" {
		t.Errorf("region after refused changes = %v, want BE", got)
	}
}
