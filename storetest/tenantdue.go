package storetest

import (
	"testing"
	"time"

	"github.com/lethe-privacy/lethe"
)

var tenantDueTests = map[string]func(*testing.T, Opener){
	"TenantDueRecordsOneTenantOldestFirst": func(t *testing.T, open Opener) {
		s := open(t)
		ctx := t.Context()
		mustInsert(t, s,
			planned(record("a", "orders", "a3h"), lethe.ActionDelete, t0.Add(3*time.Hour)),
			planned(record("b", "orders", "b1h"), lethe.ActionAnonymize, t0.Add(1*time.Hour)),
			planned(record("a", "chats", "a2h"), lethe.ActionDelete, t0.Add(2*time.Hour)),
			planned(record("a", "orders", "a5h"), lethe.ActionDelete, t0.Add(5*time.Hour)), // exactly now: due
			planned(record("a", "orders", "later"), lethe.ActionDelete, t0.Add(5*time.Hour+time.Millisecond)),
			planned(record("ab", "orders", "ab1h"), lethe.ActionDelete, t0.Add(time.Hour)), // a prefix is not the tenant
			record("a", "orders", "unplanned"))
		now := t0.Add(5 * time.Hour)
		for _, c := range []struct {
			tenant string
			limit  int
			want   []string
		}{
			{"a", 10, []string{"a2h", "a3h", "a5h"}},
			{"a", 2, []string{"a2h", "a3h"}},
			{"b", 10, []string{"b1h"}},
			{"c", 10, []string{}},
		} {
			got, err := s.TenantDueRecords(ctx, c.tenant, now, c.limit)
			if err != nil {
				t.Fatalf("TenantDueRecords %s: %v", c.tenant, err)
			}
			same(t, "due ids of "+c.tenant, ids(got), c.want)
			for _, r := range got {
				if r.Tenant != c.tenant {
					t.Fatalf("TenantDueRecords %s returned a record of %s", c.tenant, r.Tenant)
				}
			}
		}
		if got, err := s.TenantDueRecords(ctx, "a", now, 0); err != nil || len(got) != 0 {
			t.Fatalf("limit 0 = %v, %v", ids(got), err)
		}
	},
}
