package console_test

import (
	"context"
	"net/http"
	"net/url"
	"strings"
	"testing"
	"time"

	"github.com/lethe-privacy/lethe"
	"github.com/lethe-privacy/lethe/engine"
)

// managerReads counts the tenant's record.read entries in the manager log
// written by actor.
func managerReads(t *testing.T, s *stack, tenant, actor string) int {
	t.Helper()
	es, _, err := s.eng.AuditLog(context.Background(), lethe.AuditQuery{Tenant: tenant, Log: lethe.LogManager, Event: "record.read", Actor: actor, Limit: 1000})
	if err != nil {
		t.Fatal(err)
	}
	return len(es)
}

func TestRecords_BrowseSealedOpenAudited(t *testing.T) {
	s := newStack(t)
	ctx := context.Background()
	var in []engine.NewRecord
	for i := 0; i < 60; i++ {
		o := ""
		if i%2 == 0 {
			o = "amazon"
		}
		in = append(in, engine.NewRecord{Origin: o, CreatedAt: s.now, Fields: map[string]any{"belegnr": i, "name": "Erika Mustermann", "plz": "10115"}})
	}
	docs, err := s.eng.Put(ctx, "acme", "orders", in)
	if err != nil {
		t.Fatal(err)
	}
	mia := s.signedIn("mia")
	code, body := s.get(mia, "/console/t/acme/records?collection=orders")
	if code != 200 || strings.Contains(body, "Erika") || !strings.Contains(body, docs[0].ID) || !strings.Contains(body, `rel="next"`) {
		t.Fatalf("browse: %d\n%s", code, body)
	}
	if n := strings.Count(body, `/console/t/acme/records/orders/`); n != 50 {
		t.Fatalf("first page lists %d records, want 50", n)
	}
	// The filter reaches the engine: only Amazon records.
	_, body = s.get(mia, "/console/t/acme/records?collection=orders&origin=amazon")
	if strings.Contains(body, docs[1].ID) || !strings.Contains(body, docs[0].ID) || strings.Contains(body, `rel="next"`) {
		t.Fatalf("origin filter:\n%s", body)
	}
	if code, _ := s.get(mia, "/console/t/acme/records?collection=orders&state=gone"); code != http.StatusBadRequest {
		t.Fatalf("bad state filter: %d", code)
	}
	page := "/console/t/acme/records/orders/" + docs[0].ID
	code, body = s.get(mia, page)
	if code != 200 || strings.Contains(body, "Erika") || !strings.Contains(body, "10115") || !strings.Contains(body, `id="reveal"`) || !strings.Contains(body, "<strong>delete</strong>") {
		t.Fatalf("record page before the click: %d\n%s", code, body)
	}
	if n := managerReads(t, s, "acme", "console:mia"); n != 0 {
		t.Fatalf("browsing wrote %d manager-log reads; nothing was decrypted", n)
	}
	// Opening needs the form's token (a link or a prefetch cannot do it).
	if resp := s.post(mia, page, url.Values{}); resp.StatusCode != http.StatusForbidden {
		t.Fatalf("open without CSRF token: %d", resp.StatusCode)
	}
	resp, err := mia.PostForm(s.srv.URL+page, url.Values{"csrf": {csrfOf(t, body)}})
	if err != nil {
		t.Fatal(err)
	}
	if b := readAll(t, resp); resp.StatusCode != 200 || !strings.Contains(b, "Erika Mustermann") {
		t.Fatalf("open: %d\n%s", resp.StatusCode, b)
	}
	if n := managerReads(t, s, "acme", "console:mia"); n != 1 {
		t.Fatalf("opening wrote %d manager-log reads by console:mia, want 1", n)
	}

	// Another tenant's manager reaches neither the list nor the record.
	chatTenant(t, s)
	ben := s.signedIn("ben")
	for _, p := range []string{"/console/t/acme/records?collection=orders", page} {
		if code, b := s.get(ben, p); code != http.StatusForbidden || strings.Contains(b, docs[0].ID) {
			t.Fatalf("bot's manager on %s: %d", p, code)
		}
	}
	if code, _ := s.get(ben, "/console/t/bot/records/orders/"+docs[0].ID); code != http.StatusNotFound {
		t.Fatalf("acme's record under bot's path: %d", code)
	}
}

// TestRecords_HistoryListsTheReads: the record page lists the manager-log
// entries naming the record (the console's own opening and an API read),
// not those of another record.
func TestRecords_HistoryListsTheReads(t *testing.T) {
	s := newStack(t)
	ctx := context.Background()
	docs, err := s.eng.Put(ctx, "acme", "orders", []engine.NewRecord{
		{CreatedAt: s.now, Fields: map[string]any{"belegnr": "AU-1", "name": "Erika Mustermann"}},
		{CreatedAt: s.now, Fields: map[string]any{"belegnr": "AU-2", "name": "Max Muster"}},
	})
	if err != nil {
		t.Fatal(err)
	}
	mia := s.signedIn("mia")
	page := "/console/t/acme/records/orders/" + docs[0].ID
	_, body := s.get(mia, page)
	if !strings.Contains(body, "No log entry names this record yet.") {
		t.Fatalf("history of an unread record:\n%s", body)
	}
	api := engine.WithCaller(ctx, engine.Caller{Actor: "key:lk_shop", IP: "192.0.2.9"})
	if _, err := s.eng.Get(api, lethe.RecordRef{Tenant: "acme", Collection: "orders", ID: docs[1].ID}); err != nil {
		t.Fatal(err)
	}
	s.now = s.now.Add(time.Minute)
	if _, err := s.eng.Get(api, lethe.RecordRef{Tenant: "acme", Collection: "orders", ID: docs[0].ID}); err != nil {
		t.Fatal(err)
	}
	s.now = s.now.Add(time.Minute)
	resp, err := mia.PostForm(s.srv.URL+page, url.Values{"csrf": {csrfOf(t, body)}})
	if err != nil {
		t.Fatal(err)
	}
	body = readAll(t, resp)
	hist := body[strings.Index(body, `<table id="history">`):]
	hist = hist[:strings.Index(hist, "</table>")]
	rows := strings.Count(hist, "<tr><td>")
	mine, theirs := strings.Index(hist, "<td>console:mia</td>"), strings.Index(hist, "<td>key:lk_shop</td>")
	if rows != 2 || mine < 0 || theirs < 0 || mine > theirs || !strings.Contains(hist, "2026-11-23 12:02") || !strings.Contains(hist, "<code>name</code>") {
		t.Fatalf("history after two reads (newest first):\n%s", hist)
	}
}
