package storetest

import (
	"testing"
	"time"

	"github.com/lethe-privacy/lethe"
)

var leaseTests = map[string]func(*testing.T, Opener){
	"OneOwnerAtATime": func(t *testing.T, open Opener) {
		s := open(t)
		ctx := t.Context()
		a := lethe.Lease{Name: "sweep", Owner: "a", Until: t0.Add(time.Minute)}
		b := lethe.Lease{Name: "sweep", Owner: "b", Until: t0.Add(2 * time.Minute)}
		take := func(l lethe.Lease, now time.Time, want bool) {
			t.Helper()
			got, err := s.TakeLease(ctx, l, now)
			if err != nil {
				t.Fatalf("TakeLease(%s at %s): %v", l.Owner, now.Format(time.TimeOnly), err)
			}
			if got != want {
				t.Fatalf("TakeLease(%s at %s) = %v, want %v", l.Owner, now.Format(time.TimeOnly), got, want)
			}
		}
		take(a, t0, true)                                                      // free
		take(b, t0.Add(30*time.Second), false)                                 // held by a
		take(lethe.Lease{Name: "other", Owner: "b", Until: a.Until}, t0, true) // names are independent
		a.Until = t0.Add(90 * time.Second)
		take(a, t0.Add(59*time.Second), true)  // a renews
		take(b, t0.Add(80*time.Second), false) // the renewal counts
		take(b, t0.Add(90*time.Second), true)  // ran out: b takes over
		take(a, t0.Add(91*time.Second), false) // and a lost it
	},
	"ApplyBatchIsFenced": func(t *testing.T, open Opener) {
		s := open(t)
		ctx := t.Context()
		mustInsert(t, s, record("t1", "orders", "o1"), record("t1", "orders", "o2"))
		a := lethe.Lease{Name: "sweep", Owner: "a", Until: t0.Add(time.Minute)}
		if ok, err := s.TakeLease(ctx, a, t0); err != nil || !ok {
			t.Fatalf("TakeLease(a) = %v, %v", ok, err)
		}
		if err := s.ApplyBatch(ctx, &lethe.Batch{Lease: &a, Deletes: []lethe.RecordRef{{Tenant: "t1", Collection: "orders", ID: "o1"}}}); err != nil {
			t.Fatalf("ApplyBatch under a held lease: %v", err)
		}
		b := lethe.Lease{Name: "sweep", Owner: "b", Until: t0.Add(3 * time.Minute)}
		if ok, err := s.TakeLease(ctx, b, t0.Add(2*time.Minute)); err != nil || !ok {
			t.Fatalf("TakeLease(b) after a ran out = %v, %v", ok, err)
		}
		err := s.ApplyBatch(ctx, &lethe.Batch{Lease: &a, Deletes: []lethe.RecordRef{{Tenant: "t1", Collection: "orders", ID: "o2"}}})
		wantErr(t, "ApplyBatch under a lost lease", err, lethe.ErrLeaseLost)
		if _, err := s.Record(ctx, lethe.RecordRef{Tenant: "t1", Collection: "orders", ID: "o2"}); err != nil {
			t.Fatalf("the fenced batch deleted o2 anyway: %v", err)
		}
		never := lethe.Lease{Name: "never-taken", Owner: "a"}
		err = s.ApplyBatch(ctx, &lethe.Batch{Lease: &never, Deletes: []lethe.RecordRef{{Tenant: "t1", Collection: "orders", ID: "o2"}}})
		wantErr(t, "ApplyBatch under a lease never taken", err, lethe.ErrLeaseLost)
	},
}
