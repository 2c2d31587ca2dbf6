package console_test

import (
	"context"
	"net/http"
	"net/url"
	"strings"
	"testing"

	"github.com/lethe-privacy/lethe/engine"
)

// TestReach_OtherTenantManagerWalksEveryPage opens every tenant page of
// acme, by GET and by POST with a valid token of its own session, as
// bot's manager: each is refused and none shows acme's data.
func TestReach_OtherTenantManagerWalksEveryPage(t *testing.T) {
	s := newStack(t)
	chatTenant(t, s)
	ctx := context.Background()
	docs, err := s.eng.Put(ctx, "acme", "orders", []engine.NewRecord{{Origin: "amazon", CreatedAt: s.now, Fields: map[string]any{"belegnr": "AU-SECRET-1", "name": "Erika", "email": "erika@example.org"}}})
	if err != nil {
		t.Fatal(err)
	}
	job, _, err := s.eng.SubmitRequest(ctx, "test", "acme", engine.RequestInput{Type: "export", Subject: map[string]string{"email": "erika@example.org"}})
	if err != nil {
		t.Fatal(err)
	}
	rec := "/console/t/acme/records/orders/" + docs[0].ID
	gets := []string{"/console/t/acme/", "/console/t/acme/settings", "/console/t/acme/settings/orders", "/console/t/acme/protection",
		"/console/t/acme/records?collection=orders", rec, "/console/t/acme/subjects", "/console/t/acme/requests",
		"/console/t/acme/requests/" + job.ID, "/console/t/acme/requests/" + job.ID + "/export", "/console/t/acme/logs", "/console/t/acme/dataprotection",
		"/console/users"}
	posts := []string{"/console/t/acme/settings/orders", "/console/t/acme/protection", rec, "/console/t/acme/subjects", "/console/users", "/console/users/remove"}
	ben := s.signedIn("ben")
	_, own := s.get(ben, "/console/")
	tok := csrfOf(t, own)
	check := func(method, path string, code int, body string) {
		t.Helper()
		if code != http.StatusForbidden {
			t.Errorf("%s %s: %d, want 403", method, path, code)
		}
		for _, leak := range []string{docs[0].ID, job.ID, "AU-SECRET-1", "Erika", "erika@"} {
			if strings.Contains(body, leak) && !strings.Contains(path, leak) {
				t.Errorf("%s %s shows %q", method, path, leak)
			}
		}
	}
	for _, p := range gets {
		code, body := s.get(ben, p)
		check("GET", p, code, body)
	}
	for _, p := range posts {
		resp, err := ben.PostForm(s.srv.URL+p, url.Values{"csrf": {tok}, "op": {"find"}, "kind": {"email"}, "value": {"erika@example.org"}, "name": {"mia"}})
		if err != nil {
			t.Fatal(err)
		}
		check("POST", p, resp.StatusCode, readAll(t, resp))
	}
	if _, err := s.eng.ConsoleUser(ctx, "mia"); err != nil {
		t.Fatalf("a POST removed acme's user: %v", err)
	}
}
