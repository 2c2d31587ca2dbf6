package console_test

import (
	"database/sql"
	"net/http"
	"path/filepath"
	"strings"
	"testing"
)

func TestLogs_FiltersChainAndReach(t *testing.T) {
	s := newStack(t)
	chatTenant(t, s)
	mia := s.signedIn("mia")
	s.signedIn("aud")
	code, body := s.get(mia, "/console/t/acme/logs?log=security")
	if code != 200 || !strings.Contains(body, "<td>auth.success</td>") || !strings.Contains(body, "<strong>Audit chain intact</strong>") {
		t.Fatalf("security log: %d\n%s", code, body)
	}
	if strings.Contains(body, "console:ben") || strings.Contains(body, "chains,") {
		t.Fatalf("acme's log page shows another tenant's entries or the all-tenant count:\n%s", body)
	}
	// The actor filter reaches the engine.
	_, body = s.get(mia, "/console/t/acme/logs?log=security&actor=console:aud")
	if !strings.Contains(body, "console:aud") || strings.Contains(body, "console:mia") {
		t.Fatalf("actor filter:\n%s", body)
	}
	if code, _ := s.get(mia, "/console/t/acme/logs?log=nope"); code != http.StatusBadRequest {
		t.Fatalf("unknown log: %d", code)
	}
	if code, _ := s.get(mia, "/console/t/bot/logs"); code != http.StatusForbidden {
		t.Fatalf("acme's manager reads bot's log: %d", code)
	}
	if code, _ := s.get(mia, "/console/t/_system/logs"); code != http.StatusForbidden {
		t.Fatalf("a manager reads the system log: %d", code)
	}
	root := s.signedIn("root")
	if code, body := s.get(root, "/console/t/_system/logs?log=security"); code != 200 || !strings.Contains(body, "chains,") {
		t.Fatalf("admin on the system log: %d\n%s", code, body)
	}

	// An entry changed behind the engine's back shows as a break, to
	// acme's manager but not to bot's.
	db, err := sql.Open("sqlite", "file:"+filepath.Join(s.dir, "lethe.db")+"?_pragma=busy_timeout(10000)")
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	if _, err := db.Exec(`UPDATE audit SET actor = 'someone' WHERE tenant = 'acme' AND log = 'security' AND seq = 1`); err != nil {
		t.Fatal(err)
	}
	_, body = s.get(mia, "/console/t/acme/logs")
	if !strings.Contains(body, "Audit chain broken") || !strings.Contains(body, "acme/security at entry 1") {
		t.Fatalf("tampered chain:\n%s", body)
	}
	_, body = s.get(s.signedIn("ben"), "/console/t/bot/logs")
	if !strings.Contains(body, "Audit chain intact") {
		t.Fatalf("bot sees acme's break:\n%s", body)
	}
}
