package storetest

import (
	"errors"
	"sort"
	"testing"
	"time"

	"github.com/lethe-privacy/lethe"
)

var sweepTests = map[string]func(*testing.T, Opener){
	"DueRecordsOldestFirstAcrossTenantsUpToLimit": func(t *testing.T, open Opener) {
		s := open(t)
		ctx := t.Context()
		mustInsert(t, s,
			planned(record("a", "orders", "due3h"), lethe.ActionDelete, t0.Add(3*time.Hour)),
			planned(record("b", "orders", "due1h"), lethe.ActionAnonymize, t0.Add(1*time.Hour)),
			planned(record("a", "chats", "due2h"), lethe.ActionDelete, t0.Add(2*time.Hour)),
			planned(record("a", "orders", "due5h"), lethe.ActionDelete, t0.Add(5*time.Hour)), // exactly now: due
			planned(record("a", "orders", "later"), lethe.ActionDelete, t0.Add(5*time.Hour+time.Millisecond)),
			record("a", "orders", "unplanned"))
		now := t0.Add(5 * time.Hour)
		cases := []struct {
			limit int
			want  []string
		}{
			{10, []string{"due1h", "due2h", "due3h", "due5h"}},
			{2, []string{"due1h", "due2h"}},
		}
		for _, c := range cases {
			got, err := s.DueRecords(ctx, now, c.limit)
			if err != nil {
				t.Fatalf("DueRecords: %v", err)
			}
			same(t, "due ids", ids(got), c.want)
			if got[0].Tenant != "b" || got[0].Plan.Action != lethe.ActionAnonymize || !got[0].Plan.DueAt.Equal(t0.Add(time.Hour)) {
				t.Fatalf("first due record = %+v, want b's anonymize due at t0+1h", got[0])
			}
		}
		none, err := s.DueRecords(ctx, t0, 10)
		if err != nil || len(none) != 0 {
			t.Fatalf("DueRecords before anything is due = %v, %v", ids(none), err)
		}
	},
	"ApplyBatchRefusesManagerLogEntries": func(t *testing.T, open Opener) {
		s := open(t)
		ctx := t.Context()
		r := record("a", "orders", "kept")
		mustInsert(t, s, r)
		err := s.ApplyBatch(ctx, &lethe.Batch{Deletes: []lethe.RecordRef{r.Ref()},
			Audit: []*lethe.AuditEntry{{Tenant: "a", Log: lethe.LogManager, Time: t0, Actor: "sweeper", Event: "sweep"}}})
		if !errors.Is(err, lethe.ErrInvalid) {
			t.Fatalf("ApplyBatch with a manager-log entry: %v, want ErrInvalid", err)
		}
		if _, err := s.Record(ctx, r.Ref()); err != nil {
			t.Fatalf("the refused batch deleted its record: %v", err)
		}
	},
	"ApplyBatchIsAtomic": func(t *testing.T, open Opener) {
		s := open(t)
		ctx := t.Context()
		holder := record("a", "vouchers", "holder")
		holder.Subjects = append(holder.Subjects, lethe.Subject{Kind: "voucher", Field: "code", Hash: hash("X1"), Unique: true})
		del := record("a", "vouchers", "del")
		upd := record("a", "vouchers", "upd")
		mustInsert(t, s, holder, del, upd)
		bad := record("a", "vouchers", "upd")
		bad.Subjects = []lethe.Subject{{Kind: "voucher", Field: "code", Hash: hash("X1"), Unique: true}}
		err := s.ApplyBatch(ctx, &lethe.Batch{
			Deletes: []lethe.RecordRef{del.Ref()},
			Updates: []*lethe.Record{bad},
			Audit:   []*lethe.AuditEntry{{Tenant: "a", Log: lethe.LogRuntime, Time: t0, Actor: "sweeper", Event: "sweep"}},
		})
		wantErr(t, "batch with a conflicting update", err, lethe.ErrConflict)
		if _, err := s.Record(ctx, del.Ref()); err != nil {
			t.Fatalf("record deleted by a failed batch: %v", err)
		}
		got, err := s.Record(ctx, upd.Ref())
		if err != nil {
			t.Fatalf("Record: %v", err)
		}
		same(t, "record of a failed batch", got, upd)
		entries, err := s.AuditEntries(ctx, lethe.AuditQuery{Tenant: "a", Log: lethe.LogRuntime})
		if err != nil || len(entries) != 0 {
			t.Fatalf("audit of a failed batch: %d entries, %v", len(entries), err)
		}
	},
	"ApplyBatchAppliesAllAndSkipsMissing": func(t *testing.T, open Opener) {
		s := open(t)
		ctx := t.Context()
		del := planned(record("a", "orders", "del"), lethe.ActionDelete, t0)
		anon := planned(record("a", "orders", "anon"), lethe.ActionAnonymize, t0)
		mustInsert(t, s, del, anon)
		after := record("a", "orders", "anon")
		after.State = lethe.StateAnonymized
		after.Sealed = nil
		after.Plain = map[string]any{"status": "open"}
		after.Subjects = nil
		after.UpdatedAt = t0.Add(time.Minute)
		planned(after, lethe.ActionDelete, t0.Add(365*24*time.Hour))
		b := &lethe.Batch{
			Deletes: []lethe.RecordRef{del.Ref(), {Tenant: "a", Collection: "orders", ID: "gone"}},
			Updates: []*lethe.Record{after, record("a", "orders", "missing")},
			Audit:   []*lethe.AuditEntry{{Tenant: "a", Log: lethe.LogRuntime, Time: t0, Actor: "sweeper", Event: "sweep", Data: []byte(`{"deleted":1,"anonymized":1}`)}},
		}
		if err := s.ApplyBatch(ctx, b); err != nil {
			t.Fatalf("ApplyBatch: %v", err)
		}
		_, err := s.Record(ctx, del.Ref())
		wantErr(t, "deleted record", err, lethe.ErrNotFound)
		_, err = s.Record(ctx, lethe.RecordRef{Tenant: "a", Collection: "orders", ID: "missing"})
		wantErr(t, "skipped update", err, lethe.ErrNotFound)
		got, err := s.Record(ctx, after.Ref())
		if err != nil {
			t.Fatalf("Record: %v", err)
		}
		if len(got.Sealed) != 0 || len(got.Subjects) != 0 {
			t.Fatalf("anonymized record keeps sealed %v, subjects %v", got.Sealed, got.Subjects)
		}
		got.Sealed, got.Subjects = nil, nil
		same(t, "anonymized record", got, after)
		found, err := s.RecordsBySubject(ctx, "a", [][]byte{hash("mail-del"), hash("mail-anon")})
		if err != nil || len(found) != 0 {
			t.Fatalf("subjects outlive the batch: %v, %v", ids(found), err)
		}
		due, err := s.DueRecords(ctx, t0.Add(time.Hour), 10)
		if err != nil || len(due) != 0 {
			t.Fatalf("due after the batch: %v, %v", ids(due), err)
		}
		// A retry after a crash repeats the deletes: nothing to do, no error.
		if err := s.ApplyBatch(ctx, &lethe.Batch{Deletes: b.Deletes}); err != nil {
			t.Fatalf("repeated deletes: %v", err)
		}
		entries, err := s.AuditEntries(ctx, lethe.AuditQuery{Tenant: "a", Log: lethe.LogRuntime})
		if err != nil || len(entries) != 1 || entries[0].Event != "sweep" {
			t.Fatalf("audit after batch: %v, %v; want the sweep entry", entries, err)
		}
	},
	"UpdatePlansGuardedByUpdatedAt": func(t *testing.T, open Opener) {
		s := open(t)
		ctx := t.Context()
		fresh := record("a", "orders", "fresh")
		stale := record("a", "orders", "stale")
		mustInsert(t, s, fresh, stale)
		plan := lethe.Plan{Action: lethe.ActionDelete, Rule: "delete-after", DueAt: t0.Add(time.Hour)}
		n, err := s.UpdatePlans(ctx, []lethe.PlanUpdate{
			{Ref: fresh.Ref(), UpdatedAt: t0, Plan: plan},
			{Ref: stale.Ref(), UpdatedAt: t0.Add(-time.Second), Plan: plan},
			{Ref: lethe.RecordRef{Tenant: "a", Collection: "orders", ID: "missing"}, UpdatedAt: t0, Plan: plan},
			{Ref: lethe.RecordRef{Tenant: "b", Collection: "orders", ID: "fresh"}, UpdatedAt: t0, Plan: plan},
		})
		if err != nil || n != 1 {
			t.Fatalf("UpdatePlans = %d, %v; want 1 row changed", n, err)
		}
		got, err := s.Record(ctx, fresh.Ref())
		if err != nil {
			t.Fatalf("Record: %v", err)
		}
		want := *fresh
		want.Plan = plan
		same(t, "replanned record", got, &want)
		got, err = s.Record(ctx, stale.Ref())
		if err != nil || got.Plan.Planned() {
			t.Fatalf("stale record got plan %+v (err %v), want none", got.Plan, err)
		}
		// Clearing a plan takes the record out of the work queue.
		n, err = s.UpdatePlans(ctx, []lethe.PlanUpdate{{Ref: fresh.Ref(), UpdatedAt: t0}})
		if err != nil || n != 1 {
			t.Fatalf("clearing plan = %d, %v", n, err)
		}
		due, err := s.DueRecords(ctx, t0.Add(2*time.Hour), 10)
		if err != nil || len(due) != 0 {
			t.Fatalf("due after clearing = %v, %v", ids(due), err)
		}
	},
	"PlanSummaryCountsByCollectionActionAndDay": func(t *testing.T, open Opener) {
		s := open(t)
		ctx := t.Context()
		day1 := time.Date(2025, 3, 2, 0, 0, 0, 0, time.UTC)
		day2 := day1.Add(24 * time.Hour)
		mustInsert(t, s,
			planned(record("a", "orders", "o1"), lethe.ActionDelete, day1.Add(time.Hour)),
			planned(record("a", "orders", "o2"), lethe.ActionDelete, day1.Add(23*time.Hour+59*time.Minute)),
			planned(record("a", "orders", "o3"), lethe.ActionAnonymize, day1.Add(2*time.Hour)),
			planned(record("a", "orders", "o4"), lethe.ActionDelete, day2.Add(time.Hour)),
			planned(record("a", "chats", "c1"), lethe.ActionDelete, day2),
			planned(record("a", "chats", "c2"), lethe.ActionDelete, day2.Add(5*time.Hour)), // after until
			record("a", "chats", "c3"),
			planned(record("b", "orders", "o1"), lethe.ActionDelete, day1))
		got, err := s.PlanSummary(ctx, "a", day2.Add(4*time.Hour))
		if err != nil {
			t.Fatalf("PlanSummary: %v", err)
		}
		sortBuckets(got)
		want := []lethe.PlanBucket{
			{Collection: "chats", Action: lethe.ActionDelete, Day: "2025-03-03", Count: 1},
			{Collection: "orders", Action: lethe.ActionAnonymize, Day: "2025-03-02", Count: 1},
			{Collection: "orders", Action: lethe.ActionDelete, Day: "2025-03-02", Count: 2},
			{Collection: "orders", Action: lethe.ActionDelete, Day: "2025-03-03", Count: 1},
		}
		same(t, "PlanSummary", got, want)
	},
	"OverdueCountsAndOldest": func(t *testing.T, open Opener) {
		s := open(t)
		ctx := t.Context()
		n, oldest, err := s.Overdue(ctx, t0)
		if err != nil || n != 0 || !oldest.IsZero() {
			t.Fatalf("Overdue on empty store = %d, %v, %v", n, oldest, err)
		}
		mustInsert(t, s,
			planned(record("a", "orders", "o1"), lethe.ActionDelete, t0.Add(-2*time.Hour)),
			planned(record("b", "orders", "o2"), lethe.ActionDelete, t0.Add(-time.Hour)),
			planned(record("a", "orders", "o3"), lethe.ActionDelete, t0.Add(time.Hour)),
			record("a", "orders", "o4"))
		n, oldest, err = s.Overdue(ctx, t0)
		if err != nil || n != 2 || !oldest.Equal(t0.Add(-2*time.Hour)) {
			t.Fatalf("Overdue = %d, %v, %v; want 2 since t0-2h", n, oldest, err)
		}
	},
	"StatsGroupByFieldAndDay": func(t *testing.T, open Opener) {
		s := open(t)
		ctx := t.Context()
		mk := func(id string, created time.Time, status any) *lethe.Record {
			r := record("a", "orders", id)
			r.CreatedAt, r.UpdatedAt = created, created
			if status == nil {
				delete(r.Plain, "status")
			} else {
				r.Plain["status"] = status
			}
			return r
		}
		d1 := time.Date(2025, 3, 1, 23, 59, 0, 0, time.UTC)
		d2 := time.Date(2025, 3, 2, 0, 1, 0, 0, time.UTC)
		mustInsert(t, s,
			mk("o1", d1, "open"), mk("o2", d1, "open"), mk("o3", d2, "open"),
			mk("o4", d2, "shipped"), mk("o5", d2, nil), mk("o6", d1, int64(3)), mk("o7", d2, true))
		mustInsert(t, s, record("a", "chats", "c1"), record("b", "orders", "o1"))
		got, err := s.Stats(ctx, "a", "orders", "status", false)
		if err != nil {
			t.Fatalf("Stats: %v", err)
		}
		same(t, "Stats", sortStats(got), sortStats([]lethe.StatRow{
			{Value: nil, Count: 1}, {Value: int64(3), Count: 1}, {Value: "open", Count: 3},
			{Value: "shipped", Count: 1}, {Value: true, Count: 1},
		}))
		got, err = s.Stats(ctx, "a", "orders", "status", true)
		if err != nil {
			t.Fatalf("Stats per day: %v", err)
		}
		same(t, "Stats per day", sortStats(got), sortStats([]lethe.StatRow{
			{Value: "open", Day: "2025-03-01", Count: 2}, {Value: int64(3), Day: "2025-03-01", Count: 1},
			{Value: nil, Day: "2025-03-02", Count: 1}, {Value: "open", Day: "2025-03-02", Count: 1},
			{Value: "shipped", Day: "2025-03-02", Count: 1}, {Value: true, Day: "2025-03-02", Count: 1},
		}))
		for _, bad := range []string{"", "Status", "status') --", "a.b", "1x"} {
			_, err := s.Stats(ctx, "a", "orders", bad, false)
			if !errors.Is(err, lethe.ErrInvalid) {
				t.Fatalf("Stats field %q: got %v, want ErrInvalid", bad, err)
			}
		}
	},
}

func sortBuckets(b []lethe.PlanBucket) {
	sort.Slice(b, func(i, j int) bool {
		x, y := b[i], b[j]
		if x.Collection != y.Collection {
			return x.Collection < y.Collection
		}
		if x.Action != y.Action {
			return x.Action < y.Action
		}
		return x.Day < y.Day
	})
}

// sortStats orders rows by day and the printed value, since the Store
// contract fixes no order.
func sortStats(rows []lethe.StatRow) []lethe.StatRow {
	key := func(r lethe.StatRow) string { return r.Day + "|" + printValue(r.Value) }
	sort.Slice(rows, func(i, j int) bool { return key(rows[i]) < key(rows[j]) })
	return rows
}
