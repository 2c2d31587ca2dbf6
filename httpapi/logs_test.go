package httpapi_test

import (
	"encoding/json"
	"fmt"
	"strings"
	"testing"
)

// logPage is the answer of GET .../logs/{log}.
type logPage struct {
	Entries []struct {
		Seq   int64          `json:"seq"`
		Actor string         `json:"actor"`
		Event string         `json:"event"`
		Data  map[string]any `json:"data"`
	} `json:"entries"`
	Next *int64 `json:"next_after_seq"`
}

func (ts *testServer) logPage(token, path string) logPage {
	ts.t.Helper()
	r := ts.must(200, ts.do(token, "GET", path, nil))
	var p logPage
	if err := json.Unmarshal(r.body, &p); err != nil {
		ts.t.Fatal(err)
	}
	return p
}

func TestLogs_ReadsAndAuthenticationsAreLoggedAndQueryable(t *testing.T) {
	ts := newSuperuserServer(t) // the system log is read with the admin token
	key := ts.tenant("shop", "chatbot")
	aud := ts.key("shop", "auditor")
	r := ts.must(201, ts.do(key, "POST", "/v1/tenants/shop/collections/runtime_log/records",
		map[string]any{"fields": map[string]any{"event": "x", "email": "api-canary@example.org"}}))
	id, _ := r.json(t)["id"].(string)
	ts.must(200, ts.do(key, "GET", "/v1/tenants/shop/collections/runtime_log/records/"+id, nil))
	ts.must(401, ts.do("lk_aaaaaaaaaaaa_wrongsecret", "GET", "/v1/tenants/shop", nil))

	m := ts.logPage(aud, "/v1/tenants/shop/logs/manager?event=record.read")
	if len(m.Entries) != 1 {
		t.Fatalf("manager log has %d record.read entries, want 1", len(m.Entries))
	}
	sealed, _ := m.Entries[0].Data["sealed"].(map[string]any)
	if sealed["ip"] != "127.0.0.1" || !strings.HasPrefix(m.Entries[0].Actor, "key:") {
		t.Fatalf("read entry %+v: want the key as actor and the caller's address decrypted", m.Entries[0])
	}
	sec := ts.logPage(aud, "/v1/tenants/shop/logs/security?event=auth.success")
	if len(sec.Entries) < 2 || sec.Entries[0].Data["ip"] != "127.0.0.1" {
		t.Fatalf("auth.success entries: %+v", sec.Entries)
	}
	fail := ts.logPage(ts.admin, "/v1/tenants/_system/logs/security?event=auth.failure")
	if len(fail.Entries) != 1 || fail.Entries[0].Actor != "key:aaaaaaaaaaaa" {
		t.Fatalf("auth.failure entries: %+v", fail.Entries)
	}
	// A tenant key does not reach the system logs.
	ts.must(403, ts.do(aud, "GET", "/v1/tenants/_system/logs/security", nil))
}

func TestLogs_PagesWithACursor(t *testing.T) {
	ts := newServer(t)
	key := ts.tenant("shop", "chatbot")
	for range 4 {
		ts.must(200, ts.do(key, "GET", "/v1/tenants/shop", nil))
	}
	key = ts.key("shop", "auditor")
	var seqs []int64
	path := "/v1/tenants/shop/logs/security?limit=2"
	for range 10 {
		p := ts.logPage(key, path)
		for _, e := range p.Entries {
			seqs = append(seqs, e.Seq)
		}
		if p.Next == nil {
			break
		}
		path = fmt.Sprintf("/v1/tenants/shop/logs/security?limit=2&after_seq=%d", *p.Next)
	}
	for i, s := range seqs {
		if s != int64(i+1) {
			t.Fatalf("paged seqs %v: not 1..n without gaps", seqs)
		}
	}
	if len(seqs) < 6 {
		t.Fatalf("paged %d entries, want at least 6 (tenant, key, 4 logins and more)", len(seqs))
	}
}

func TestLogs_RejectsBadQueries(t *testing.T) {
	ts := newServer(t)
	ts.tenant("shop", "chatbot")
	key := ts.key("shop", "auditor")
	for _, q := range []string{"/logs/nope", "/logs/manager?limit=1001", "/logs/manager?from=yesterday", "/logs/manager?after_seq=-3"} {
		r := ts.do(key, "GET", "/v1/tenants/shop"+q, nil)
		if r.status != 400 && r.status != 422 {
			t.Errorf("%s: status %d, want 400 or 422: %s", q, r.status, r.body)
		}
	}
}
