package storetest

import (
	"sync"
	"testing"
	"time"

	"github.com/lethe-privacy/lethe"
)

// idempotencyTests cover the IdempotencyStore part of the interface.
var idempotencyTests = map[string]func(*testing.T, Opener){
	"SecondBeginSeesTheEntryInProgress": testIdemSecondBegin,
	"ConcurrentBeginsOneWins":           testIdemConcurrent,
	"FinishedAnswerIsReturned":          testIdemFinish,
	"FinishAndReleaseNeedTheToken":      testIdemToken,
	"StaleEntryInProgressIsTakenOver":   testIdemStale,
	"ExpiredEntryIsReplacedAndDeleted":  testIdemExpired,
	"KeysAreScopedByTenantAndPrincipal": testIdemScope,
}

// idem is an entry begun at t0, locked for a minute, kept for a day.
func idem(tenant, principal, key, token string) *lethe.IdempotencyEntry {
	return &lethe.IdempotencyEntry{
		IdempotencyKey: lethe.IdempotencyKey{Tenant: tenant, Principal: principal, Key: key},
		RequestHash:    hash("request-" + token),
		Token:          token,
		LockedUntil:    t0.Add(time.Minute),
		CreatedAt:      t0,
		ExpiresAt:      t0.Add(24 * time.Hour),
	}
}

func mustBegin(t *testing.T, s lethe.Store, e *lethe.IdempotencyEntry, now time.Time) {
	t.Helper()
	if live, begun, err := s.BeginIdempotent(t.Context(), e, now); err != nil || !begun || live != nil {
		t.Fatalf("BeginIdempotent %s: begun %v, live %v, %v", e.Token, begun, live, err)
	}
}

// wantLive begins e at now and expects the live entry want instead.
func wantLive(t *testing.T, s lethe.Store, e *lethe.IdempotencyEntry, now time.Time, want *lethe.IdempotencyEntry) {
	t.Helper()
	live, begun, err := s.BeginIdempotent(t.Context(), e, now)
	if err != nil || begun {
		t.Fatalf("BeginIdempotent %s: begun %v, %v; want the live entry", e.Token, begun, err)
	}
	same(t, "live entry", live, want)
}

func testIdemSecondBegin(t *testing.T, open Opener) {
	s := open(t)
	first := idem("a", "key:p1", "k1", "tok1")
	mustBegin(t, s, first, t0)
	wantLive(t, s, idem("a", "key:p1", "k1", "tok2"), t0.Add(time.Second), first)
}

func testIdemConcurrent(t *testing.T, open Opener) {
	s := open(t)
	const n = 8
	var (
		wg    sync.WaitGroup
		mu    sync.Mutex
		begun int
	)
	for i := range n {
		wg.Add(1)
		go func() {
			defer wg.Done()
			_, ok, err := s.BeginIdempotent(t.Context(), idem("a", "admin", "k", idf(i)), t0)
			if err != nil {
				t.Error(err)
				return
			}
			if ok {
				mu.Lock()
				begun++
				mu.Unlock()
			}
		}()
	}
	wg.Wait()
	if begun != 1 {
		t.Fatalf("%d of %d concurrent begins succeeded, want 1", begun, n)
	}
}

func testIdemFinish(t *testing.T, open Opener) {
	s := open(t)
	e := idem("a", "key:p1", "k1", "tok1")
	mustBegin(t, s, e, t0)
	e.Status, e.Response = 201, []byte("sealed answer")
	if err := s.FinishIdempotent(t.Context(), e); err != nil {
		t.Fatalf("FinishIdempotent: %v", err)
	}
	done := *e
	done.Done = true
	// Done entries stay live past their lock, until they expire.
	wantLive(t, s, idem("a", "key:p1", "k1", "tok2"), t0.Add(time.Hour), &done)
	if err := s.FinishIdempotent(t.Context(), e); err == nil {
		t.Fatal("finishing twice succeeded")
	}
	// Releasing a finished entry keeps it.
	if err := s.ReleaseIdempotent(t.Context(), e.IdempotencyKey, e.Token); err != nil {
		t.Fatal(err)
	}
	wantLive(t, s, idem("a", "key:p1", "k1", "tok3"), t0.Add(time.Hour), &done)
}

func testIdemToken(t *testing.T, open Opener) {
	s := open(t)
	ctx := t.Context()
	e := idem("a", "key:p1", "k1", "tok1")
	mustBegin(t, s, e, t0)
	other := *e
	other.Token, other.Status = "intruder", 200
	wantErr(t, "finish with another token", s.FinishIdempotent(ctx, &other), lethe.ErrConflict)
	if err := s.ReleaseIdempotent(ctx, e.IdempotencyKey, "intruder"); err != nil {
		t.Fatal(err)
	}
	wantLive(t, s, idem("a", "key:p1", "k1", "tok2"), t0, e)
	if err := s.ReleaseIdempotent(ctx, e.IdempotencyKey, e.Token); err != nil {
		t.Fatal(err)
	}
	mustBegin(t, s, idem("a", "key:p1", "k1", "tok3"), t0)
}

func testIdemStale(t *testing.T, open Opener) {
	s := open(t)
	old := idem("a", "admin", "k", "old")
	mustBegin(t, s, old, t0)
	wantLive(t, s, idem("a", "admin", "k", "early"), t0.Add(time.Minute-time.Millisecond), old)
	later := idem("a", "admin", "k", "new")
	later.LockedUntil = t0.Add(2 * time.Minute)
	mustBegin(t, s, later, t0.Add(time.Minute))
	old.Status = 201
	wantErr(t, "finish by the replaced attempt", s.FinishIdempotent(t.Context(), old), lethe.ErrConflict)
	wantLive(t, s, idem("a", "admin", "k", "third"), t0.Add(time.Minute), later)
}

func testIdemExpired(t *testing.T, open Opener) {
	s := open(t)
	ctx := t.Context()
	day := 24 * time.Hour
	e := idem("a", "admin", "k", "tok1")
	mustBegin(t, s, e, t0)
	e.Status = 200
	if err := s.FinishIdempotent(ctx, e); err != nil {
		t.Fatal(err)
	}
	keep := idem("a", "admin", "k2", "tok2")
	keep.ExpiresAt = t0.Add(2 * day)
	mustBegin(t, s, keep, t0)
	// At its expiry an entry no longer counts, deleted or not: a new
	// attempt replaces it.
	replaced := idem("a", "admin", "k3", "tok3")
	mustBegin(t, s, replaced, t0)
	next := idem("a", "admin", "k3", "tok4")
	next.ExpiresAt = t0.Add(2 * day)
	mustBegin(t, s, next, replaced.ExpiresAt)

	for _, tc := range []struct {
		now  time.Time
		want int
	}{{t0.Add(day - time.Millisecond), 0}, {t0.Add(day), 1}, {t0.Add(day), 0}, {t0.Add(2 * day), 2}} {
		n, err := s.DeleteExpiredIdempotency(ctx, tc.now)
		if err != nil || n != tc.want {
			t.Fatalf("DeleteExpiredIdempotency at %v: %d, %v; want %d", tc.now.Sub(t0), n, err, tc.want)
		}
	}
	mustBegin(t, s, idem("a", "admin", "k", "tok5"), t0)
	mustBegin(t, s, idem("a", "admin", "k2", "tok6"), t0)
}

func testIdemScope(t *testing.T, open Opener) {
	s := open(t)
	mustBegin(t, s, idem("a", "key:p1", "k", "1"), t0)
	mustBegin(t, s, idem("a", "key:p2", "k", "2"), t0)
	mustBegin(t, s, idem("b", "key:p1", "k", "3"), t0)
	mustBegin(t, s, idem("", "key:p1", "k", "4"), t0)
	mustBegin(t, s, idem("a", "key:p1", "k2", "5"), t0)
}
