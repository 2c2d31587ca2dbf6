package engine_test

import (
	"testing"
	"time"
)

// TestConsoleSessions_DeniedOnEveryInstanceThenPruned: a sign-out made on
// one instance holds on another (the list is in the store), ends with the
// token's expiry, and the next sign-out prunes the expired entry.
func TestConsoleSessions_DeniedOnEveryInstanceThenPruned(t *testing.T) {
	e := newTestEnv(t, 0)
	other := e.secondEngine()
	if err := e.eng.RevokeConsoleSession(e.ctx, "jti-a", testStart.Add(time.Hour)); err != nil {
		t.Fatal(err)
	}
	denied, err := other.ConsoleSessionRevoked(e.ctx, "jti-a")
	if err != nil || !denied {
		t.Fatalf("the other instance: denied %v, %v", denied, err)
	}
	if denied, _ := other.ConsoleSessionRevoked(e.ctx, "jti-b"); denied {
		t.Fatal("a session never signed out is denied")
	}
	e.clock.Set(testStart.Add(2 * time.Hour))
	if denied, _ := e.eng.ConsoleSessionRevoked(e.ctx, "jti-a"); denied {
		t.Fatal("the entry outlived its token")
	}
	// The next sign-out pruned jti-a: nothing is left to prune.
	if err := other.RevokeConsoleSession(e.ctx, "jti-b", testStart.Add(10*time.Hour)); err != nil {
		t.Fatal(err)
	}
	if n, err := e.store.PruneSessions(e.ctx, testStart.Add(2*time.Hour)); err != nil || n != 0 {
		t.Fatalf("after the second sign-out %d expired entries are left (%v), want 0", n, err)
	}
	if denied, _ := e.eng.ConsoleSessionRevoked(e.ctx, "jti-b"); !denied {
		t.Fatal("pruning dropped a live entry")
	}
}
