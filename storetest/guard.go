package storetest

import (
	"testing"
	"time"

	"github.com/lethe-privacy/lethe"
)

var guardTests = map[string]func(*testing.T, Opener){
	"ApplyBatchWritesNothingWhenARecordChangedSinceRead": func(t *testing.T, open Opener) {
		s := open(t)
		ctx := t.Context()
		mustInsert(t, s, record("t1", "orders", "o1"), record("t1", "orders", "o2"), record("t1", "orders", "o3"))
		ref := func(id string) lethe.RecordRef { return lethe.RecordRef{Tenant: "t1", Collection: "orders", ID: id} }

		// o2 is written after the batch's author read it.
		o2, err := s.Record(ctx, ref("o2"))
		if err != nil {
			t.Fatal(err)
		}
		o2.UpdatedAt = t0.Add(time.Minute)
		o2.Plain["status"] = "held"
		if err := s.UpdateRecord(ctx, o2); err != nil {
			t.Fatal(err)
		}
		stale := map[lethe.RecordRef]time.Time{ref("o1"): t0, ref("o2"): t0}
		err = s.ApplyBatch(ctx, &lethe.Batch{Deletes: []lethe.RecordRef{ref("o1"), ref("o2")}, Unchanged: stale,
			Audit: []*lethe.AuditEntry{{Tenant: "t1", Log: lethe.LogSecurity, Time: t0, Actor: "sweeper", Event: "sweep.batch"}}})
		wantErr(t, "ApplyBatch over a record written since it was read", err, lethe.ErrConflict)
		for _, id := range []string{"o1", "o2"} {
			if _, err := s.Record(ctx, ref(id)); err != nil {
				t.Fatalf("%s after the refused batch: %v; want it kept", id, err)
			}
		}
		if got, _ := s.AuditEntries(ctx, lethe.AuditQuery{Tenant: "t1", Log: lethe.LogSecurity}); len(got) != 0 {
			t.Fatalf("the refused batch wrote %d audit entries", len(got))
		}

		// A record deleted since it was read refuses the batch too.
		if err := s.DeleteRecord(ctx, ref("o3")); err != nil {
			t.Fatal(err)
		}
		err = s.ApplyBatch(ctx, &lethe.Batch{Deletes: []lethe.RecordRef{ref("o1"), ref("o3")},
			Unchanged: map[lethe.RecordRef]time.Time{ref("o1"): t0, ref("o3"): t0}})
		wantErr(t, "ApplyBatch over a record deleted since it was read", err, lethe.ErrConflict)

		// Read again, the batch applies.
		fresh := map[lethe.RecordRef]time.Time{ref("o1"): t0, ref("o2"): t0.Add(time.Minute)}
		if err := s.ApplyBatch(ctx, &lethe.Batch{Deletes: []lethe.RecordRef{ref("o1"), ref("o2")}, Unchanged: fresh}); err != nil {
			t.Fatalf("ApplyBatch with what is stored: %v", err)
		}
		for _, id := range []string{"o1", "o2"} {
			_, err := s.Record(ctx, ref(id))
			wantErr(t, id+" after the batch", err, lethe.ErrNotFound)
		}
	},
}
