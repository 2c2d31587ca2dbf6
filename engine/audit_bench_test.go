package engine_test

import (
	"fmt"
	"sync/atomic"
	"testing"

	"github.com/lethe-privacy/lethe"
	"github.com/lethe-privacy/lethe/audit"
	"github.com/lethe-privacy/lethe/engine"
)

// audBenchGet measures concurrent reads of decrypted records, each read
// audited (manager log, group-committed) or not. Run both in one go:
//
//	go test ./engine -run '^$' -bench 'BenchmarkGetAudit' -benchtime 3s
func audBenchGet(b *testing.B, cfg engine.Config) {
	e := audNewEnv(b, cfg)
	b.Cleanup(e.close)
	const n = 256
	refs := make([]lethe.RecordRef, n)
	for i := range refs {
		docs, err := e.eng.Put(e.ctx, "shop", "runtime_log", []engine.NewRecord{{Fields: map[string]any{
			"event": "auth_fail", "email": fmt.Sprintf("bench%d@example.org", i), "message": "m"}}})
		if err != nil {
			b.Fatal(err)
		}
		refs[i] = lethe.RecordRef{Tenant: "shop", Collection: "runtime_log", ID: docs[0].ID}
	}
	ctx := engine.WithCaller(e.ctx, engine.Caller{Actor: "key:bench", IP: "192.0.2.1"})
	var next atomic.Int64
	before := e.eng.AuditStats()
	b.SetParallelism(64)
	b.ResetTimer()
	b.RunParallel(func(pb *testing.PB) {
		for pb.Next() {
			if _, err := e.eng.Get(ctx, refs[next.Add(1)%n]); err != nil {
				b.Error(err)
				return
			}
		}
	})
	b.StopTimer()
	after := e.eng.AuditStats()
	if commits := after.Lazy.Commits - before.Lazy.Commits; commits > 0 {
		reads := float64(after.Lazy.Items - before.Lazy.Items)
		b.ReportMetric(reads/float64(commits), "reads/commit")
		b.ReportMetric(reads/float64(after.LazyEntries-before.LazyEntries), "reads/entry")
	}
}

func BenchmarkGetAuditOn(b *testing.B) { audBenchGet(b, engine.Config{}) }

// BenchmarkGetAuditOnNoDelay commits read entries as soon as the last
// commit is done, without waiting for more (the default waits 1 ms once
// four readers wait).
func BenchmarkGetAuditOnNoDelay(b *testing.B) {
	audBenchGet(b, engine.Config{LazyAudit: audit.BatchOptions{Delay: -1}})
}
func BenchmarkGetAuditOff(b *testing.B) { audBenchGet(b, engine.Config{NoReadAudit: true}) }
