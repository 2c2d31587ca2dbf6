package httpapi_test

import (
	"bytes"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/lethe-privacy/lethe/keyring"
)

// TestCanary_RedactedMessageLeavesNoCanary writes a chat message with
// canary PII in its text (e-mail, phone, IP address) into the chatbot
// pack's NLU messages, anonymizes its subject (the text is kept, redacted
// by the pack's operator redact) and redacts ad-hoc texts with the same
// canaries through POST .../redact, by tag and by mask. Afterwards no byte
// of the data folder (database, WAL, shared memory, after a checkpoint and
// after a clean stop) nor of the server's log holds a canary in the clear,
// no sealed value decrypts to one, and neither the record read back nor
// the answers of POST .../redact show one; the redacted text is still
// there, with its tags.
func TestCanary_RedactedMessageLeavesNoCanary(t *testing.T) {
	ctx := t.Context()
	dir := t.TempDir()
	keyPath := filepath.Join(dir, "master.key")
	kek, _, err := keyring.LoadOrCreateKeyFile(keyPath)
	if err != nil {
		t.Fatal(err)
	}
	clock := &canaryClock{t: time.Date(2026, 11, 23, 12, 0, 0, 0, time.UTC)}
	logs := &canaryLog{}
	ts, stop := canaryServer(t, dir, kek, logs, clock)
	cs := newCanarySet(t)
	const tenant = "canary"
	key := ts.tenant(tenant, "chatbot")
	ts.must(200, ts.do(ts.admin, "PUT", "/v1/tenants/"+tenant+"/settings/nlu_messages", map[string]any{"enabled": true}))
	for ts.eng.ReplanStatus(tenant, "nlu_messages").Running {
		time.Sleep(time.Millisecond)
	}

	text := "Hallo, ich heiße Erika Mustermann. Schreiben Sie an " + cs.email + " oder rufen Sie " + cs.phone + " an; meine IP ist " + cs.ip + "."
	const session = "sess-redact-1"
	path := "/v1/tenants/" + tenant + "/collections/nlu_messages/records"
	ts.must(201, ts.do(key, "POST", path, map[string]any{"id": "m1", "fields": map[string]any{
		"session_id": session, "message": text, "classification": "contact_request", "answer": "Wir melden uns unter " + cs.email + ".",
	}}))
	if _, n := canaryOpenSealed(t, dir, kek, tenant, cs.needles(), func(string, ...any) {}); n == 0 {
		t.Fatal("before the anonymization no sealed value decrypts to a canary: the check would find none afterwards either")
	}

	reqPath := "/v1/tenants/" + tenant + "/requests"
	an := ts.must(201, ts.do(key, "POST", reqPath, map[string]any{"type": "anonymize", "subject": map[string]any{"session_id": session}})).json(t)
	canaryRunRequests(t, ts)
	anID, _ := an["id"].(string)
	if got := ts.must(200, ts.do(key, "GET", reqPath+"/"+anID, nil)).json(t); got["state"] != "done" {
		t.Fatalf("anonymize job: %v", got)
	}
	rec := ts.must(200, ts.do(key, "GET", path+"/m1", nil))
	if containsAny(rec.body, cs.needles()) {
		t.Errorf("the anonymized record shows a canary: %s", rec.body)
	}
	want := "Hallo, ich heiße <PERSON>. Schreiben Sie an <EMAIL> oder rufen Sie <PHONE> an; meine IP ist <IP_ADDRESS>."
	if !bytes.Contains(rec.body, []byte(jsonText(want))) {
		t.Errorf("the anonymized record does not hold the redacted text %q: %s", want, rec.body)
	}

	for _, op := range []string{"tag", "mask"} {
		r := ts.must(200, ts.do(key, "POST", "/v1/tenants/"+tenant+"/redact", map[string]any{"text": text, "operator": op}))
		if containsAny(r.body, cs.needles()) {
			t.Errorf("POST .../redact (%s) answers with a canary: %s", op, r.body)
		}
		if got := r.json(t); len(got["findings"].([]any)) != 4 {
			t.Errorf("POST .../redact (%s): findings %v, want 4 (person, e-mail, phone, IP)", op, got["findings"])
		}
	}

	if err := ts.store.Checkpoint(ctx); err != nil {
		t.Fatal(err)
	}
	running := canaryScanDir(t, dir, keyPath, cs.needles(), t.Errorf)
	stop()
	stopped := canaryScanDir(t, dir, keyPath, cs.needles(), t.Errorf)
	logHits := canaryScan("server log", logs.Bytes(), cs.needles(), t.Errorf)
	opened, sealedHits := canaryOpenSealed(t, dir, kek, tenant, cs.needles(), t.Errorf)
	if running.files < 2 || opened == 0 {
		t.Fatalf("scanned only %d files, opened %d sealed values", running.files, opened)
	}
	t.Logf("redaction canary: %d files while running + %d after stop + the log (%d bytes), %d sealed values decrypted; %d hits",
		running.files, stopped.files, len(logs.Bytes()), opened, running.hits+stopped.hits+logHits+sealedHits)
}

// jsonText is s as it appears inside a JSON string: encoding/json escapes
// < and > by default.
func jsonText(s string) string {
	return strings.NewReplacer("<", `\u003c`, ">", `\u003e`).Replace(s)
}
