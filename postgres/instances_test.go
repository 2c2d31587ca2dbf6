package postgres_test

import (
	"bytes"
	"errors"
	"fmt"
	"path/filepath"
	"sync"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/lethe-privacy/lethe"
	"github.com/lethe-privacy/lethe/pgtest"
	"github.com/lethe-privacy/lethe/postgres"
)

// These tests run several Store values on one database, as several Lethe
// instances do, and check what the database must decide between them.

var t0 = time.Date(2025, 3, 1, 10, 0, 0, 0, time.UTC)

func rec(tenant, id string) *lethe.Record {
	return &lethe.Record{
		Tenant: tenant, Collection: "orders", ID: id, Origin: "shop",
		CreatedAt: t0, UpdatedAt: t0, State: lethe.StateActive,
		Plain:    map[string]any{"status": "open"},
		Sealed:   map[string][]byte{"email": []byte("sealed-" + id)},
		Subjects: []lethe.Subject{{Kind: "email", Field: "email", Hash: []byte("hash-" + id)}},
	}
}

func TestInstances_ConcurrentInsertsFromTwoStoresAllLand(t *testing.T) {
	dsn := migratedDSN(t)
	stores := []*postgres.Store{openDSN(t, dsn), openDSN(t, dsn)}
	const writers, calls, perCall = 50, 4, 5
	var (
		wg   sync.WaitGroup
		mu   sync.Mutex
		errs []error
	)
	for w := range writers {
		wg.Add(1)
		go func() {
			defer wg.Done()
			s := stores[w%len(stores)]
			for c := range calls {
				batch := make([]*lethe.Record, perCall)
				for i := range batch {
					batch[i] = rec("a", fmt.Sprintf("w%02d-c%d-%d", w, c, i))
				}
				if err := s.InsertRecords(t.Context(), batch); err != nil {
					mu.Lock()
					errs = append(errs, err)
					mu.Unlock()
				}
			}
		}()
	}
	wg.Wait()
	if len(errs) > 0 {
		t.Fatalf("%d calls failed, first: %v", len(errs), errs[0])
	}
	n, err := stores[0].CountScope(t.Context(), "a", "")
	if err != nil || n != writers*calls*perCall {
		t.Fatalf("CountScope = %d, %v; want %d", n, err, writers*calls*perCall)
	}
	got, err := stores[1].RecordsBySubject(t.Context(), "a", [][]byte{[]byte("hash-w49-c3-4"), []byte("hash-w00-c0-0")})
	if err != nil || len(got) != 2 || len(got[0].Subjects) != 1 {
		t.Fatalf("RecordsBySubject = %d records, %v; want 2 with their subject", len(got), err)
	}
}

func TestInstances_ClaimNeverHandsAJobToTwoOwners(t *testing.T) {
	dsn := migratedDSN(t)
	stores := []*postgres.Store{openDSN(t, dsn), openDSN(t, dsn), openDSN(t, dsn)}
	const jobs, runnersPerStore = 30, 4
	for i := range jobs {
		_, created, err := stores[0].CreateRequest(t.Context(), &lethe.Request{
			ID: fmt.Sprintf("j%02d", i), Tenant: "t1", Type: lethe.RequestErase,
			Scope:    lethe.RequestScope{Kind: lethe.ScopeOrigin, Origin: fmt.Sprintf("o%02d", i)},
			ScopeKey: fmt.Sprintf("origin:o%02d", i), Actor: "test", CreatedAt: t0.Add(time.Duration(i) * time.Millisecond),
		})
		if err != nil || !created {
			t.Fatalf("CreateRequest %d: created %v, %v", i, created, err)
		}
	}
	var (
		wg      sync.WaitGroup
		mu      sync.Mutex
		claimed = make(map[string][]string) // job -> owners
		errs    []error
	)
	for si, s := range stores {
		for r := range runnersPerStore {
			wg.Add(1)
			go func() {
				defer wg.Done()
				owner := fmt.Sprintf("store%d-runner%d", si, r)
				for {
					// The lease outlives the test: nobody may take a job over.
					j, err := s.ClaimRequest(t.Context(), owner, t0, t0.Add(time.Hour))
					if errors.Is(err, lethe.ErrNotFound) {
						return
					}
					mu.Lock()
					if err != nil {
						errs = append(errs, err)
						mu.Unlock()
						return
					}
					claimed[j.ID] = append(claimed[j.ID], owner)
					mu.Unlock()
					if j.Owner != owner {
						t.Errorf("job %s claimed by %s names owner %s", j.ID, owner, j.Owner)
					}
				}
			}()
		}
	}
	wg.Wait()
	if len(errs) > 0 {
		t.Fatalf("%d claims failed, first: %v", len(errs), errs[0])
	}
	if len(claimed) != jobs {
		t.Fatalf("%d jobs claimed, want %d", len(claimed), jobs)
	}
	for id, owners := range claimed {
		if len(owners) != 1 {
			t.Errorf("job %s handed to %v", id, owners)
		}
	}
}

func TestInstances_AuditAppendsFromTwoStoresMakeOneChain(t *testing.T) {
	dsn := migratedDSN(t)
	stores := []*postgres.Store{openDSN(t, dsn), openDSN(t, dsn)}
	const goroutines, appends = 8, 10
	var (
		wg   sync.WaitGroup
		mu   sync.Mutex
		errs []error
	)
	for g := range goroutines {
		wg.Add(1)
		go func() {
			defer wg.Done()
			s := stores[g%len(stores)]
			for i := range appends {
				// Two chains per call, in either order, so that lock order
				// matters; every third call goes through ApplyBatch.
				a := &lethe.AuditEntry{Tenant: "a", Log: lethe.LogRuntime, Time: t0, Actor: fmt.Sprintf("g%d", g), Event: fmt.Sprintf("e%d", i)}
				b := &lethe.AuditEntry{Tenant: "b", Log: lethe.LogSecurity, Time: t0, Actor: fmt.Sprintf("g%d", g), Event: fmt.Sprintf("e%d", i)}
				entries := []*lethe.AuditEntry{a, b}
				if g%2 == 1 {
					entries = []*lethe.AuditEntry{b, a}
				}
				var err error
				if i%3 == 0 {
					err = s.ApplyBatch(t.Context(), &lethe.Batch{Audit: entries})
				} else {
					err = s.AppendAudit(t.Context(), entries)
				}
				if err != nil {
					mu.Lock()
					errs = append(errs, err)
					mu.Unlock()
				}
			}
		}()
	}
	wg.Wait()
	if len(errs) > 0 {
		t.Fatalf("%d appends failed, first: %v", len(errs), errs[0])
	}
	for _, chain := range []struct {
		tenant string
		log    lethe.Log
	}{{"a", lethe.LogRuntime}, {"b", lethe.LogSecurity}} {
		got, err := stores[0].AuditEntries(t.Context(), lethe.AuditQuery{Tenant: chain.tenant, Log: chain.log, Limit: 1000})
		if err != nil {
			t.Fatalf("AuditEntries: %v", err)
		}
		if len(got) != goroutines*appends {
			t.Fatalf("%s/%s holds %d entries, want %d", chain.tenant, chain.log, len(got), goroutines*appends)
		}
		var prev []byte
		for i, e := range got {
			if e.Seq != int64(i+1) {
				t.Fatalf("%s/%s: entry %d has seq %d", chain.tenant, chain.log, i, e.Seq)
			}
			if !bytes.Equal(e.Prev, prev) || !bytes.Equal(e.Hash, lethe.ChainHash(prev, e)) {
				t.Fatalf("%s/%s: chain broken at seq %d", chain.tenant, chain.log, e.Seq)
			}
			prev = e.Hash
		}
	}
}

func TestInstances_MigrationsRaceSafely(t *testing.T) {
	dsn := pgtest.DSN(t) // empty: the Opens below race to migrate it
	const opens = 3
	var wg sync.WaitGroup
	errs := make([]error, opens)
	for i := range opens {
		wg.Add(1)
		go func() {
			defer wg.Done()
			s, err := postgres.Open(t.Context(), dsn, postgres.Options{})
			if err == nil {
				err = s.Close()
			}
			errs[i] = err
		}()
	}
	wg.Wait()
	if err := errors.Join(errs...); err != nil {
		t.Fatalf("racing Opens: %v", err)
	}
	s := openDSN(t, dsn) // and once more on the migrated database
	if err := s.InsertRecords(t.Context(), []*lethe.Record{rec("a", "o1")}); err != nil {
		t.Fatalf("InsertRecords after the race: %v", err)
	}
	conn, err := pgx.Connect(t.Context(), dsn)
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close(t.Context())
	var applied, distinct int
	err = conn.QueryRow(t.Context(), `SELECT count(*), count(DISTINCT version_id) FROM goose_db_version
		WHERE version_id > 0 AND is_applied`).Scan(&applied, &distinct)
	if err != nil {
		t.Fatal(err)
	}
	files, err := filepath.Glob("migrations/*.sql")
	if err != nil {
		t.Fatal(err)
	}
	if applied != distinct || applied != len(files) {
		t.Fatalf("goose_db_version: %d applied rows for %d versions; want each of the %d migrations once",
			applied, distinct, len(files))
	}
}
