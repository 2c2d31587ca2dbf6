package engine_test

import (
	"bytes"
	"crypto/rand"
	"encoding/json"
	"errors"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/lethe-privacy/lethe"
	"github.com/lethe-privacy/lethe/engine"
	"github.com/lethe-privacy/lethe/keyring"
	"github.com/lethe-privacy/lethe/policy"
	"github.com/lethe-privacy/lethe/sqlite"
)

// newRedactOnWriteEnv is a test engine whose tenants also use
// testdata/redact_on_write_policy.yaml.
func newRedactOnWriteEnv(t *testing.T) *reqEnvLike {
	t.Helper()
	data, err := os.ReadFile("testdata/redact_on_write_policy.yaml")
	if err != nil {
		t.Fatal(err)
	}
	p, err := policy.Parse("redact_on_write_policy.yaml", data)
	if err != nil {
		t.Fatal(err)
	}
	master := make([]byte, 32)
	rand.Read(master)
	kek, err := keyring.NewFileKEK(master)
	if err != nil {
		t.Fatal(err)
	}
	e := newEnvWith(t, engine.Config{KEK: kek, Extra: p})
	e.tenant("t1")
	return &reqEnvLike{e}
}

type reqEnvLike struct{ *testEnv }

// run submits a request and runs the queue until it is done.
func (e *reqEnvLike) run(in engine.RequestInput) *lethe.Request {
	e.t.Helper()
	job, _, err := e.eng.SubmitRequest(e.ctx, "test", "t1", in)
	if err != nil {
		e.t.Fatalf("submit: %v", err)
	}
	if _, err := e.eng.NewRequestRunner().RunPending(e.ctx); err != nil {
		e.t.Fatalf("run: %v", err)
	}
	if job, err = e.eng.Request(e.ctx, "t1", job.ID); err != nil || job.State != lethe.RequestDone {
		e.t.Fatalf("job: %+v, %v", job, err)
	}
	return job
}

const (
	rowEmail = "erika.canary@example.com"
	rowPhone = "+49 151 23456789"
	rowText  = "Hallo, schreiben Sie an " + rowEmail + " oder rufen Sie " + rowPhone + " an."
	rowWant  = "Hallo, schreiben Sie an <EMAIL> oder rufen Sie <PHONE> an."
)

// A message redacted on write is stored with its text redacted; the
// values found are neither in the row's plain part nor in the store's
// file, but sealed apart; a read shows the text and the types only.
func TestRedactOnWrite_StoresOnlyTheRedactedText(t *testing.T) {
	e := newRedactOnWriteEnv(t)
	d := e.put("t1", "chat_messages", engine.NewRecord{ID: "m1", Fields: map[string]any{
		"session_id": "s-1", "text": rowText, "note": "Rückruf: " + rowPhone,
	}})
	if d.Fields["text"] != rowWant {
		t.Errorf("create answers text %q, want %q", d.Fields["text"], rowWant)
	}
	got := e.get("t1", "chat_messages", "m1")
	if got.Fields["text"] != rowWant || got.Fields["note"] != "Rückruf: *** *** ********" {
		t.Errorf("read: %v, want the redacted texts", got.Fields)
	}
	if want := map[string][]string{"text": {"EMAIL", "PHONE"}, "note": {"PHONE"}}; !equalTypes(got.Redacted, want) {
		t.Errorf("redacted = %v, want %v", got.Redacted, want)
	}
	b, _ := json.Marshal(got)
	if bytes.Contains(b, []byte("canary")) || bytes.Contains(b, []byte("23456789")) {
		t.Errorf("the read shows a found value: %s", b)
	}
	rows := e.rows("t1", "chat_messages")
	if len(rows) != 1 {
		t.Fatalf("%d rows", len(rows))
	}
	if _, ok := rows[0].Sealed["text.~redacted"]; !ok {
		t.Errorf("sealed values %v: the findings of text are not sealed apart", keysOf(rows[0].Sealed))
	}
	if p, _ := json.Marshal(rows[0].Plain); bytes.Contains(p, []byte("canary")) || bytes.Contains(p, []byte("~redacted")) {
		t.Errorf("plain part holds findings: %s", p)
	}
	if st, ok := e.store.(*sqlite.Store); ok {
		if err := st.Checkpoint(e.ctx); err != nil {
			t.Fatal(err)
		}
		files, _ := filepath.Glob(st.Path() + "*")
		for _, f := range files {
			raw, err := os.ReadFile(f)
			if err != nil {
				t.Fatal(err)
			}
			if bytes.Contains(raw, []byte(rowEmail)) || bytes.Contains(raw, []byte("23456789")) {
				t.Errorf("%s holds a found value in the clear", filepath.Base(f))
			}
		}
		if len(files) == 0 {
			t.Fatal("no database file to read")
		}
	}
}

// The e-mail found in the text finds the message; the export holds the
// values found; an erasure by the e-mail removes the message.
func TestRedactOnWrite_SubjectFindsExportsAndErasesTheMessage(t *testing.T) {
	e := newRedactOnWriteEnv(t)
	e.put("t1", "chat_messages", engine.NewRecord{ID: "m1", Fields: map[string]any{"session_id": "s-1", "text": rowText}})
	e.put("t1", "chat_messages", engine.NewRecord{ID: "m2", Fields: map[string]any{"session_id": "s-2", "text": "nichts Persönliches"}})
	docs, err := e.eng.FindSubject(e.ctx, "t1", map[string]string{"email": "ERIKA.Canary@example.com"})
	if err != nil {
		t.Fatal(err)
	}
	if len(docs) != 1 || docs[0].ID != "m1" {
		t.Fatalf("lookup by the e-mail found %d records, want m1", len(docs))
	}
	if docs, err = e.eng.FindSubject(e.ctx, "t1", map[string]string{"phone": "0151 23456789"}); err != nil || len(docs) != 1 {
		t.Fatalf("lookup by the phone: %d records, %v; want 1", len(docs), err)
	}

	exp := e.run(engine.RequestInput{Type: lethe.RequestExport, Subject: map[string]string{"email": rowEmail}})
	x, err := e.eng.OpenExport(e.ctx, "test", "t1", exp.ID, "json")
	if err != nil {
		t.Fatal(err)
	}
	var buf bytes.Buffer
	if err := x.WriteTo(e.ctx, &buf); err != nil {
		t.Fatal(err)
	}
	var whole struct {
		Collections map[string][]engine.ExportDoc `json:"collections"`
	}
	if err := json.Unmarshal(buf.Bytes(), &whole); err != nil {
		t.Fatalf("%v: %s", err, buf.Bytes())
	}
	out := whole.Collections["chat_messages"]
	if len(out) != 1 || out[0].Fields["text"] != rowWant {
		t.Fatalf("export: %s", buf.Bytes())
	}
	// Reached through the e-mail only: the export holds the subject's
	// own identifier, not the phone number in the same text.
	if want := []engine.Found{{Type: "EMAIL", Value: rowEmail}}; !slices.Equal(out[0].Redacted["text"], want) {
		t.Errorf("export findings %v, want %v", out[0].Redacted, want)
	}
	own := e.run(engine.RequestInput{Type: lethe.RequestExport, Subject: map[string]string{"session_id": "s-1"}})
	x, _ = e.eng.OpenExport(e.ctx, "test", "t1", own.ID, "json")
	buf.Reset()
	if err := x.WriteTo(e.ctx, &buf); err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(buf.String(), rowEmail) || !strings.Contains(buf.String(), rowPhone) {
		t.Errorf("export of the writer (session) lacks the values found: %s", buf.Bytes())
	}

	e.run(engine.RequestInput{Type: lethe.RequestErase, Subject: map[string]string{"email": rowEmail}})
	e.gone("t1", "chat_messages", "m1")
	e.get("t1", "chat_messages", "m2")
}

// Anonymization removes the values found and their index entries; the
// redacted text stays.
func TestRedactOnWrite_AnonymizationRemovesTheFindings(t *testing.T) {
	e := newRedactOnWriteEnv(t)
	e.put("t1", "chat_messages", engine.NewRecord{ID: "m1", CreatedAt: testStart, Fields: map[string]any{"session_id": "s-1", "text": rowText}})
	if res := e.sweepAt(testStart.Add(31 * 24 * time.Hour)); res.Anonymized != 1 {
		t.Fatalf("anonymized %d, want 1", res.Anonymized)
	}
	rows := e.rows("t1", "chat_messages")
	if _, ok := rows[0].Sealed["text.~redacted"]; ok || len(rows[0].Subjects) != 0 {
		t.Errorf("after anonymization: sealed %v, subjects %d; want no findings and no index entries", keysOf(rows[0].Sealed), len(rows[0].Subjects))
	}
	d := e.get("t1", "chat_messages", "m1")
	if d.Fields["text"] != rowWant || d.Redacted != nil {
		t.Errorf("anonymized record: %v, redacted %v", d.Fields, d.Redacted)
	}
	docs, err := e.eng.FindSubject(e.ctx, "t1", map[string]string{"email": rowEmail})
	if err != nil || len(docs) != 0 {
		t.Errorf("lookup after anonymization: %d records, %v; want none", len(docs), err)
	}
}

// A patch of the text replaces its findings and index entries; a patch of
// another field keeps them.
func TestRedactOnWrite_PatchReplacesTheFindings(t *testing.T) {
	e := newRedactOnWriteEnv(t)
	e.put("t1", "chat_messages", engine.NewRecord{ID: "m1", Fields: map[string]any{"session_id": "s-1", "text": rowText}})
	ref := lethe.RecordRef{Tenant: "t1", Collection: "chat_messages", ID: "m1"}
	if _, err := e.eng.Patch(e.ctx, ref, map[string]any{"note": "ok"}); err != nil {
		t.Fatal(err)
	}
	if docs, _ := e.eng.FindSubject(e.ctx, "t1", map[string]string{"email": rowEmail}); len(docs) != 1 {
		t.Errorf("after a patch of another field the e-mail finds %d records, want 1", len(docs))
	}
	d, err := e.eng.Patch(e.ctx, ref, map[string]any{"text": "neu: max@example.org"})
	if err != nil {
		t.Fatal(err)
	}
	if d.Fields["text"] != "neu: <EMAIL>" || !equalTypes(d.Redacted, map[string][]string{"text": {"EMAIL"}}) {
		t.Errorf("patched: %v %v", d.Fields, d.Redacted)
	}
	if docs, _ := e.eng.FindSubject(e.ctx, "t1", map[string]string{"email": rowEmail}); len(docs) != 0 {
		t.Errorf("the old e-mail still finds %d records", len(docs))
	}
	if docs, _ := e.eng.FindSubject(e.ctx, "t1", map[string]string{"email": "max@example.org"}); len(docs) != 1 {
		t.Errorf("the new e-mail finds %d records, want 1", len(docs))
	}
}

func equalTypes(got, want map[string][]string) bool {
	if len(got) != len(want) {
		return false
	}
	for k, v := range want {
		if !slices.Equal(got[k], v) {
			return false
		}
	}
	return true
}

func keysOf(m map[string][]byte) []string {
	out := make([]string, 0, len(m))
	for k := range m {
		out = append(out, k)
	}
	slices.Sort(out)
	return out
}

// A client cannot write findings of its own: the reserved name is no
// field of the collection.
func TestRedactOnWrite_RefusesFindingsFromTheClient(t *testing.T) {
	e := newRedactOnWriteEnv(t)
	_, err := e.eng.Put(e.ctx, "t1", "chat_messages", []engine.NewRecord{{Fields: map[string]any{
		"text": "hallo", "text.~redacted": []any{map[string]any{"type": "EMAIL", "value": "someone@example.com"}},
	}}})
	if !errors.Is(err, lethe.ErrInvalid) {
		t.Fatalf("put with findings: %v, want ErrInvalid", err)
	}
	if docs, _ := e.eng.FindSubject(e.ctx, "t1", map[string]string{"email": "someone@example.com"}); len(docs) != 0 {
		t.Errorf("an injected finding is indexed: %d records", len(docs))
	}
}
