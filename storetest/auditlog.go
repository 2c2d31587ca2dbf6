package storetest

import (
	"bytes"
	"errors"
	"testing"
	"time"

	"github.com/lethe-privacy/lethe"
)

// signFixed is a stand-in MAC: stores only carry MACs, they never check them.
func signFixed(cp *lethe.Checkpoint) error {
	cp.MAC = append([]byte("mac-"), cp.Hash[:4]...)
	return nil
}

func auditEntries(tenant string, log lethe.Log, n int, start time.Time) []*lethe.AuditEntry {
	out := make([]*lethe.AuditEntry, n)
	for i := range out {
		out[i] = &lethe.AuditEntry{Tenant: tenant, Log: log, Time: start.Add(time.Duration(i) * time.Hour), Actor: "api", Event: "read"}
	}
	return out
}

// auditLogTests cover the AuditStore part of the interface.
var auditLogTests = map[string]func(*testing.T, Opener){
	"AppendSignedMovesTheHeadInTheSameCall": func(t *testing.T, open Opener) {
		s := open(t)
		ctx := t.Context()
		es := append(auditEntries("a", lethe.LogManager, 3, t0), auditEntries("a", lethe.LogRuntime, 1, t0)...)
		if err := s.AppendAuditSigned(ctx, es, signFixed); err != nil {
			t.Fatalf("AppendAuditSigned: %v", err)
		}
		h, err := s.AuditHead(ctx, "a", lethe.LogManager)
		if err != nil || h.Seq != 3 || !bytes.Equal(h.Hash, es[2].Hash) || len(h.MAC) == 0 || !h.Time.Equal(es[2].Time) {
			t.Fatalf("head = %+v, %v; want seq 3 with the third entry's hash", h, err)
		}
		if h, err := s.AuditHead(ctx, "a", lethe.LogRuntime); err != nil || h.Seq != 1 {
			t.Fatalf("runtime head = %+v, %v", h, err)
		}
		_, err = s.AuditHead(ctx, "a", lethe.LogSecurity)
		wantErr(t, "head of an empty chain", err, lethe.ErrNotFound)
	},
	"LazyAndFlushedAppendsShareOneChain": func(t *testing.T, open Opener) {
		s := open(t)
		ctx := t.Context()
		es := auditEntries("a", lethe.LogManager, 6, t0)
		for i, e := range es {
			app := s.AppendAuditSigned
			if i%2 == 0 {
				app = s.AppendAuditLazy
			}
			if err := app(ctx, []*lethe.AuditEntry{e}, signFixed); err != nil {
				t.Fatalf("append %d: %v", i, err)
			}
		}
		got, err := s.AuditEntries(ctx, lethe.AuditQuery{Tenant: "a", Log: lethe.LogManager})
		if err != nil || len(got) != 6 {
			t.Fatalf("AuditEntries = %d, %v; want 6", len(got), err)
		}
		for i, e := range got {
			if e.Seq != int64(i+1) || (i > 0 && !bytes.Equal(e.Prev, got[i-1].Hash)) {
				t.Fatalf("entry %d: seq %d, prev %x; want one unbroken chain", i, e.Seq, e.Prev)
			}
		}
		if h, err := s.AuditHead(ctx, "a", lethe.LogManager); err != nil || h.Seq != 6 {
			t.Fatalf("head = %+v, %v; want seq 6", h, err)
		}
		err = s.AppendAuditLazy(ctx, auditEntries("a", lethe.LogManager, 1, t0), func(*lethe.Checkpoint) error { return errors.New("no key") })
		if err == nil {
			t.Fatal("AppendAuditLazy with a failing signer succeeded")
		}
	},
	"SignFailureWritesNothing": func(t *testing.T, open Opener) {
		s := open(t)
		ctx := t.Context()
		err := s.AppendAuditSigned(ctx, auditEntries("a", lethe.LogManager, 2, t0), func(*lethe.Checkpoint) error { return errors.New("no key") })
		if err == nil {
			t.Fatal("AppendAuditSigned with a failing signer succeeded")
		}
		got, _ := s.AuditEntries(ctx, lethe.AuditQuery{Tenant: "a", Log: lethe.LogManager})
		if len(got) != 0 {
			t.Fatalf("%d entries written although signing failed", len(got))
		}
	},
	"HeadNeverMovesBack": func(t *testing.T, open Opener) {
		s := open(t)
		ctx := t.Context()
		es := auditEntries("a", lethe.LogSecurity, 3, t0)
		if err := s.AppendAuditSigned(ctx, es, signFixed); err != nil {
			t.Fatal(err)
		}
		old := &lethe.Checkpoint{Tenant: "a", Log: lethe.LogSecurity, Seq: 1, Hash: es[0].Hash, Time: es[0].Time, MAC: []byte("m")}
		if err := s.SetAuditHead(ctx, old); err != nil {
			t.Fatal(err)
		}
		if h, _ := s.AuditHead(ctx, "a", lethe.LogSecurity); h.Seq != 3 {
			t.Fatalf("head moved back to seq %d", h.Seq)
		}
	},
	"ExpireCutsAtTheNewestOldCheckpointAndKeepsIt": func(t *testing.T, open Opener) {
		s := open(t)
		ctx := t.Context()
		es := auditEntries("a", lethe.LogRuntime, 10, t0) // hours 0..9
		if err := s.AppendAuditSigned(ctx, es, signFixed); err != nil {
			t.Fatal(err)
		}
		for _, seq := range []int{2, 5, 8} {
			e := es[seq-1]
			cp := &lethe.Checkpoint{Tenant: "a", Log: lethe.LogRuntime, Seq: e.Seq, Hash: e.Hash, Time: e.Time, MAC: []byte("m")}
			if err := s.PutCheckpoint(ctx, cp); err != nil {
				t.Fatal(err)
			}
		}
		// Entries of hours 0..6 (seq 1..7) are old: the cut is checkpoint 5.
		n, err := s.ExpireAudit(ctx, "a", lethe.LogRuntime, t0.Add(7*time.Hour))
		if err != nil || n != 5 {
			t.Fatalf("ExpireAudit = %d, %v; want 5", n, err)
		}
		got, _ := s.AuditEntries(ctx, lethe.AuditQuery{Tenant: "a", Log: lethe.LogRuntime})
		if len(got) != 5 || got[0].Seq != 6 {
			t.Fatalf("after expiry %d entries from seq %d; want 5 from 6", len(got), got[0].Seq)
		}
		cps, _ := s.Checkpoints(ctx, "a", lethe.LogRuntime)
		if len(cps) != 2 || cps[0].Seq != 5 || cps[1].Seq != 8 {
			t.Fatalf("checkpoints after expiry: %+v; want 5 (anchor) and 8", cps)
		}
		// Everything old, but the newest entry stays for the chain to go on.
		if _, err := s.ExpireAudit(ctx, "a", lethe.LogRuntime, t0.Add(100*time.Hour)); err != nil {
			t.Fatal(err)
		}
		got, _ = s.AuditEntries(ctx, lethe.AuditQuery{Tenant: "a", Log: lethe.LogRuntime})
		if len(got) != 2 || got[0].Seq != 9 {
			t.Fatalf("after full expiry %d entries from seq %d; want 9 and 10", len(got), got[0].Seq)
		}
		chains, err := s.AuditChains(ctx)
		if err != nil || len(chains) != 1 || chains[0].First != 9 || chains[0].Last != 10 || chains[0].Count != 2 {
			t.Fatalf("AuditChains = %+v, %v", chains, err)
		}
	},
}
