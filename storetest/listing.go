package storetest

import (
	"testing"
	"time"

	"github.com/lethe-privacy/lethe"
)

// listingTests cover ListTenants, ListRecords and ListRequests: stable id
// order, paging after a cursor, filters, and tenant scope.
var listingTests = map[string]func(*testing.T, Opener){
	"TenantsPageInIDOrder":                       testListTenants,
	"RecordsPageInIDOrderWithinTenantCollection": testListRecordsPaging,
	"RecordFiltersNarrowWithoutReordering":       testListRecordsFilters,
	"RequestsPageInIDOrderFilteredByStateType":   testListRequests,
}

func testListTenants(t *testing.T, open Opener) {
	s := open(t)
	ctx := t.Context()
	for _, id := range []string{"c", "a", "e", "b", "d"} {
		if err := s.CreateTenant(ctx, &lethe.Tenant{ID: id, Packs: []string{"chatbot"}, CreatedAt: t0}); err != nil {
			t.Fatal(err)
		}
	}
	var got []string
	after := ""
	for pages := 0; ; pages++ {
		ts, err := s.ListTenants(ctx, lethe.TenantQuery{After: after, Limit: 2})
		if err != nil {
			t.Fatalf("ListTenants: %v", err)
		}
		if len(ts) > 2 {
			t.Fatalf("page of %d, limit 2", len(ts))
		}
		if len(ts) == 0 {
			break
		}
		for _, tn := range ts {
			got = append(got, tn.ID)
		}
		after = ts[len(ts)-1].ID
		if pages > 5 {
			t.Fatal("paging does not end")
		}
	}
	same(t, "tenants", got, []string{"a", "b", "c", "d", "e"})
	ts, err := s.ListTenants(ctx, lethe.TenantQuery{After: "b", Limit: 1})
	if err != nil || len(ts) != 1 {
		t.Fatalf("after b: %v, %v", ts, err)
	}
	same(t, "tenant after b", ts[0], &lethe.Tenant{ID: "c", Packs: []string{"chatbot"}, PhoneRegion: lethe.DefaultPhoneRegion, CreatedAt: t0})
}

// pageAll collects every page of q, limit records at a time.
func pageAll(t *testing.T, s lethe.Store, q lethe.RecordQuery) []string {
	t.Helper()
	var out []string
	for range 100 {
		recs, err := s.ListRecords(t.Context(), q)
		if err != nil {
			t.Fatalf("ListRecords: %v", err)
		}
		if q.Limit > 0 && len(recs) > q.Limit {
			t.Fatalf("page of %d, limit %d", len(recs), q.Limit)
		}
		if len(recs) == 0 {
			return out
		}
		out = append(out, ids(recs)...)
		q.After = recs[len(recs)-1].ID
	}
	t.Fatal("paging does not end")
	return nil
}

func testListRecordsPaging(t *testing.T, open Opener) {
	s := open(t)
	ctx := t.Context()
	var want []string
	for _, i := range []int{7, 3, 9, 1, 5, 2, 8} {
		mustInsert(t, s, record("a", "orders", idf(i)))
	}
	for _, i := range []int{1, 2, 3, 5, 7, 8, 9} {
		want = append(want, idf(i))
	}
	// Neighbours that must never show up.
	mustInsert(t, s, record("a", "invoices", idf(4)), record("b", "orders", idf(4)), record("b", "orders", idf(6)))
	same(t, "pages of 3", pageAll(t, s, lethe.RecordQuery{Tenant: "a", Collection: "orders", Limit: 3}), want)
	same(t, "one page", pageAll(t, s, lethe.RecordQuery{Tenant: "a", Collection: "orders"}), want)

	// A record written behind the cursor is not seen; one ahead of it is.
	first, err := s.ListRecords(ctx, lethe.RecordQuery{Tenant: "a", Collection: "orders", Limit: 3})
	if err != nil {
		t.Fatal(err)
	}
	mustInsert(t, s, record("a", "orders", idf(0)), record("a", "orders", idf(6)))
	rest := pageAll(t, s, lethe.RecordQuery{Tenant: "a", Collection: "orders", Limit: 3, After: first[2].ID})
	same(t, "after a write", append(ids(first), rest...), []string{idf(1), idf(2), idf(3), idf(5), idf(6), idf(7), idf(8), idf(9)})

	// A page holds records as Record reads them, without subjects.
	want0 := record("a", "orders", idf(1))
	want0.Subjects = nil
	if len(first) == 0 {
		t.Fatal("no first page")
	}
	first[0].Subjects = nil
	same(t, "listed record", first[0], want0)
}

func testListRecordsFilters(t *testing.T, open Opener) {
	s := open(t)
	day := 24 * time.Hour
	at := func(r *lethe.Record, origin string, state lethe.State, created, updated time.Duration) *lethe.Record {
		r.Origin, r.State = origin, state
		r.CreatedAt, r.UpdatedAt = t0.Add(created), t0.Add(updated)
		return r
	}
	mustInsert(t, s,
		at(record("a", "orders", "o1"), "amazon", lethe.StateActive, 0, 0),
		at(record("a", "orders", "o2"), "shop", lethe.StateActive, day, 3*day),
		at(record("a", "orders", "o3"), "amazon", lethe.StateAnonymized, 2*day, 2*day),
		at(record("a", "orders", "o4"), "amazon", lethe.StateActive, 3*day, 5*day),
		at(record("a", "orders", "o5"), "", lethe.StateAnonymized, 4*day, 4*day),
		at(record("b", "orders", "o6"), "amazon", lethe.StateActive, 0, 0),
	)
	tests := []struct {
		name string
		q    lethe.RecordQuery
		want []string
	}{
		{"none", lethe.RecordQuery{}, []string{"o1", "o2", "o3", "o4", "o5"}},
		{"origin", lethe.RecordQuery{Origin: "amazon"}, []string{"o1", "o3", "o4"}},
		{"state", lethe.RecordQuery{State: lethe.StateAnonymized}, []string{"o3", "o5"}},
		{"origin and state", lethe.RecordQuery{Origin: "amazon", State: lethe.StateActive}, []string{"o1", "o4"}},
		{"created from (inclusive)", lethe.RecordQuery{CreatedFrom: t0.Add(2 * day)}, []string{"o3", "o4", "o5"}},
		{"created to (exclusive)", lethe.RecordQuery{CreatedTo: t0.Add(2 * day)}, []string{"o1", "o2"}},
		{"created range", lethe.RecordQuery{CreatedFrom: t0.Add(day), CreatedTo: t0.Add(3 * day)}, []string{"o2", "o3"}},
		{"updated from", lethe.RecordQuery{UpdatedFrom: t0.Add(3 * day)}, []string{"o2", "o4", "o5"}},
		{"updated to", lethe.RecordQuery{UpdatedTo: t0.Add(3 * day)}, []string{"o1", "o3"}},
		{"every filter", lethe.RecordQuery{Origin: "amazon", State: lethe.StateActive, CreatedFrom: t0.Add(day),
			UpdatedTo: t0.Add(6 * day)}, []string{"o4"}},
		{"nothing matches", lethe.RecordQuery{Origin: "ebay"}, nil},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			q := tc.q
			q.Tenant, q.Collection = "a", "orders"
			for _, limit := range []int{1, 0} {
				q.Limit = limit
				same(t, tc.name, pageAll(t, s, q), tc.want)
			}
		})
	}
}

func testListRequests(t *testing.T, open Opener) {
	s := open(t)
	ctx := t.Context()
	mk := func(id, tenant string, typ lethe.RequestType, scopeKey string) {
		j := newJob(id)
		j.Tenant, j.Type, j.ScopeKey = tenant, typ, scopeKey
		if _, created, err := s.CreateRequest(ctx, j); err != nil || !created {
			t.Fatalf("CreateRequest %s: %v %v", id, created, err)
		}
	}
	mk("j1", "t1", lethe.RequestErase, "k1")
	// j1 is finished: claimed, then done.
	j, err := s.ClaimRequest(ctx, "me", t0, t0.Add(time.Minute))
	if err != nil || j.ID != "j1" {
		t.Fatalf("claim: %v %v", j, err)
	}
	j.State = lethe.RequestDone
	if err := s.ApplyRequestBatch(ctx, &lethe.RequestBatch{Job: j}); err != nil {
		t.Fatal(err)
	}
	mk("j2", "t1", lethe.RequestExport, "k2")
	mk("j3", "t1", lethe.RequestErase, "k3")
	mk("j4", "t2", lethe.RequestErase, "k4")
	mk("j5", "t1", lethe.RequestErase, "k5")
	tests := []struct {
		name string
		q    lethe.RequestQuery
		want []string
	}{
		{"all of a tenant", lethe.RequestQuery{}, []string{"j1", "j2", "j3", "j5"}},
		{"state", lethe.RequestQuery{State: lethe.RequestPending}, []string{"j2", "j3", "j5"}},
		{"done", lethe.RequestQuery{State: lethe.RequestDone}, []string{"j1"}},
		{"type", lethe.RequestQuery{Type: lethe.RequestErase}, []string{"j1", "j3", "j5"}},
		{"state and type", lethe.RequestQuery{State: lethe.RequestPending, Type: lethe.RequestErase}, []string{"j3", "j5"}},
		{"none", lethe.RequestQuery{State: lethe.RequestFailed}, nil},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			for _, limit := range []int{1, 2, 0} {
				q := tc.q
				q.Tenant, q.Limit = "t1", limit
				var got []string
				for range 20 {
					page, err := s.ListRequests(ctx, q)
					if err != nil {
						t.Fatalf("ListRequests: %v", err)
					}
					if limit > 0 && len(page) > limit {
						t.Fatalf("page of %d, limit %d", len(page), limit)
					}
					if len(page) == 0 {
						break
					}
					for _, r := range page {
						if r.Tenant != "t1" {
							t.Fatalf("job %s of tenant %s listed for t1", r.ID, r.Tenant)
						}
						got = append(got, r.ID)
					}
					q.After = page[len(page)-1].ID
				}
				same(t, tc.name, got, tc.want)
			}
		})
	}
	got, err := s.ListRequests(ctx, lethe.RequestQuery{Tenant: "t1", After: "j4", Limit: 1})
	if err != nil || len(got) != 1 {
		t.Fatalf("after j4: %v %v", got, err)
	}
	want, err := s.Request(ctx, "t1", "j5")
	if err != nil {
		t.Fatal(err)
	}
	same(t, "listed job", got[0], want)
}
