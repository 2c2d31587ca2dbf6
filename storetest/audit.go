package storetest

import (
	"bytes"
	"testing"
	"time"

	"github.com/lethe-privacy/lethe"
)

var auditTests = map[string]func(*testing.T, Opener){
	"ChainSeqPrevAndHashVerify": func(t *testing.T, open Opener) {
		s := open(t)
		ctx := t.Context()
		entry := func(tenant string, log lethe.Log, min int, actor, event string) *lethe.AuditEntry {
			return &lethe.AuditEntry{Tenant: tenant, Log: log, Time: t0.Add(time.Duration(min) * time.Minute),
				Actor: actor, Event: event, Data: []byte(`{"n":1}`)}
		}
		first := []*lethe.AuditEntry{
			entry("a", lethe.LogRuntime, 0, "sweeper", "sweep"),
			entry("a", lethe.LogSecurity, 1, "admin", "login"),
			entry("b", lethe.LogRuntime, 2, "sweeper", "sweep"),
			entry("a", lethe.LogRuntime, 3, "api", "put"),
			entry("a", lethe.LogRuntime, 4, "sweeper", "sweep"),
		}
		if err := s.AppendAudit(ctx, first); err != nil {
			t.Fatalf("AppendAudit: %v", err)
		}
		if first[4].Seq != 3 || first[2].Seq != 1 || first[1].Seq != 1 {
			t.Fatalf("assigned seqs %d %d %d, want 3 1 1", first[4].Seq, first[2].Seq, first[1].Seq)
		}
		second := []*lethe.AuditEntry{entry("a", lethe.LogRuntime, 5, "api", "delete"), entry("a", lethe.LogRuntime, 6, "sweeper", "sweep")}
		if err := s.AppendAudit(ctx, second); err != nil {
			t.Fatalf("AppendAudit: %v", err)
		}
		got, err := s.AuditEntries(ctx, lethe.AuditQuery{Tenant: "a", Log: lethe.LogRuntime})
		if err != nil {
			t.Fatalf("AuditEntries: %v", err)
		}
		if len(got) != 5 {
			t.Fatalf("a/runtime has %d entries, want 5", len(got))
		}
		var prev []byte
		for i, e := range got {
			if e.Seq != int64(i+1) || e.Tenant != "a" || e.Log != lethe.LogRuntime {
				t.Fatalf("entry %d: seq %d of %s/%s", i, e.Seq, e.Tenant, e.Log)
			}
			if !bytes.Equal(e.Prev, prev) {
				t.Fatalf("entry %d: prev %x, want %x", e.Seq, e.Prev, prev)
			}
			if want := lethe.ChainHash(prev, e); !bytes.Equal(e.Hash, want) {
				t.Fatalf("entry %d: hash %x does not verify (want %x)", e.Seq, e.Hash, want)
			}
			prev = e.Hash
		}
		same(t, "stored entry", got[3], second[0])
		if !bytes.Equal(got[4].Hash, second[1].Hash) {
			t.Fatal("caller's entry did not get the stored hash")
		}
		b, err := s.AuditEntries(ctx, lethe.AuditQuery{Tenant: "b", Log: lethe.LogRuntime})
		if err != nil || len(b) != 1 || b[0].Seq != 1 || b[0].Prev != nil {
			t.Fatalf("b/runtime = %v, %v; want one first entry", b, err)
		}
	},
	"EntriesFilter": func(t *testing.T, open Opener) {
		s := open(t)
		ctx := t.Context()
		var entries []*lethe.AuditEntry
		for i := range 10 {
			actor, event := "sweeper", "sweep"
			if i%3 == 0 {
				actor, event = "api", "put"
			}
			entries = append(entries, &lethe.AuditEntry{Tenant: "a", Log: lethe.LogManager,
				Time: t0.Add(time.Duration(i) * time.Hour), Actor: actor, Event: event})
		}
		entries = append(entries, &lethe.AuditEntry{Tenant: "b", Log: lethe.LogManager, Time: t0, Actor: "api", Event: "put"})
		if err := s.AppendAudit(ctx, entries); err != nil {
			t.Fatalf("AppendAudit: %v", err)
		}
		seqs := func(es []*lethe.AuditEntry) []int64 {
			out := make([]int64, len(es))
			for i, e := range es {
				out[i] = e.Seq
			}
			return out
		}
		cases := []struct {
			name string
			q    lethe.AuditQuery
			want []int64
		}{
			{"all", lethe.AuditQuery{}, []int64{1, 2, 3, 4, 5, 6, 7, 8, 9, 10}},
			{"actor", lethe.AuditQuery{Actor: "api"}, []int64{1, 4, 7, 10}},
			{"event", lethe.AuditQuery{Event: "sweep"}, []int64{2, 3, 5, 6, 8, 9}},
			{"after seq and limit", lethe.AuditQuery{AfterSeq: 4, Limit: 3}, []int64{5, 6, 7}},
			{"from inclusive, to exclusive", lethe.AuditQuery{From: t0.Add(2 * time.Hour), To: t0.Add(5 * time.Hour)}, []int64{3, 4, 5}},
			{"other log", lethe.AuditQuery{Log: lethe.LogSecurity}, []int64{}},
		}
		for _, c := range cases {
			q := c.q
			q.Tenant = "a"
			if q.Log == "" {
				q.Log = lethe.LogManager
			}
			got, err := s.AuditEntries(ctx, q)
			if err != nil {
				t.Fatalf("%s: %v", c.name, err)
			}
			same(t, c.name, seqs(got), c.want)
		}
	},
}
