package console_test

import (
	"context"
	"encoding/json"
	"net/http"
	"net/url"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/lethe-privacy/lethe"
	"github.com/lethe-privacy/lethe/engine"
)

var requestPath = regexp.MustCompile(`^/console/t/acme/requests/([^/]+)$`)

// waitDone polls the request page until the job has finished.
func waitDone(t *testing.T, s *stack, c *http.Client, path string) string {
	t.Helper()
	deadline := time.Now().Add(20 * time.Second)
	for {
		_, body := s.get(c, path)
		if strings.Contains(body, `<strong id="state">done</strong>`) {
			return body
		}
		if time.Now().After(deadline) {
			t.Fatalf("request did not finish:\n%s", body)
		}
		time.Sleep(50 * time.Millisecond)
	}
}

func TestSubjects_PreviewEraseReceiptAndExport(t *testing.T) {
	s := newStack(t)
	ctx := context.Background()
	docs, err := s.eng.Put(ctx, "acme", "orders", []engine.NewRecord{
		{CreatedAt: s.now, Fields: map[string]any{"belegnr": "AU-1", "name": "Erika Mustermann", "email": "erika@example.org"}},
		{CreatedAt: s.now, Fields: map[string]any{"belegnr": "AU-2", "name": "Erika Mustermann", "email": "Erika@Example.org"}},
		{CreatedAt: s.now, Fields: map[string]any{"belegnr": "AU-3", "name": "Max Muster", "email": "max@example.org"}},
	})
	if err != nil {
		t.Fatal(err)
	}
	mia := s.signedIn("mia")
	_, page := s.get(mia, "/console/t/acme/subjects")
	tok := csrfOf(t, page)
	if !strings.Contains(page, `<option value="email"`) {
		t.Fatalf("subject page offers no e-mail lookup:\n%s", page)
	}
	form := func(op, typ string) url.Values {
		return url.Values{"csrf": {tok}, "kind": {"email"}, "value": {"erika@example.org"}, "op": {op}, "type": {typ},
			"previewed": {typ + "|email|erika@example.org"}}
	}
	resp, err := mia.PostForm(s.srv.URL+"/console/t/acme/subjects", form("find", ""))
	if err != nil {
		t.Fatal(err)
	}
	body := readAll(t, resp)
	if resp.StatusCode != 200 || !strings.Contains(body, "2 records found") || !strings.Contains(body, docs[0].ID) || strings.Contains(body, docs[2].ID) ||
		strings.Contains(body, `id="run"`) {
		t.Fatalf("lookup: %d\n%s", resp.StatusCode, body)
	}

	// Dry run first: counts, nothing erased, then the button to run it.
	resp, err = mia.PostForm(s.srv.URL+"/console/t/acme/subjects", form("preview", "erase"))
	if err != nil {
		t.Fatal(err)
	}
	body = readAll(t, resp)
	if !strings.Contains(body, "Dry run of erase") || !strings.Contains(body, "<td>orders</td><td>delete</td><td>2</td>") || !strings.Contains(body, `id="run"`) {
		t.Fatalf("preview:\n%s", body)
	}
	if _, err := s.eng.Get(ctx, lethe.RecordRef{Tenant: "acme", Collection: "orders", ID: docs[0].ID}); err != nil {
		t.Fatalf("the dry run erased: %v", err)
	}

	// Run refuses what was not previewed: another type, another person.
	for _, bad := range []string{"anonymize|email|erika@example.org", "erase|email|max@example.org", ""} {
		f := form("run", "erase")
		f.Set("previewed", bad)
		resp, err := mia.PostForm(s.srv.URL+"/console/t/acme/subjects", f)
		if err != nil {
			t.Fatal(err)
		}
		if b := readAll(t, resp); resp.StatusCode != http.StatusBadRequest || !strings.Contains(b, "preview this request") {
			t.Fatalf("run with previewed=%q: %d", bad, resp.StatusCode)
		}
	}
	p, err := s.eng.ListRequests(ctx, "acme", engine.RequestFilter{Type: lethe.RequestErase})
	if err != nil {
		t.Fatal(err)
	}
	for _, j := range p.Items {
		if !j.DryRun {
			t.Fatalf("a refused run started %s", j.ID)
		}
	}

	// The real erase: to its request page, done, receipt verified.
	resp = s.post(mia, "/console/t/acme/subjects", form("run", "erase"))
	m := requestPath.FindStringSubmatch(resp.Header.Get("Location"))
	if resp.StatusCode != http.StatusSeeOther || m == nil {
		t.Fatalf("run: %d %s", resp.StatusCode, resp.Header.Get("Location"))
	}
	body = waitDone(t, s, mia, m[0])
	if !strings.Contains(body, `id="receipt-ok"`) || !strings.Contains(body, "<td>orders</td><td>delete</td><td>2</td>") {
		t.Fatalf("erase request page:\n%s", body)
	}
	for i, gone := range []bool{true, true, false} {
		_, err := s.eng.Get(ctx, lethe.RecordRef{Tenant: "acme", Collection: "orders", ID: docs[i].ID})
		if gone != (err != nil) {
			t.Fatalf("order %d after the erase: %v", i, err)
		}
	}

	// An export of Max: the download holds his record, and is logged.
	f := form("run", "export")
	f.Set("value", "max@example.org")
	f.Set("previewed", "export|email|max@example.org")
	resp = s.post(mia, "/console/t/acme/subjects", f)
	m = requestPath.FindStringSubmatch(resp.Header.Get("Location"))
	if m == nil {
		t.Fatalf("export run: %d %s", resp.StatusCode, resp.Header.Get("Location"))
	}
	body = waitDone(t, s, mia, m[0])
	if !strings.Contains(body, `id="download"`) {
		t.Fatalf("export page has no download:\n%s", body)
	}
	aud := s.signedIn("aud")
	if code, _ := s.get(aud, m[0]+"/export?format=json"); code != http.StatusForbidden {
		t.Fatalf("auditor downloads an export: %d", code)
	}
	code, dl := s.get(mia, m[0]+"/export?format=json")
	var export any
	if code != 200 || json.Unmarshal([]byte(dl), &export) != nil || !strings.Contains(dl, "Max Muster") || strings.Contains(dl, "Erika") {
		t.Fatalf("download: %d\n%s", code, dl)
	}
	if e := newest(t, s, "acme", "request.export.download"); e == nil || e.Actor != "console:mia" {
		t.Fatalf("download not in the security log as the console user: %+v", e)
	}
}

func TestSubjects_AuditorLooksUpButStartsNothing(t *testing.T) {
	s := newStack(t)
	aud := s.signedIn("aud")
	_, page := s.get(aud, "/console/t/acme/subjects")
	f := url.Values{"csrf": {csrfOf(t, page)}, "kind": {"email"}, "value": {"x@example.org"}, "type": {"erase"}}
	f.Set("op", "find")
	resp, err := aud.PostForm(s.srv.URL+"/console/t/acme/subjects", f)
	if err != nil {
		t.Fatal(err)
	}
	if b := readAll(t, resp); resp.StatusCode != 200 || !strings.Contains(b, "0 records found") || strings.Contains(b, "preview-button") {
		t.Fatalf("auditor lookup: %d\n%s", resp.StatusCode, b)
	}
	for _, op := range []string{"preview", "run"} {
		f.Set("op", op)
		if resp := s.post(aud, "/console/t/acme/subjects", f); resp.StatusCode != http.StatusForbidden {
			t.Fatalf("auditor %s: %d", op, resp.StatusCode)
		}
	}
	p, err := s.eng.ListRequests(context.Background(), "acme", engine.RequestFilter{})
	if err != nil || len(p.Items) != 0 {
		t.Fatalf("requests after the auditor's tries: %+v, %v", p, err)
	}
}
