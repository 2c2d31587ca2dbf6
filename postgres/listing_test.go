package postgres

import (
	"strings"
	"testing"
	"time"

	"github.com/lethe-privacy/lethe"
	"github.com/lethe-privacy/lethe/pgtest"
)

// TestListing_QueriesCanUseIndexRangeScans holds every listing statement
// to an index scan in the ORDER BY's order, without a sort. Sequential
// scans are switched off for the test: on its empty tables the planner
// would rightly prefer them, while what matters is that an index serves
// the query at all.
func TestListing_QueriesCanUseIndexRangeScans(t *testing.T) {
	s, err := Open(t.Context(), pgtest.DSN(t), Options{})
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
	type tc struct {
		name    string
		query   string
		args    []any
		indexes []string // any of them
	}
	cases := []tc{{"tenants", qListTenants, []any{"", 10}, []string{"tenants_pkey"}}}
	add := func(name string, indexes []string, q string, args []any) {
		cases = append(cases, tc{name, q, args, indexes})
	}
	q, a := rec(lethe.RecordQuery{})
	add("records", []string{"records_ref"}, q, a)
	q, a = rec(lethe.RecordQuery{Origin: "amazon"})
	add("records of an origin", []string{"records_origin", "records_ref"}, q, a)
	q, a = rec(lethe.RecordQuery{State: lethe.StateActive, CreatedFrom: day, UpdatedTo: day})
	add("records by state and time", []string{"records_ref"}, q, a)
	q, a = req(lethe.RequestQuery{})
	add("requests", []string{"requests_tenant"}, q, a)
	q, a = req(lethe.RequestQuery{State: lethe.RequestDone})
	add("requests of a state", []string{"requests_tenant_state"}, q, a)
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			tx, err := s.pool.Begin(t.Context())
			if err != nil {
				t.Fatal(err)
			}
			defer tx.Rollback(t.Context())
			if _, err := tx.Exec(t.Context(), "SET LOCAL enable_seqscan = off"); err != nil {
				t.Fatal(err)
			}
			rows, err := tx.Query(t.Context(), "EXPLAIN "+c.query, c.args...)
			if err != nil {
				t.Fatal(err)
			}
			var plan []string
			for rows.Next() {
				var line string
				if err := rows.Scan(&line); err != nil {
					t.Fatal(err)
				}
				plan = append(plan, strings.TrimSpace(line))
			}
			if err := rows.Err(); err != nil {
				t.Fatal(err)
			}
			all := strings.Join(plan, "; ")
			ok := false
			for _, ix := range c.indexes {
				ok = ok || strings.Contains(all, "Scan using "+ix+" on ")
			}
			if !ok || strings.Contains(all, "Sort") || strings.Contains(all, "Seq Scan") {
				t.Fatalf("plan %q: want an index scan using one of %v and no sort", all, c.indexes)
			}
			t.Logf("%s: %s", c.name, all)
		})
	}
}
