package storetest

import (
	"testing"
	"time"
)

var sessionTests = map[string]func(*testing.T, Opener){
	"RevokedUntilExpiryThenPruned": func(t *testing.T, open Opener) {
		s := open(t)
		ctx := t.Context()
		revoked := func(id string, at time.Time) bool {
			t.Helper()
			ok, err := s.SessionRevoked(ctx, id, at)
			if err != nil {
				t.Fatalf("SessionRevoked %s: %v", id, err)
			}
			return ok
		}
		if revoked("a", t0) {
			t.Fatal("a session never revoked is denied")
		}
		if err := s.RevokeSession(ctx, "a", t0.Add(8*time.Hour)); err != nil {
			t.Fatalf("RevokeSession: %v", err)
		}
		if err := s.RevokeSession(ctx, "b", t0.Add(time.Hour)); err != nil {
			t.Fatalf("RevokeSession: %v", err)
		}
		if !revoked("a", t0) || !revoked("a", t0.Add(8*time.Hour-time.Millisecond)) {
			t.Fatal("a revoked session is not denied before its expiry")
		}
		if revoked("a", t0.Add(8*time.Hour)) {
			t.Fatal("an entry still counts at its expiry")
		}
		if revoked("c", t0) {
			t.Fatal("another id is denied")
		}
		// Revoking again keeps the later expiry, whichever comes first.
		if err := s.RevokeSession(ctx, "a", t0.Add(time.Hour)); err != nil {
			t.Fatalf("RevokeSession again: %v", err)
		}
		if !revoked("a", t0.Add(2*time.Hour)) {
			t.Fatal("a second, earlier revocation shortened the first")
		}
		if err := s.RevokeSession(ctx, "b", t0.Add(3*time.Hour)); err != nil {
			t.Fatalf("RevokeSession later: %v", err)
		}
		if !revoked("b", t0.Add(2*time.Hour)) {
			t.Fatal("a later revocation did not extend the entry")
		}
		// Pruning drops exactly the entries expired by then.
		n, err := s.PruneSessions(ctx, t0.Add(3*time.Hour))
		if err != nil || n != 1 {
			t.Fatalf("PruneSessions at +3h = %d, %v; want 1 (b)", n, err)
		}
		if !revoked("a", t0.Add(3*time.Hour)) {
			t.Fatal("pruning dropped an entry not yet expired")
		}
		n, err = s.PruneSessions(ctx, t0.Add(3*time.Hour))
		if err != nil || n != 0 {
			t.Fatalf("PruneSessions again = %d, %v; want 0", n, err)
		}
		n, err = s.PruneSessions(ctx, t0.Add(9*time.Hour))
		if err != nil || n != 1 {
			t.Fatalf("PruneSessions at +9h = %d, %v; want 1 (a)", n, err)
		}
	},
}
