package sqlite

import (
	"testing"
	"time"

	"github.com/lethe-privacy/lethe"
)

// TestDeletes_TakeTheirSubjectRows: a record's blind-index rows go with
// it, whichever path deletes it (a sweep's batch, a single DELETE), and
// another record's stay. The trigger of migration 00014 does it: without
// it the hashes of erased people would linger in the subjects table.
func TestDeletes_TakeTheirSubjectRows(t *testing.T) {
	s := openTemp(t)
	ctx := t.Context()
	recs := []*lethe.Record{rec("a", "orders", "o1"), rec("a", "orders", "o2"), rec("a", "orders", "o3")}
	if err := s.InsertRecords(ctx, recs); err != nil {
		t.Fatal(err)
	}
	count := func() int {
		t.Helper()
		var n int
		if err := s.writer.QueryRowContext(ctx, "SELECT COUNT(*) FROM subjects").Scan(&n); err != nil {
			t.Fatal(err)
		}
		return n
	}
	if n := count(); n != 3 {
		t.Fatalf("%d subject rows after insert, want 3", n)
	}
	o1 := lethe.RecordRef{Tenant: "a", Collection: "orders", ID: "o1"}
	if err := s.ApplyBatch(ctx, &lethe.Batch{Deletes: []lethe.RecordRef{o1}, Unchanged: map[lethe.RecordRef]time.Time{o1: t0}}); err != nil {
		t.Fatal(err)
	}
	if n := count(); n != 2 {
		t.Fatalf("%d subject rows after a sweep's delete, want 2", n)
	}
	if err := s.DeleteRecord(ctx, lethe.RecordRef{Tenant: "a", Collection: "orders", ID: "o2"}); err != nil {
		t.Fatal(err)
	}
	if n := count(); n != 1 {
		t.Fatalf("%d subject rows after DELETE, want 1 (o3's)", n)
	}
}
