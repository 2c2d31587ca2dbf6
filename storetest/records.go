package storetest

import (
	"errors"
	"fmt"
	"sync"
	"testing"
	"time"

	"github.com/lethe-privacy/lethe"
)

var recordTests = map[string]func(*testing.T, Opener){
	"InsertThenReadRoundTrips": func(t *testing.T, open Opener) {
		s := open(t)
		ctx := t.Context()
		r := planned(record("a", "orders", "o1"), lethe.ActionDelete, t0.Add(24*time.Hour))
		r.Plain["big"] = int64(1<<60 + 1) // not representable as float64
		r.Plain["ratio"] = 1.5
		r.Plain["paid"] = true
		r.Plain["lines"] = []any{map[string]any{"sku": "A-1", "qty": int64(2)}}
		r.Subjects = append(r.Subjects,
			lethe.Subject{Kind: "customer_id", Field: "customer", Hash: hash("c-77")},
			lethe.Subject{Kind: "voucher", Field: "code", Hash: hash("v-1"), Unique: true})
		mustInsert(t, s, r)
		got, err := s.Record(ctx, r.Ref())
		if err != nil {
			t.Fatalf("Record: %v", err)
		}
		same(t, "Record", got, r)
	},
	"EmptyPlainReadsBackAsEmptyMap": func(t *testing.T, open Opener) {
		s := open(t)
		r := record("a", "orders", "o1")
		r.Plain = nil
		mustInsert(t, s, r)
		got, err := s.Record(t.Context(), r.Ref())
		if err != nil {
			t.Fatalf("Record: %v", err)
		}
		if got.Plain == nil || len(got.Plain) != 0 {
			t.Fatalf("Plain = %#v, want an empty non-nil map", got.Plain)
		}
	},
	"UnknownRecordIsNotFound": func(t *testing.T, open Opener) {
		s := open(t)
		_, err := s.Record(t.Context(), lethe.RecordRef{Tenant: "a", Collection: "orders", ID: "nope"})
		wantErr(t, "Record", err, lethe.ErrNotFound)
		err = s.UpdateRecord(t.Context(), record("a", "orders", "nope"))
		wantErr(t, "UpdateRecord", err, lethe.ErrNotFound)
		err = s.DeleteRecord(t.Context(), lethe.RecordRef{Tenant: "a", Collection: "orders", ID: "nope"})
		wantErr(t, "DeleteRecord", err, lethe.ErrNotFound)
	},
	"UpdateReplacesFieldsPlanAndSubjects": func(t *testing.T, open Opener) {
		s := open(t)
		ctx := t.Context()
		r := planned(record("a", "orders", "o1"), lethe.ActionAnonymize, t0.Add(time.Hour))
		mustInsert(t, s, r)
		u := record("a", "orders", "o1")
		u.UpdatedAt = t0.Add(2 * time.Hour)
		u.State = lethe.StateAnonymized
		u.Plain = map[string]any{"status": "done"}
		u.Sealed = nil
		u.Subjects = []lethe.Subject{{Kind: "customer_id", Field: "customer", Hash: hash("c-9")}}
		planned(u, lethe.ActionDelete, t0.Add(48*time.Hour))
		if err := s.UpdateRecord(ctx, u); err != nil {
			t.Fatalf("UpdateRecord: %v", err)
		}
		got, err := s.Record(ctx, u.Ref())
		if err != nil {
			t.Fatalf("Record: %v", err)
		}
		if len(got.Sealed) != 0 {
			t.Fatalf("Sealed after update = %v, want none", got.Sealed)
		}
		got.Sealed = nil
		same(t, "updated record", got, u)
		old, err := s.RecordsBySubject(ctx, "a", [][]byte{hash("mail-o1")})
		if err != nil || len(old) != 0 {
			t.Fatalf("old subject still finds %v (err %v)", ids(old), err)
		}
		cur, err := s.RecordsBySubject(ctx, "a", [][]byte{hash("c-9")})
		if err != nil || len(cur) != 1 {
			t.Fatalf("new subject finds %v (err %v), want o1", ids(cur), err)
		}
	},
	"DeleteRemovesRecordAndSubjects": func(t *testing.T, open Opener) {
		s := open(t)
		ctx := t.Context()
		r := record("a", "orders", "o1")
		mustInsert(t, s, r, record("a", "orders", "o2"))
		if err := s.DeleteRecord(ctx, r.Ref()); err != nil {
			t.Fatalf("DeleteRecord: %v", err)
		}
		_, err := s.Record(ctx, r.Ref())
		wantErr(t, "Record after delete", err, lethe.ErrNotFound)
		found, err := s.RecordsBySubject(ctx, "a", [][]byte{hash("mail-o1"), hash("mail-o2")})
		if err != nil {
			t.Fatalf("RecordsBySubject: %v", err)
		}
		same(t, "records by subject after delete", ids(found), []string{"o2"})
		err = s.DeleteRecord(ctx, r.Ref())
		wantErr(t, "second delete", err, lethe.ErrNotFound)
	},
	"DuplicateIDFailsTheWholeBatch": func(t *testing.T, open Opener) {
		s := open(t)
		ctx := t.Context()
		mustInsert(t, s, record("a", "orders", "o1"))
		cases := []struct {
			name  string
			batch []*lethe.Record
			says  string
		}{
			{"id already stored", []*lethe.Record{record("a", "orders", "n1"), record("a", "orders", "o1"), record("a", "orders", "n2")},
				"record o1 exists in collection orders"},
			{"id twice in the batch", []*lethe.Record{record("a", "orders", "n3"), record("a", "orders", "n3")},
				"record n3 exists in collection orders"},
			{"id with a comma", []*lethe.Record{record("a", "orders", "n, 4"), record("a", "orders", "n, 4")},
				"record n, 4 exists in collection orders"},
		}
		for _, c := range cases {
			err := s.InsertRecords(ctx, c.batch)
			wantErr(t, c.name, err, lethe.ErrConflict)
			wantConflict(t, c.name, err, c.says)
			for _, r := range c.batch {
				if r.ID == "o1" {
					continue
				}
				_, err := s.Record(ctx, r.Ref())
				wantErr(t, c.name+": "+r.ID+" of the failed batch", err, lethe.ErrNotFound)
			}
		}
		// The same id in another collection is another record.
		mustInsert(t, s, record("a", "invoices", "o1"))
	},
	"UniqueSubjectOncePerTenantAndCollection": func(t *testing.T, open Opener) {
		s := open(t)
		ctx := t.Context()
		voucher := func(tenant, coll, id, code string, unique bool) *lethe.Record {
			r := record(tenant, coll, id)
			r.Subjects = append(r.Subjects, lethe.Subject{Kind: "voucher", Field: "code", Hash: hash(code), Unique: unique})
			return r
		}
		first := voucher("a", "vouchers", "v1", "SUMMER", true)
		mustInsert(t, s, first)
		err := s.InsertRecords(ctx, []*lethe.Record{voucher("a", "vouchers", "v3", "WINTER", true), voucher("a", "vouchers", "v2", "SUMMER", true)})
		wantErr(t, "same code again", err, lethe.ErrConflict)
		wantConflict(t, "same code again", err, "a record with this voucher exists in collection vouchers")
		for _, id := range []string{"v2", "v3"} {
			_, err = s.Record(ctx, lethe.RecordRef{Tenant: "a", Collection: "vouchers", ID: id})
			wantErr(t, id+" of the failed batch", err, lethe.ErrNotFound)
		}
		// Elsewhere, or not unique, the same hash is fine.
		mustInsert(t, s,
			voucher("a", "coupons", "c1", "SUMMER", true),
			voucher("b", "vouchers", "v1", "SUMMER", true),
			voucher("a", "vouchers", "v4", "SUMMER", false))
		// An update may not take a code either.
		taker := record("a", "vouchers", "v5")
		mustInsert(t, s, taker)
		err = s.UpdateRecord(ctx, voucher("a", "vouchers", "v5", "SUMMER", true))
		wantErr(t, "update to a taken code", err, lethe.ErrConflict)
		wantConflict(t, "update to a taken code", err, "a record with this voucher exists in collection vouchers")
		got, err := s.Record(ctx, taker.Ref())
		if err != nil {
			t.Fatalf("Record: %v", err)
		}
		same(t, "record after refused update", got, taker)
		// Once the holder is deleted the code is free again.
		if err := s.DeleteRecord(ctx, first.Ref()); err != nil {
			t.Fatalf("DeleteRecord: %v", err)
		}
		mustInsert(t, s, voucher("a", "vouchers", "v6", "SUMMER", true))
	},
	"TenantsAreIsolated": func(t *testing.T, open Opener) {
		s := open(t)
		ctx := t.Context()
		ra := planned(record("a", "orders", "o1"), lethe.ActionDelete, t0)
		rb := planned(record("b", "orders", "o1"), lethe.ActionDelete, t0)
		rb.Plain["status"] = "b-only"
		mustInsert(t, s, ra, rb)
		got, err := s.Record(ctx, ra.Ref())
		if err != nil || got.Plain["status"] != "open" {
			t.Fatalf("tenant a's o1 = %v, %v", got, err)
		}
		bySub, err := s.RecordsBySubject(ctx, "a", [][]byte{hash("mail-o1")})
		if err != nil || len(bySub) != 1 || bySub[0].Tenant != "a" {
			t.Fatalf("RecordsBySubject(a) = %v, %v; want a's o1 only", bySub, err)
		}
		scan, err := s.ScanRecords(ctx, "a", "orders", "", 10)
		if err != nil || len(scan) != 1 || scan[0].Tenant != "a" {
			t.Fatalf("ScanRecords(a) = %v, %v; want a's o1 only", scan, err)
		}
		sum, err := s.PlanSummary(ctx, "a", t0.Add(time.Hour))
		if err != nil || len(sum) != 1 || sum[0].Count != 1 {
			t.Fatalf("PlanSummary(a) = %v, %v; want one record", sum, err)
		}
		stats, err := s.Stats(ctx, "a", "orders", "status", false)
		if err != nil {
			t.Fatalf("Stats: %v", err)
		}
		same(t, "Stats(a)", stats, []lethe.StatRow{{Value: "open", Count: 1}})

		if err := s.DeleteRecord(ctx, ra.Ref()); err != nil {
			t.Fatalf("DeleteRecord: %v", err)
		}
		if _, err := s.Record(ctx, rb.Ref()); err != nil {
			t.Fatalf("tenant b's o1 after deleting a's: %v", err)
		}
		ub := record("a", "orders", "o1")
		err = s.UpdateRecord(ctx, ub)
		wantErr(t, "update of a's deleted o1", err, lethe.ErrNotFound)
		got, err = s.Record(ctx, rb.Ref())
		if err != nil || got.Plain["status"] != "b-only" {
			t.Fatalf("tenant b's o1 = %v, %v; want unchanged", got, err)
		}
	},
	"RecordsBySubjectReturnsEachRecordOnce": func(t *testing.T, open Opener) {
		s := open(t)
		ctx := t.Context()
		r1 := record("a", "orders", "o1")
		r1.Subjects = append(r1.Subjects, lethe.Subject{Kind: "phone", Field: "phone", Hash: hash("+49301234")})
		r2 := record("a", "invoices", "i1")
		r2.Subjects = []lethe.Subject{{Kind: "phone", Field: "phone", Hash: hash("+49301234")}}
		mustInsert(t, s, r1, r2, record("a", "orders", "o2"))
		got, err := s.RecordsBySubject(ctx, "a", [][]byte{hash("mail-o1"), hash("+49301234"), hash("unknown")})
		if err != nil {
			t.Fatalf("RecordsBySubject: %v", err)
		}
		if len(got) != 2 {
			t.Fatalf("got %v, want i1 and o1 once each", ids(got))
		}
		for _, r := range got {
			want := r1
			if r.ID == "i1" {
				want = r2
			}
			same(t, "record "+r.ID, r, want)
		}
		none, err := s.RecordsBySubject(ctx, "a", nil)
		if err != nil || len(none) != 0 {
			t.Fatalf("RecordsBySubject(no hashes) = %v, %v", ids(none), err)
		}
	},
	"ScanPagesInIDOrder": func(t *testing.T, open Opener) {
		s := open(t)
		ctx := t.Context()
		var recs []*lethe.Record
		for _, i := range []int{7, 3, 25, 1, 12, 9, 18, 4, 21, 15, 2, 11} {
			recs = append(recs, record("a", "orders", idf(i)))
		}
		mustInsert(t, s, recs...)
		mustInsert(t, s, record("a", "invoices", idf(5)), record("b", "orders", idf(6)))
		var all []string
		after := ""
		for pages := 0; ; pages++ {
			page, err := s.ScanRecords(ctx, "a", "orders", after, 5)
			if err != nil {
				t.Fatalf("ScanRecords: %v", err)
			}
			if len(page) > 5 {
				t.Fatalf("page of %d records, limit 5", len(page))
			}
			if len(page) == 0 {
				break
			}
			all = append(all, ids(page)...)
			after = page[len(page)-1].ID
			if pages > 10 {
				t.Fatal("paging does not end")
			}
		}
		want := []string{idf(1), idf(2), idf(3), idf(4), idf(7), idf(9), idf(11), idf(12), idf(15), idf(18), idf(21), idf(25)}
		same(t, "scanned ids", all, want)
	},
	"ConcurrentInsertsAllLand": func(t *testing.T, open Opener) {
		s := open(t)
		ctx := t.Context()
		mustInsert(t, s, record("a", "orders", "taken"))
		const writers, calls, perCall = 50, 4, 5
		var (
			wg        sync.WaitGroup
			mu        sync.Mutex
			conflicts int
			failures  []error
		)
		for w := range writers {
			wg.Add(1)
			go func() {
				defer wg.Done()
				for c := range calls {
					var batch []*lethe.Record
					for i := range perCall {
						batch = append(batch, record("a", "orders", fmt.Sprintf("w%02d-c%d-%d", w, c, i)))
					}
					err := s.InsertRecords(ctx, batch)
					if err != nil {
						mu.Lock()
						failures = append(failures, err)
						mu.Unlock()
					}
					// Every fifth writer also sends a call that must fail
					// alone: its first record is new, its second taken.
					if w%5 == 0 {
						bad := []*lethe.Record{record("a", "orders", fmt.Sprintf("bad-w%02d-c%d", w, c)), record("a", "orders", "taken")}
						err := s.InsertRecords(ctx, bad)
						mu.Lock()
						if errors.Is(err, lethe.ErrConflict) {
							conflicts++
						} else {
							failures = append(failures, fmt.Errorf("conflicting call: got %v, want ErrConflict", err))
						}
						mu.Unlock()
					}
				}
			}()
		}
		wg.Wait()
		if len(failures) > 0 {
			t.Fatalf("%d calls failed, first: %v", len(failures), failures[0])
		}
		if want := writers / 5 * calls; conflicts != want {
			t.Fatalf("%d conflicts, want %d", conflicts, want)
		}
		n, bad := 0, 0
		after := ""
		for {
			page, err := s.ScanRecords(ctx, "a", "orders", after, 300)
			if err != nil {
				t.Fatalf("ScanRecords: %v", err)
			}
			if len(page) == 0 {
				break
			}
			for _, r := range page {
				if len(r.ID) > 3 && r.ID[:4] == "bad-" {
					bad++
				}
			}
			n += len(page)
			after = page[len(page)-1].ID
		}
		if want := writers*calls*perCall + 1; n != want || bad != 0 {
			t.Fatalf("%d records stored (%d of failed calls), want %d and 0", n, bad, want)
		}
	},
	"CheckpointAfterWrites": func(t *testing.T, open Opener) {
		s := open(t)
		ctx := t.Context()
		r := record("a", "orders", "o1")
		mustInsert(t, s, r)
		if err := s.DeleteRecord(ctx, r.Ref()); err != nil {
			t.Fatalf("DeleteRecord: %v", err)
		}
		if err := s.Checkpoint(ctx); err != nil {
			t.Fatalf("Checkpoint: %v", err)
		}
		if _, err := s.Record(ctx, r.Ref()); !errors.Is(err, lethe.ErrNotFound) {
			t.Fatalf("Record after checkpoint: %v, want ErrNotFound", err)
		}
	},
}
