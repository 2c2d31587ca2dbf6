package console_test

import (
	"context"
	"fmt"
	"regexp"
	"strings"
	"testing"

	"github.com/lethe-privacy/lethe/engine"
)

func TestTenantDashboard_CountsAndReach(t *testing.T) {
	s := newStack(t)
	ctx := context.Background()
	if _, err := s.eng.CreateTenant(ctx, "test", "other", []string{"erp-marketplace"}); err != nil {
		t.Fatal(err)
	}
	var in []engine.NewRecord
	for i := 0; i < 3; i++ {
		in = append(in, engine.NewRecord{CreatedAt: s.now, Fields: map[string]any{"belegnr": fmt.Sprintf("AU-%d", i), "name": "Erika Mustermann", "plz": "10115", "ort": "Berlin"}})
	}
	docs, err := s.eng.Put(ctx, "acme", "orders", in)
	if err != nil {
		t.Fatal(err)
	}
	if !docs[0].Plan.Planned() {
		t.Fatalf("orders are not planned: %+v", docs[0].Plan)
	}
	next := docs[0].Plan.DueAt.UTC().Format("2006-01-02")

	mia := s.signedIn("mia")
	code, body := s.get(mia, "/console/")
	if code != 200 {
		t.Fatalf("dashboard: %d", code)
	}
	row := regexp.MustCompile(`<tr><td>orders</td><td>[^<]*</td><td>(\d+)</td><td>(\d+)</td><td>([^<]*)</td>`).FindStringSubmatch(body)
	if row == nil || row[1] != "3" || row[2] != "0" || !strings.HasPrefix(row[3], next) {
		t.Fatalf("orders row %q, want 3 planned, 0 due soon, next %s\n%s", row, next, body)
	}
	if strings.Contains(body, "Erika") || strings.Contains(body, "Sweep lag") {
		t.Fatalf("dashboard shows PII or the all-tenant lag to a manager:\n%s", body)
	}
	if code, _ := s.get(mia, "/console/t/other/"); code != 403 {
		t.Fatalf("manager of acme opens other: %d", code)
	}
	if code, _ := s.get(mia, "/console/t/acme/"); code != 200 {
		t.Fatalf("manager of acme opens acme by path: %d", code)
	}
	root := s.signedIn("root")
	code, body = s.get(root, "/console/")
	if code != 200 || !strings.Contains(body, `href="/console/t/acme/"`) || !strings.Contains(body, `href="/console/t/other/"`) {
		t.Fatalf("admin dashboard: %d\n%s", code, body)
	}
	code, body = s.get(root, "/console/t/acme/")
	if code != 200 || !strings.Contains(body, "Sweep lag") {
		t.Fatalf("admin tenant page: %d\n%s", code, body)
	}
	if code, _ := s.get(root, "/console/t/nope/"); code != 404 {
		t.Fatalf("unknown tenant: %d", code)
	}
}
