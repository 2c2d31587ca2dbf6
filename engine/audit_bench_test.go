package engine_test

import (
	"fmt"
	"sync/atomic"
	"syscall"
	"testing"
	"time"

	"github.com/lethe-privacy/lethe"
	"github.com/lethe-privacy/lethe/audit"
	"github.com/lethe-privacy/lethe/engine"
)

// audBenchGet measures concurrent reads of decrypted records, each read
// audited (manager log, group-committed) or not. Run both in one go:
//
//	go test ./engine -run '^$' -bench 'BenchmarkGetAudit' -benchtime 3s
func audBenchGet(b *testing.B, cfg engine.Config) { audBenchGetN(b, cfg, 64) }

// audBenchGetN runs the reads in parallelism × GOMAXPROCS goroutines.
func audBenchGetN(b *testing.B, cfg engine.Config, parallelism int) {
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
	b.SetParallelism(parallelism)
	cpu0 := cpuTime(b)
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
	// CPU per read beside time per read: on a shared machine the CPU
	// the process used is steadier than the wall clock.
	b.ReportMetric(float64((cpuTime(b)-cpu0).Microseconds())/float64(b.N), "cpu-µs/op")
	after := e.eng.AuditStats()
	if commits := after.Lazy.Commits - before.Lazy.Commits; commits > 0 {
		reads := float64(after.Lazy.Items - before.Lazy.Items)
		b.ReportMetric(reads/float64(commits), "reads/commit")
		b.ReportMetric(reads/float64(after.LazyEntries-before.LazyEntries), "reads/entry")
	}
}

func BenchmarkGetAuditOn(b *testing.B)  { audBenchGet(b, engine.Config{}) }
func BenchmarkGetAuditOff(b *testing.B) { audBenchGet(b, engine.Config{NoReadAudit: true}) }

// BenchmarkGetAuditOnNoYield commits read entries as soon as the last
// commit is done, without stepping aside for callers on their way.
func BenchmarkGetAuditOnNoYield(b *testing.B) {
	audBenchGet(b, engine.Config{LazyAudit: audit.BatchOptions{MaxBatch: 1000}})
}

// The same with 8 readers: few enough that each read waits for a commit
// of its own or nearly, where a batcher that waits for more would only
// add latency.
func BenchmarkGetAuditOnFew(b *testing.B) { audBenchGetN(b, engine.Config{}, 4) }
func BenchmarkGetAuditOffFew(b *testing.B) {
	audBenchGetN(b, engine.Config{NoReadAudit: true}, 4)
}
func BenchmarkGetAuditOnNoYieldFew(b *testing.B) {
	audBenchGetN(b, engine.Config{LazyAudit: audit.BatchOptions{MaxBatch: 1000}}, 4)
}

// cpuTime is the user and system CPU time the process has used so far.
func cpuTime(b *testing.B) time.Duration {
	var ru syscall.Rusage
	if err := syscall.Getrusage(syscall.RUSAGE_SELF, &ru); err != nil {
		b.Fatal(err)
	}
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
}
