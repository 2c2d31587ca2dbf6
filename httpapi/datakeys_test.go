package httpapi_test

import (
	"testing"
	"time"
)

// TestDataKeys_RotateThroughTheAPIRewrapsInTheBackground: the rotation
// answers 202 at once; the status route then shows the rewrap's progress
// until every value is on the new version, and the records read as before.
func TestDataKeys_RotateThroughTheAPIRewrapsInTheBackground(t *testing.T) {
	ts := newServer(t)
	key := reqSeed(ts)
	before := ts.must(200, ts.do(ts.admin, "GET", "/v1/tenants/shop/data-keys", nil)).json(t)
	if vs := before["versions"].([]any); len(vs) != 1 || vs[0].(map[string]any)["values"].(float64) < 4 {
		t.Fatalf("before: %v", before)
	}
	r := ts.must(202, ts.do(ts.admin, "POST", "/v1/tenants/shop/data-keys/rotate", nil)).json(t)
	if r["rewrap"].(map[string]any)["target"] != "2" {
		t.Fatalf("rotate: %v", r)
	}
	deadline := time.Now().Add(20 * time.Second)
	for {
		st := ts.must(200, ts.do(ts.admin, "GET", "/v1/tenants/shop/data-keys", nil)).json(t)
		vs := st["versions"].([]any)
		old, cur := vs[0].(map[string]any), vs[len(vs)-1].(map[string]any)
		if st["rewrap"].(map[string]any)["state"] == "done" {
			if len(vs) != 2 || old["values"].(float64) != 0 || old["retired"] != true || cur["current"] != true || cur["values"].(float64) < 4 {
				t.Fatalf("after the rewrap: %v", st)
			}
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("rewrap not done after 20 s: %v", st)
		}
		time.Sleep(50 * time.Millisecond)
	}
	got := ts.must(200, ts.do(key, "GET", "/v1/tenants/shop/collections/orders/records/A-1", nil)).json(t)
	if got["fields"].(map[string]any)["email"] != "erika@example.com" {
		t.Fatalf("A-1 after the rewrap: %v", got)
	}
	m := ts.must(200, ts.do(ts.admin, "GET", "/v1/master-key", nil)).json(t)
	if vs := m["versions"].([]any); len(vs) != 1 || vs[0].(map[string]any)["current"] != true || vs[0].(map[string]any)["wrapped_keys"].(float64) < 3 {
		t.Fatalf("master key: %v", m)
	}
	ts.must(403, ts.do(key, "GET", "/v1/tenants/shop/data-keys", nil))
	ts.must(404, ts.do(ts.admin, "GET", "/v1/tenants/nobody/data-keys", nil))
}
