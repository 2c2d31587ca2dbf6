package sqlite

import (
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/lethe-privacy/lethe"
)

// TestListing_QueriesUseIndexRangeScans holds every listing statement to
// its plan: a SEARCH through an index in the ORDER BY's order, never a
// table scan and never a sort of the whole match.
func TestListing_QueriesUseIndexRangeScans(t *testing.T) {
	s, err := Open(t.Context(), filepath.Join(t.TempDir(), "lethe.db"), Options{})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { s.Close() })
	day := time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)
	rec := func(q lethe.RecordQuery) (string, []any) {
		q.Tenant, q.Collection, q.Limit = "a", "orders", 10
		return recordListQuery(q)
	}
	req := func(q lethe.RequestQuery) (string, []any) {
		q.Tenant, q.Limit = "a", 10
		return requestListQuery(q)
	}
	cases := []struct {
		name  string
		query string
		args  []any
		index string
	}{
		{"tenants", qListTenants, []any{"", 10}, "sqlite_autoindex_tenants_1"}, // the primary key
		{"records", "", nil, "records_ref"},
		{"records of an origin", "", nil, "records_origin"},
		{"records by state and time", "", nil, "records_ref"},
		{"requests", "", nil, "requests_tenant"},
		{"requests of a state", "", nil, "requests_tenant_state"},
		{"requests of a type", "", nil, "requests_tenant"},
	}
	cases[1].query, cases[1].args = rec(lethe.RecordQuery{})
	cases[2].query, cases[2].args = rec(lethe.RecordQuery{Origin: "amazon"})
	cases[3].query, cases[3].args = rec(lethe.RecordQuery{State: lethe.StateActive, CreatedFrom: day, UpdatedTo: day})
	cases[4].query, cases[4].args = req(lethe.RequestQuery{})
	cases[5].query, cases[5].args = req(lethe.RequestQuery{State: lethe.RequestDone})
	cases[6].query, cases[6].args = req(lethe.RequestQuery{Type: lethe.RequestErase})
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			rows, err := s.reader.QueryContext(t.Context(), "EXPLAIN QUERY PLAN "+c.query, c.args...)
			if err != nil {
				t.Fatal(err)
			}
			defer rows.Close()
			var plan []string
			for rows.Next() {
				var id, parent, unused int
				var detail string
				if err := rows.Scan(&id, &parent, &unused, &detail); err != nil {
					t.Fatal(err)
				}
				plan = append(plan, detail)
			}
			all := strings.Join(plan, "; ")
			if !strings.HasPrefix(all, "SEARCH ") || strings.Contains(all, "TEMP B-TREE") || !strings.Contains(all, " INDEX "+c.index+" (") {
				t.Fatalf("plan %q: want a SEARCH using %s and no sort", all, c.index)
			}
			t.Logf("%s: %s", c.name, all)
		})
	}
}
