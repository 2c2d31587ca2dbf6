package main

import (
	"context"
	"fmt"
	"log/slog"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/lethe-privacy/lethe/pgtest"
)

// writeFile writes a test input file and returns its path.
func writeFile(t *testing.T, name, body string) string {
	t.Helper()
	p := filepath.Join(t.TempDir(), name)
	if err := os.WriteFile(p, []byte(body), 0o600); err != nil {
		t.Fatal(err)
	}
	return p
}

// shopData is a data folder with tenant "shop" on the ERP pack.
func shopData(t *testing.T) (dir string, rec func(args ...string) []string) {
	dir = newDataDir(t)
	mustCLI(t, "tenants", "create", "shop", "--pack", "erp-marketplace", "--data", dir)
	return dir, func(args ...string) []string {
		return append(append([]string{"records"}, args...), "--tenant", "shop", "--data", dir)
	}
}

func TestRecordsCommands_PutGetPatchDelete(t *testing.T) {
	dir, rec := shopData(t)
	one := writeFile(t, "order.json", `{"id":"A-1","origin":"amazon","fields":{"name":"Erika Mustermann","email":"erika@example.com","plz":"10115"}}`)
	out, _ := mustCLI(t, rec("put", "-c", "orders", one, "--json")...)
	var put recordJSON
	mustJSON(t, out, &put)
	if put.ID != "A-1" || put.Origin != "amazon" || put.State != "active" || put.Fields["email"] != "erika@example.com" {
		t.Fatalf("put: %s", out)
	}

	out, _ = mustCLI(t, rec("get", "A-1", "-c", "orders", "--json")...)
	var got recordJSON
	mustJSON(t, out, &got)
	if got.Fields["name"] != "Erika Mustermann" || got.Fields["plz"] != "10115" {
		t.Fatalf("get: %s", out)
	}
	out, _ = mustCLI(t, rec("get", "A-1", "-c", "orders")...)
	if !strings.Contains(out, "orders/A-1") || !strings.Contains(out, "erika@example.com") || !strings.Contains(out, "state:   active") {
		t.Errorf("human get:\n%s", out)
	}

	// Shipping starts the marketplace rule: the record is re-planned.
	out, stderr := mustCLI(t, rec("patch", "A-1", "-c", "orders", "--field", "shipped_at=2026-01-20T10:00:00Z", "--json")...)
	var patched recordJSON
	mustJSON(t, out, &patched)
	if patched.Plan == nil || patched.Plan.Action != "anonymize" || patched.Fields["shipped_at"] == nil {
		t.Fatalf("patch did not re-plan: %s", out)
	}
	if strings.Contains(stderr, "warning") {
		t.Errorf("a plain field warned: %s", stderr)
	}
	// Personal data on the command line is stored, with a warning.
	_, stderr = mustCLI(t, rec("patch", "A-1", "-c", "orders", "--field", "email=new@example.com")...)
	if !strings.Contains(stderr, "warning: email is personal data on the command line") {
		t.Errorf("no warning for PII in argv: %q", stderr)
	}
	// A file patch; null removes a field.
	patch := writeFile(t, "patch.json", `{"fields":{"ort":"Berlin","plz":null}}`)
	out, _ = mustCLI(t, rec("patch", "A-1", "-c", "orders", patch, "--json")...)
	patched = recordJSON{}
	mustJSON(t, out, &patched)
	if patched.Fields["ort"] != "Berlin" || patched.Fields["plz"] != nil || patched.Fields["email"] != "new@example.com" {
		t.Fatalf("file patch: %s", out)
	}

	out, _ = mustCLI(t, rec("delete", "A-1", "-c", "orders")...)
	if !strings.Contains(out, "deleted orders/A-1") {
		t.Errorf("delete: %q", out)
	}
	if _, stderr, code := reqCLI(rec("get", "A-1", "-c", "orders")...); code != exitNotFound {
		t.Errorf("get after delete: exit %d, want %d\n%s", code, exitNotFound, stderr)
	}

	// A legal hold keeps an invoice document: refused, exit 3, says why.
	doc := writeFile(t, "doc.json", `{"id":"d1","fields":{"belegart":"rechnung","kundennummer":"K-1","document":"JVBERi0="}}`)
	mustCLI(t, rec("put", "-c", "archived_documents", doc)...)
	if _, stderr, code := reqCLI(rec("delete", "d1", "-c", "archived_documents")...); code != exitInvalid || !strings.Contains(stderr, "legal hold") {
		t.Errorf("delete under hold: exit %d, want %d\n%s", code, exitInvalid, stderr)
	}

	// Every read and write above is in the tenant's logs, under the operator.
	out, _ = mustCLI(t, "audit", "tail", "--tenant", "shop", "--data", dir, "-n", "100")
	for _, event := range []string{"record.read", "record.delete"} {
		n := 0
		for _, line := range strings.Split(out, "\n") {
			if strings.Contains(line, " "+event+" ") {
				n++
				if !strings.Contains(line, " "+operator()+" ") {
					t.Errorf("%s not under the operator %s: %s", event, operator(), line)
				}
			}
		}
		if n == 0 {
			t.Errorf("audit lacks %s:\n%s", event, out)
		}
	}
}

func TestRecordsPut_BatchAndBadInput(t *testing.T) {
	_, rec := shopData(t)
	batch := writeFile(t, "batch.json", `{"records":[{"id":"B-1","fields":{"email":"a@example.com"}},{"id":"B-2","origin":"amazon","created_at":"2026-01-01T00:00:00Z","fields":{"email":"b@example.com"}}]}`)
	out, _ := mustCLI(t, rec("put", "-c", "orders", batch, "--json")...)
	var res struct {
		Records []recordJSON `json:"records"`
	}
	mustJSON(t, out, &res)
	if len(res.Records) != 2 || res.Records[1].CreatedAt.Format("2006-01-02") != "2026-01-01" {
		t.Fatalf("batch: %s", out)
	}
	out, _ = mustCLI(t, rec("put", "-c", "orders", "--id", "F-1", "--origin", "amazon", "--field", "plz=10115", "--field-json", "positionen=[]")...)
	if !strings.Contains(out, "stored orders/F-1") {
		t.Errorf("human put: %q", out)
	}

	for _, tc := range []struct {
		name    string
		args    []string
		want    int
		wantMsg string
	}{
		{"unknown field", []string{"put", "-c", "orders", writeFile(t, "x.json", `{"fields":{"colour":"red"}}`)}, exitInvalid, "fields.colour"},
		{"batch errors name the record", []string{"put", "-c", "orders", writeFile(t, "x.json", `{"records":[{"id":"ok"},{"id":"bad id!"}]}`)}, exitInvalid, "records[1].id"},
		{"duplicate id", []string{"put", "-c", "orders", "--id", "B-1", "--field", "plz=1"}, exitInvalid, ""},
		{"malformed JSON", []string{"put", "-c", "orders", writeFile(t, "x.json", `{"fields":`)}, exitInvalid, "invalid JSON"},
		{"unknown top-level key", []string{"put", "-c", "orders", writeFile(t, "x.json", `{"feilds":{}}`)}, exitInvalid, "feilds: unknown field"},
		{"two values", []string{"put", "-c", "orders", writeFile(t, "x.json", `{} {}`)}, exitInvalid, "more than one JSON value"},
		{"missing file", []string{"put", "-c", "orders", filepath.Join(t.TempDir(), "none.json")}, exitNotFound, "no such file"},
		{"unknown collection", []string{"put", "-c", "nope", "--field", "a=b"}, exitNotFound, ""},
		{"nothing to put", []string{"put", "-c", "orders"}, exitUsage, "give a FILE"},
		{"file and fields", []string{"put", "-c", "orders", batch, "--field", "a=b"}, exitUsage, "not both"},
		{"field without value", []string{"put", "-c", "orders", "--field", "plz"}, exitUsage, "NAME=VALUE"},
		{"field twice", []string{"put", "-c", "orders", "--field", "plz=1", "--field", "plz=2"}, exitUsage, "given twice"},
		{"bad JSON value", []string{"put", "-c", "orders", "--field-json", "positionen=[1,"}, exitUsage, "want a JSON value"},
		{"patch without fields", []string{"patch", "B-1", "-c", "orders", writeFile(t, "x.json", `{}`)}, exitInvalid, "fields: send"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			_, stderr, code := reqCLI(rec(tc.args...)...)
			if code != tc.want || !strings.Contains(stderr, tc.wantMsg) {
				t.Fatalf("exit %d, want %d with %q\n%s", code, tc.want, tc.wantMsg, stderr)
			}
		})
	}
}

func TestRecordsList_PagesWithCursorAndFilters(t *testing.T) {
	_, rec := shopData(t)
	var sb strings.Builder
	sb.WriteString(`{"records":[`)
	for i := range 7 {
		if i > 0 {
			sb.WriteString(",")
		}
		origin := ""
		if i%2 == 0 {
			origin = `"origin":"amazon",`
		}
		fmt.Fprintf(&sb, `{"id":"R-%d",%s"fields":{"email":"p%d@example.com"}}`, i, origin, i)
	}
	sb.WriteString(`]}`)
	if out, _ := mustCLI(t, rec("put", "-c", "orders", writeFile(t, "b.json", sb.String()))...); out != "stored 7 records in orders, R-0 to R-6\n" {
		t.Errorf("human batch put: %q", out)
	}

	type page struct {
		Records []recordJSON `json:"records"`
		Next    string       `json:"next"`
	}
	list := func(extra ...string) page {
		t.Helper()
		out, _ := mustCLI(t, rec(append([]string{"list", "-c", "orders", "--json"}, extra...)...)...)
		var p page
		mustJSON(t, out, &p)
		return p
	}
	ids := func(rs []recordJSON) string {
		var s []string
		for _, r := range rs {
			s = append(s, r.ID)
		}
		return strings.Join(s, ",")
	}

	var seen []string
	cursor := ""
	for pages := 0; ; pages++ {
		if pages > 5 {
			t.Fatal("paging does not end")
		}
		args := []string{"--limit", "3"}
		if cursor != "" {
			args = append(args, "--cursor", cursor)
		}
		p := list(args...)
		if len(p.Records) > 3 {
			t.Fatalf("page of %d records, limit 3", len(p.Records))
		}
		seen = append(seen, ids(p.Records))
		if p.Next == "" {
			break
		}
		cursor = p.Next
	}
	if got := strings.Join(seen, "|"); got != "R-0,R-1,R-2|R-3,R-4,R-5|R-6" {
		t.Errorf("pages = %s", got)
	}
	if p := list("--all", "--limit", "2"); ids(p.Records) != "R-0,R-1,R-2,R-3,R-4,R-5,R-6" || p.Next != "" {
		t.Errorf("--all: %s next %q", ids(p.Records), p.Next)
	}
	p := list("--origin", "amazon", "--limit", "2")
	if ids(p.Records) != "R-0,R-2" || p.Next == "" || p.Records[0].Fields["email"] != "p0@example.com" {
		t.Fatalf("origin page 1: %s next %q", ids(p.Records), p.Next)
	}
	if p := list("--origin", "amazon", "--limit", "2", "--cursor", p.Next); ids(p.Records) != "R-4,R-6" || p.Next != "" {
		t.Errorf("origin page 2: %s next %q", ids(p.Records), p.Next)
	}
	if p := list("--state", "anonymized"); len(p.Records) != 0 {
		t.Errorf("anonymized: %s", ids(p.Records))
	}

	out, stderr := mustCLI(t, rec("list", "-c", "orders", "--limit", "5")...)
	if strings.Count(out, "\n") != 6 || !strings.Contains(out, "R-4") || strings.Contains(out, "p0@example.com") || !strings.Contains(stderr, "--cursor ") {
		t.Errorf("human list:\n%s\nstderr: %s", out, stderr)
	}
	for _, tc := range []struct {
		name string
		args []string
		code int
	}{
		// A cursor is the listing's own (the API's): one it did not write
		// is invalid input, like a wrong ?next= on the API.
		{"bad cursor", []string{"--cursor", "!!"}, exitInvalid},
		{"bad state", []string{"--state", "gone"}, exitUsage},
		{"cursor and all", []string{"--cursor", "UjE", "--all"}, exitUsage},
		{"limit too high", []string{"--limit", "1001"}, exitUsage},
	} {
		t.Run(tc.name, func(t *testing.T) {
			if _, stderr, code := reqCLI(rec(append([]string{"list", "-c", "orders"}, tc.args...)...)...); code != tc.code {
				t.Errorf("exit %d, want %d\n%s", code, tc.code, stderr)
			}
		})
	}
}

func TestRecordsCommands_OnPostgreSQL(t *testing.T) {
	dsn := pgtest.DSN(t)
	key := filepath.Join(t.TempDir(), "master.key")
	df := dataFlags{dbURL: dsn, keyFile: key}
	o, err := df.open(context.Background(), true, slog.New(slog.DiscardHandler))
	if err != nil {
		t.Fatal(err)
	}
	o.Close()
	db := []string{"--database-url", dsn, "--master-key-file", key}
	mustCLI(t, append([]string{"tenants", "create", "shop", "--pack", "erp-marketplace"}, db...)...)
	mustCLI(t, append([]string{"records", "put", "--tenant", "shop", "-c", "orders", writeFile(t, "o.json", `{"id":"P-1","fields":{"email":"pg@example.com"}}`)}, db...)...)
	out, _ := mustCLI(t, append([]string{"records", "list", "--tenant", "shop", "-c", "orders", "--json"}, db...)...)
	var p struct {
		Records []recordJSON `json:"records"`
	}
	mustJSON(t, out, &p)
	if len(p.Records) != 1 || p.Records[0].Fields["email"] != "pg@example.com" {
		t.Fatalf("list on PostgreSQL: %s", out)
	}
	out, _ = mustCLI(t, append([]string{"tenants", "list"}, db...)...)
	if !strings.Contains(out, "shop") {
		t.Errorf("tenants list on PostgreSQL:\n%s", out)
	}
}
