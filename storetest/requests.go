package storetest

import (
	"errors"
	"reflect"
	"sync"
	"testing"
	"time"

	"github.com/lethe-privacy/lethe"
)

// requestTests cover the RequestStore part of the interface.
var requestTests = map[string]func(*testing.T, Opener){
	"IdenticalActiveRequestIsReturnedNotRepeated": testRequestIdempotent,
	"RequestIsScopedByTenant":                     testRequestTenantScope,
	"ClaimHonoursLease":                           testRequestClaimLease,
	"BatchAppliesWorkAndProgressTogether":         testRequestBatch,
	"ScopeRecordsPagesByOrigin":                   testScopeRecords,
	"ExpiredExportsAreDeleted":                    testExpiredExports,
	"OriginsReportFirstRecord":                    testOrigins,
}

func newJob(id string) *lethe.Request {
	return &lethe.Request{ID: id, Tenant: "t1", Type: lethe.RequestErase, Scope: lethe.RequestScope{Kind: lethe.ScopeOrigin, Origin: "amazon"},
		ScopeKey: "origin:amazon", Actor: "test", State: lethe.RequestPending, CreatedAt: t0}
}

func testRequestIdempotent(t *testing.T, open Opener) {
	s := open(t)
	ctx := t.Context()
	const n = 8
	ids := make([]string, n)
	created := make([]bool, n)
	var wg sync.WaitGroup
	for i := range n {
		wg.Add(1)
		go func() {
			defer wg.Done()
			j, c, err := s.CreateRequest(ctx, newJob(idf(i)))
			if err != nil {
				t.Error(err)
				return
			}
			ids[i], created[i] = j.ID, c
		}()
	}
	wg.Wait()
	k := 0
	for i := range n {
		if ids[i] != ids[0] {
			t.Fatalf("several jobs: %v", ids)
		}
		if created[i] {
			k++
		}
	}
	if k != 1 {
		t.Fatalf("%d created, want 1", k)
	}
	// Once the job is done, the same request makes a new one.
	j, err := s.ClaimRequest(ctx, "me", t0, t0.Add(time.Minute))
	if err != nil {
		t.Fatal(err)
	}
	j.State = lethe.RequestDone
	if err := s.ApplyRequestBatch(ctx, &lethe.RequestBatch{Job: j}); err != nil {
		t.Fatal(err)
	}
	if got, c, err := s.CreateRequest(ctx, newJob("again")); err != nil || !c || got.ID != "again" {
		t.Fatalf("after done: %v %v %v", got, c, err)
	}
	// A dry run is another request.
	dry := newJob("dry")
	dry.DryRun = true
	if _, c, err := s.CreateRequest(ctx, dry); err != nil || !c {
		t.Fatalf("dry run beside the real one: created %v, %v", c, err)
	}
}

func testRequestTenantScope(t *testing.T, open Opener) {
	s := open(t)
	if _, _, err := s.CreateRequest(t.Context(), newJob("j1")); err != nil {
		t.Fatal(err)
	}
	if _, err := s.Request(t.Context(), "t2", "j1"); !errors.Is(err, lethe.ErrNotFound) {
		t.Fatalf("another tenant's job: %v", err)
	}
	j, err := s.Request(t.Context(), "t1", "j1")
	if err != nil || j.Scope.Origin != "amazon" || j.State != lethe.RequestPending || !j.CreatedAt.Equal(t0) {
		t.Fatalf("read back: %+v %v", j, err)
	}
}

func testRequestClaimLease(t *testing.T, open Opener) {
	s := open(t)
	ctx := t.Context()
	s.CreateRequest(ctx, newJob("j1"))
	j, err := s.ClaimRequest(ctx, "a", t0, t0.Add(time.Minute))
	if err != nil || j.ID != "j1" || j.State != lethe.RequestRunning || j.Owner != "a" {
		t.Fatalf("claim: %+v %v", j, err)
	}
	if _, err := s.ClaimRequest(ctx, "b", t0.Add(time.Second), t0.Add(time.Minute)); !errors.Is(err, lethe.ErrNotFound) {
		t.Fatalf("claimed under a live lease: %v", err)
	}
	j2, err := s.ClaimRequest(ctx, "b", t0.Add(2*time.Minute), t0.Add(3*time.Minute))
	if err != nil || j2.Owner != "b" {
		t.Fatalf("take-over after the lease: %+v %v", j2, err)
	}
	// The old owner's batch is refused.
	if err := s.ApplyRequestBatch(ctx, &lethe.RequestBatch{Job: j}); !errors.Is(err, lethe.ErrConflict) {
		t.Fatalf("stale owner's batch: %v", err)
	}
}

func testRequestBatch(t *testing.T, open Opener) {
	s := open(t)
	ctx := t.Context()
	mustInsert(t, s, record("t1", "orders", "r1"), record("t1", "orders", "r2"))
	s.CreateRequest(ctx, newJob("j1"))
	j, _ := s.ClaimRequest(ctx, "me", t0, t0.Add(time.Minute))
	j.Phase, j.Cursor, j.Processed, j.Total, j.Result = "apply", lethe.RecordCursor{Collection: "orders", ID: "r2"}, 2, 2, []byte(`{"counts":{}}`)
	j.ExportChunks, j.ExportExpiresAt = 1, t0.Add(time.Hour)
	upd := record("t1", "orders", "r2")
	upd.State = lethe.StateAnonymized
	upd.UpdatedAt = t0.Add(time.Second)
	until := t0.AddDate(10, 0, 0)
	err := s.ApplyRequestBatch(ctx, &lethe.RequestBatch{
		Deletes: []lethe.RecordRef{{Tenant: "t1", Collection: "orders", ID: "r1"}},
		Updates: []*lethe.Record{upd},
		Items: []lethe.RequestItem{{Collection: "orders", RecordID: "r1", Action: lethe.ActionDelete},
			{Collection: "orders", RecordID: "r2", Action: lethe.ActionAnonymize, Fields: []string{"email", "name"}},
			{Collection: "docs", RecordID: "d1", Action: lethe.ActionHold, Reason: "law", Until: until}},
		Chunk: []byte("sealed"),
		Job:   j,
	})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := s.Record(ctx, lethe.RecordRef{Tenant: "t1", Collection: "orders", ID: "r1"}); !errors.Is(err, lethe.ErrNotFound) {
		t.Fatalf("deleted record: %v", err)
	}
	if r, _ := s.Record(ctx, upd.Ref()); r.State != lethe.StateAnonymized {
		t.Fatalf("updated record: %+v", r)
	}
	got, _ := s.Request(ctx, "t1", "j1")
	if got.Cursor != j.Cursor || got.Processed != 2 || got.Phase != "apply" || string(got.Result) != `{"counts":{}}` {
		t.Fatalf("progress: %+v", got)
	}
	items, err := s.RequestItems(ctx, lethe.ItemQuery{Tenant: "t1", Request: "j1", Limit: 10})
	if err != nil || len(items) != 3 || !reflect.DeepEqual(items[1].Fields, []string{"email", "name"}) || !items[2].Until.Equal(until) {
		t.Fatalf("items: %+v %v", items, err)
	}
	held, _ := s.RequestItems(ctx, lethe.ItemQuery{Tenant: "t1", Request: "j1", Action: lethe.ActionHold, Limit: 10})
	if len(held) != 1 || held[0].Reason != "law" {
		t.Fatalf("held items: %+v", held)
	}
	if other, _ := s.RequestItems(ctx, lethe.ItemQuery{Tenant: "t2", Request: "j1", Limit: 10}); len(other) != 0 {
		t.Fatalf("another tenant reads the items: %+v", other)
	}
	if b, err := s.ExportChunk(ctx, "t1", "j1", 0); err != nil || string(b) != "sealed" {
		t.Fatalf("chunk: %q %v", b, err)
	}
	if _, err := s.ExportChunk(ctx, "t2", "j1", 0); !errors.Is(err, lethe.ErrNotFound) {
		t.Fatalf("another tenant reads the chunk: %v", err)
	}
}

func testScopeRecords(t *testing.T, open Opener) {
	s := open(t)
	ctx := t.Context()
	var recs []*lethe.Record
	for i := range 5 {
		r := record("t1", "orders", idf(i))
		if i%2 == 0 {
			r.Origin = "amazon"
		}
		recs = append(recs, r)
	}
	recs = append(recs, record("t1", "addresses", "a1"), record("t2", "orders", "x"))
	recs[5].Origin = "amazon"
	mustInsert(t, s, recs...)
	var got []string
	var after lethe.RecordCursor
	for {
		page, err := s.ScopeRecords(ctx, lethe.ScopeQuery{Tenant: "t1", Origin: "amazon", After: after, Limit: 2})
		if err != nil {
			t.Fatal(err)
		}
		if len(page) == 0 {
			break
		}
		for _, r := range page {
			got = append(got, r.Collection+"/"+r.ID)
		}
		after = lethe.RecordCursor{Collection: page[len(page)-1].Collection, ID: page[len(page)-1].ID}
	}
	want := []string{"addresses/a1", "orders/" + idf(0), "orders/" + idf(2), "orders/" + idf(4)}
	if !reflect.DeepEqual(got, want) {
		t.Fatalf("pages %v, want %v", got, want)
	}
	if n, _ := s.CountScope(ctx, "t1", "amazon"); n != 4 {
		t.Fatalf("count amazon %d", n)
	}
	if n, _ := s.CountScope(ctx, "t1", ""); n != 6 {
		t.Fatalf("count tenant %d", n)
	}
}

func testExpiredExports(t *testing.T, open Opener) {
	s := open(t)
	ctx := t.Context()
	s.CreateRequest(ctx, newJob("j1"))
	j, _ := s.ClaimRequest(ctx, "me", t0, t0.Add(time.Minute))
	j.ExportChunks, j.ExportExpiresAt = 1, t0.Add(time.Hour)
	if err := s.ApplyRequestBatch(ctx, &lethe.RequestBatch{Job: j, Chunk: []byte("x")}); err != nil {
		t.Fatal(err)
	}
	if n, err := s.DeleteExpiredExports(ctx, t0.Add(time.Hour-time.Millisecond)); err != nil || n != 0 {
		t.Fatalf("before expiry: %d %v", n, err)
	}
	if n, err := s.DeleteExpiredExports(ctx, t0.Add(time.Hour)); err != nil || n != 1 {
		t.Fatalf("at expiry: %d %v", n, err)
	}
	if _, err := s.ExportChunk(ctx, "t1", "j1", 0); !errors.Is(err, lethe.ErrNotFound) {
		t.Fatalf("expired chunk: %v", err)
	}
}

func testOrigins(t *testing.T, open Opener) {
	s := open(t)
	a1, a2, b := record("t1", "orders", "1"), record("t1", "orders", "2"), record("t1", "orders", "3")
	a1.Origin, a2.Origin, b.Origin = "amazon", "amazon", ""
	a2.CreatedAt = t0.Add(-time.Hour)
	other := record("t2", "orders", "4")
	other.Origin = "amazon"
	other.CreatedAt = t0.Add(-48 * time.Hour)
	mustInsert(t, s, a1, a2, b, other)
	got, err := s.Origins(t.Context(), "t1")
	if err != nil {
		t.Fatal(err)
	}
	if len(got) != 1 || got[0].Origin != "amazon" || got[0].Records != 2 || !got[0].First.Equal(t0.Add(-time.Hour)) {
		t.Fatalf("origins: %+v", got)
	}
}
