package postgres_test

import (
	"bytes"
	"testing"

	"github.com/lethe-privacy/lethe"
)

func TestAppendAuditLazy_AppendsAndMovesTheHeadLikeSigned(t *testing.T) {
	dsn := migratedDSN(t)
	s, other := openDSN(t, dsn), openDSN(t, dsn)
	ctx := t.Context()
	sign := func(cp *lethe.Checkpoint) error { cp.MAC = []byte("mac"); return nil }
	first := []*lethe.AuditEntry{{Tenant: "a", Log: lethe.LogSecurity, Time: t0, Actor: "api", Event: "read"}}
	if err := s.AppendAuditSigned(ctx, first, sign); err != nil {
		t.Fatalf("AppendAuditSigned: %v", err)
	}
	lazy := []*lethe.AuditEntry{
		{Tenant: "a", Log: lethe.LogSecurity, Time: t0, Actor: "api", Event: "read"},
		{Tenant: "a", Log: lethe.LogSecurity, Time: t0, Actor: "api", Event: "auth"},
	}
	if err := s.AppendAuditLazy(ctx, lazy, sign); err != nil {
		t.Fatalf("AppendAuditLazy: %v", err)
	}
	if lazy[1].Seq != 3 || !bytes.Equal(lazy[0].Prev, first[0].Hash) {
		t.Fatalf("lazy entries got seq %d and prev %x; want 3 and the signed entry's hash", lazy[1].Seq, lazy[0].Prev)
	}
	h, err := other.AuditHead(ctx, "a", lethe.LogSecurity)
	if err != nil || h.Seq != 3 || !bytes.Equal(h.Hash, lazy[1].Hash) {
		t.Fatalf("head seen by another store = %+v, %v; want seq 3", h, err)
	}
	// A failing signer writes nothing, lazily or not.
	err = s.AppendAuditLazy(ctx, []*lethe.AuditEntry{{Tenant: "a", Log: lethe.LogSecurity, Time: t0, Actor: "api", Event: "x"}},
		func(*lethe.Checkpoint) error { return lethe.ErrCrypto })
	if err == nil {
		t.Fatal("AppendAuditLazy with a failing signer succeeded")
	}
	got, err := other.AuditEntries(ctx, lethe.AuditQuery{Tenant: "a", Log: lethe.LogSecurity})
	if err != nil || len(got) != 3 {
		t.Fatalf("entries = %d, %v; want 3", len(got), err)
	}
}
