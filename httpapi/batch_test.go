package httpapi_test

import (
	"encoding/json"
	"strings"
	"testing"
)

// TestBatch_AnswersIDsAndPlansNotRecords checks that a batch create
// answers each record's id, state and plan in the order sent, without the
// fields (personal data) sent back; that ?echo=true answers the records
// as before; and that a single create still answers the record.
func TestBatch_AnswersIDsAndPlansNotRecords(t *testing.T) {
	ts := newServer(t)
	key := ts.tenant("shop", "erp-marketplace")
	path := "/v1/tenants/shop/collections/orders/records"
	batch := func(ids ...string) map[string]any {
		var recs []any
		for _, id := range ids {
			recs = append(recs, map[string]any{"id": id, "origin": "amazon", "fields": map[string]any{"name": "Erika " + id, "email": id + "@example.com"}})
		}
		return map[string]any{"records": recs}
	}

	r := ts.must(201, ts.do(key, "POST", path, batch("B-2", "B-1")))
	if strings.Contains(string(r.body), "Erika") || strings.Contains(string(r.body), "example.com") {
		t.Errorf("batch answer carries personal data: %s", r.body)
	}
	var got struct {
		Records []map[string]json.RawMessage `json:"records"`
	}
	if err := json.Unmarshal(r.body, &got); err != nil {
		t.Fatal(err)
	}
	if len(got.Records) != 2 {
		t.Fatalf("batch answer: %s", r.body)
	}
	single := ts.must(201, ts.do(key, "POST", path, map[string]any{"id": "S-1", "fields": map[string]any{"name": "Erika"}})).json(t)
	for i, want := range []string{"B-2", "B-1"} {
		rec := got.Records[i]
		var keys []string
		for k := range rec {
			keys = append(keys, k)
		}
		if len(rec) != 3 || string(rec["id"]) != `"`+want+`"` || string(rec["state"]) != `"active"` {
			t.Errorf("records[%d] = %s, want id %s, state and plan only (keys %v)", i, r.body, want, keys)
		}
		// The plan has the single create's shape.
		var plan map[string]any
		if err := json.Unmarshal(rec["plan"], &plan); err != nil {
			t.Fatalf("records[%d].plan: %v", i, err)
		}
		sp := single["plan"].(map[string]any)
		if plan["action"] != sp["action"] || plan["rule"] != sp["rule"] || plan["due_at"] != sp["due_at"] || len(plan) != len(sp) {
			t.Errorf("records[%d].plan = %v, want the single create's %v", i, plan, sp)
		}
	}
	if single["fields"].(map[string]any)["name"] != "Erika" {
		t.Errorf("a single create answers the record: %v", single)
	}

	r = ts.must(201, ts.do(key, "POST", path+"?echo=true", batch("E-1")))
	recs := r.json(t)["records"].([]any)
	if len(recs) != 1 || recs[0].(map[string]any)["fields"].(map[string]any)["name"] != "Erika E-1" ||
		recs[0].(map[string]any)["collection"] != "orders" {
		t.Errorf("?echo=true answers the records: %s", r.body)
	}
	r = ts.must(201, ts.do(key, "POST", path+"?echo=false", batch("F-1")))
	if strings.Contains(string(r.body), "Erika") {
		t.Errorf("?echo=false sends the records back: %s", r.body)
	}
	r = ts.must(422, ts.do(key, "POST", path+"?echo=yes", batch("G-1")))
	if !strings.Contains(string(r.body), `"field":"echo"`) {
		t.Errorf("?echo=yes: %s", r.body)
	}
	ts.must(404, ts.do(key, "GET", path+"/G-1", nil))
}
