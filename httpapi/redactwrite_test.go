package httpapi_test

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/lethe-privacy/lethe/keyring"
	"github.com/lethe-privacy/lethe/policy"
)

// TestCanary_RedactedOnWriteMessageLeavesNoCanary creates, over HTTP on
// loopback, a chat message whose text holds a canary e-mail and phone in
// a collection redacted on write (testdata/redact_on_write_policy.yaml).
// The answer and a read show the redacted text and the types found, never
// the values; no file of the data folder holds them in the clear, while
// the sealed findings do decrypt to them (so the scan can see them); the
// e-mail finds the message through GET .../subjects; an erasure by the
// e-mail removes it, and afterwards no sealed value holds a canary either.
func TestCanary_RedactedOnWriteMessageLeavesNoCanary(t *testing.T) {
	ctx := t.Context()
	data, err := os.ReadFile("testdata/redact_on_write_policy.yaml")
	if err != nil {
		t.Fatal(err)
	}
	extra, err := policy.Parse("redact_on_write_policy.yaml", data)
	if err != nil {
		t.Fatal(err)
	}
	dir := t.TempDir()
	keyPath := filepath.Join(dir, "master.key")
	kek, _, err := keyring.LoadOrCreateKeyFile(keyPath)
	if err != nil {
		t.Fatal(err)
	}
	clock := &canaryClock{t: time.Date(2026, 11, 23, 12, 0, 0, 0, time.UTC)}
	logs := &canaryLog{}
	ts, stop := canaryServerWith(t, dir, kek, logs, clock, extra)
	cs := newCanarySet(t)
	const tenant = "chatlog"
	key := ts.tenant(tenant)

	colls := ts.must(200, ts.do(key, "GET", "/v1/tenants/"+tenant+"/collections", nil))
	if !strings.Contains(string(colls.body), `"name":"text","type":"text","pii":true,"redact_on_write":"tag"`) {
		t.Errorf("the collections schema does not say that text is redacted on write: %s", colls.body)
	}
	path := "/v1/tenants/" + tenant + "/collections/chat_messages/records"
	text := "Bitte an " + cs.email + " schreiben oder " + cs.phone + " anrufen."
	want := jsonText("Bitte an <EMAIL> schreiben oder <PHONE> anrufen.")
	created := ts.must(201, ts.do(key, "POST", path, map[string]any{"id": "m1", "fields": map[string]any{"session_id": "s-1", "text": text}}))
	read := ts.must(200, ts.do(key, "GET", path+"/m1", nil))
	for name, r := range map[string][]byte{"create": created.body, "read": read.body} {
		if containsAny(r, cs.needles()) {
			t.Errorf("%s answers with a canary: %s", name, r)
		}
		if !strings.Contains(string(r), want) || !strings.Contains(string(r), `"redacted":{"text":["EMAIL","PHONE"]}`) {
			t.Errorf("%s does not show the redacted text and its types: %s", name, r)
		}
	}

	if err := ts.store.Checkpoint(ctx); err != nil {
		t.Fatal(err)
	}
	if res := canaryScanDir(t, dir, keyPath, cs.needles(), t.Errorf); res.files < 2 {
		t.Fatalf("scanned only %d files", res.files)
	}
	if _, n := canaryOpenSealed(t, dir, kek, tenant, cs.needles(), func(string, ...any) {}); n == 0 {
		t.Fatal("no sealed value decrypts to a canary: the findings are not kept, or the check cannot see them")
	}

	found := ts.must(200, ts.do(key, "GET", "/v1/tenants/"+tenant+"/subjects?email="+strings.ToUpper(cs.email), nil))
	if !strings.Contains(string(found.body), `"id":"m1"`) || containsAny(found.body, cs.needles()) {
		t.Errorf("subject lookup by the e-mail in the text: %s", found.body)
	}

	reqPath := "/v1/tenants/" + tenant + "/requests"
	ts.must(201, ts.do(key, "POST", reqPath, map[string]any{"type": "erase", "subject": map[string]any{"email": cs.email}}))
	canaryRunRequests(t, ts)
	ts.must(404, ts.do(key, "GET", path+"/m1", nil))

	if err := ts.store.Checkpoint(ctx); err != nil {
		t.Fatal(err)
	}
	running := canaryScanDir(t, dir, keyPath, cs.needles(), t.Errorf)
	_, sealedHits := canaryOpenSealed(t, dir, kek, tenant, cs.needles(), t.Errorf)
	stop()
	stopped := canaryScanDir(t, dir, keyPath, cs.needles(), t.Errorf)
	logHits := canaryScan("server log", logs.Bytes(), cs.needles(), t.Errorf)
	t.Logf("redaction on write: %d files while running + %d after stop + the log; %d hits", running.files, stopped.files, running.hits+stopped.hits+sealedHits+logHits)
}
