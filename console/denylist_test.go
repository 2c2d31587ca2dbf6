package console_test

import (
	"database/sql"
	"net/http"
	"net/url"
	"path/filepath"
	"strings"
	"testing"
)

// TestDenyList_FailsClosed: when the stored deny list cannot be read, no
// session gets in, and a sign-out that cannot be stored is not reported
// as done.
func TestDenyList_FailsClosed(t *testing.T) {
	s := newStack(t)
	mia := s.signedIn("mia")
	_, page := s.get(mia, "/console/t/acme/")
	tok := csrfOf(t, page)
	db, err := sql.Open("sqlite", "file:"+filepath.Join(s.dir, "lethe.db")+"?_pragma=busy_timeout(10000)")
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	if _, err := db.Exec(`ALTER TABLE console_revoked_sessions RENAME TO gone`); err != nil {
		t.Fatal(err)
	}
	code, body := s.get(mia, "/console/t/acme/")
	if code != http.StatusInternalServerError || strings.Contains(body, "Tenant acme") {
		t.Fatalf("with the deny list unreadable: %d\n%s", code, body)
	}
	if resp := s.post(mia, "/console/logout", url.Values{"csrf": {tok}}); resp.StatusCode != http.StatusInternalServerError {
		t.Fatalf("sign-out with the deny list unreadable: %d", resp.StatusCode)
	}
	// Back in place, the session works again: it was never revoked.
	if _, err := db.Exec(`ALTER TABLE gone RENAME TO console_revoked_sessions`); err != nil {
		t.Fatal(err)
	}
	if code, _ := s.get(mia, "/console/t/acme/"); code != http.StatusOK {
		t.Fatalf("with the deny list back: %d", code)
	}
}
