package engine_test

import (
	"fmt"
	"runtime"
	"sync"
	"sync/atomic"
	"syscall"
	"testing"
	"time"

	"github.com/lethe-privacy/lethe"
	"github.com/lethe-privacy/lethe/audit"
	"github.com/lethe-privacy/lethe/engine"
)

// audBenchGet measures concurrent reads of decrypted records, each read
// audited (manager log, group-committed) or not, one side per benchmark.
// For the ratio of the two, BenchmarkGetAuditRatio is the steadier figure:
//
//	go test ./engine -run '^$' -bench 'BenchmarkGetAuditRatio' -benchtime 30000x
func audBenchGet(b *testing.B, cfg engine.Config) { audBenchGetN(b, cfg, 64) }

// audBenchEnv opens an engine with 256 records to read.
func audBenchEnv(b *testing.B, cfg engine.Config) (*audEnv, []lethe.RecordRef) {
	e := audNewEnv(b, cfg)
	b.Cleanup(e.close)
	refs := make([]lethe.RecordRef, 256)
	for i := range refs {
		docs, err := e.eng.Put(e.ctx, "shop", "runtime_log", []engine.NewRecord{{Fields: map[string]any{
			"event": "auth_fail", "email": fmt.Sprintf("bench%d@example.org", i), "message": "m"}}})
		if err != nil {
			b.Fatal(err)
		}
		refs[i] = lethe.RecordRef{Tenant: "shop", Collection: "runtime_log", ID: docs[0].ID}
	}
	return e, refs
}

// audBenchGetN runs the reads in parallelism × GOMAXPROCS goroutines.
func audBenchGetN(b *testing.B, cfg engine.Config, parallelism int) {
	e, refs := audBenchEnv(b, cfg)
	n := len(refs)
	ctx := engine.WithCaller(e.ctx, engine.Caller{Actor: "key:bench", IP: "192.0.2.1"})
	var next atomic.Int64
	before := e.eng.AuditStats()
	b.SetParallelism(parallelism)
	cpu0 := cpuTime(b)
	b.ResetTimer()
	b.RunParallel(func(pb *testing.PB) {
		for pb.Next() {
			if _, err := e.eng.Get(ctx, refs[next.Add(1)%int64(n)]); err != nil {
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

// audBenchRatio measures audited and unaudited reads in one run, in turns
// of a few thousand reads each, and reports both and their ratio. On a
// shared machine whose speed drifts by tens of percent from one minute to
// the next, two benchmarks run one after the other compare two moments as
// much as two builds; turns of a fraction of a second see the same drift
// on both sides. An op is one read on each side.
func audBenchRatio(b *testing.B, readers int) {
	sides := []struct {
		name string
		cfg  engine.Config
		env  *audEnv
		refs []lethe.RecordRef
		wall time.Duration
		cpu  time.Duration
	}{{name: "on"}, {name: "off", cfg: engine.Config{NoReadAudit: true}}}
	for i := range sides {
		sides[i].env, sides[i].refs = audBenchEnv(b, sides[i].cfg)
	}
	const turn = 2000
	before := sides[0].env.eng.AuditStats().Lazy
	b.ResetTimer()
	for done := 0; done < b.N; done += turn {
		n := min(turn, b.N-done)
		for i := range sides {
			s := &sides[i]
			cpu0, t0 := cpuTime(b), time.Now()
			audReadAll(b, s.env, s.refs, n, readers)
			s.wall += time.Since(t0)
			s.cpu += cpuTime(b) - cpu0
		}
	}
	b.StopTimer()
	per := func(d time.Duration) float64 { return float64(d.Nanoseconds()) / 1e3 / float64(b.N) }
	for _, s := range sides {
		b.ReportMetric(per(s.wall), s.name+"-µs/read")
		b.ReportMetric(per(s.cpu), s.name+"-cpu-µs/read")
	}
	b.ReportMetric(float64(sides[0].wall)/float64(sides[1].wall), "on/off")
	b.ReportMetric(float64(sides[0].cpu)/float64(sides[1].cpu), "on/off-cpu")
	if after := sides[0].env.eng.AuditStats().Lazy; after.Commits > before.Commits {
		b.ReportMetric(float64(after.Items-before.Items)/float64(after.Commits-before.Commits), "reads/commit")
	}
}

// audReadAll reads n records in readers goroutines, as RunParallel would.
func audReadAll(b *testing.B, e *audEnv, refs []lethe.RecordRef, n, readers int) {
	ctx := engine.WithCaller(e.ctx, engine.Caller{Actor: "key:bench", IP: "192.0.2.1"})
	var next atomic.Int64
	var wg sync.WaitGroup
	for range readers {
		wg.Go(func() {
			for i := next.Add(1); i <= int64(n); i = next.Add(1) {
				if _, err := e.eng.Get(ctx, refs[i%int64(len(refs))]); err != nil {
					b.Error(err)
					return
				}
			}
		})
	}
	wg.Wait()
}

// BenchmarkGetAuditRatio is the figure of record for audited reads: 128
// readers (64 × GOMAXPROCS on the machines measured), audit on and off in
// turns within one run.
func BenchmarkGetAuditRatio(b *testing.B) { audBenchRatio(b, 64*runtime.GOMAXPROCS(0)) }

// BenchmarkGetAuditRatioFew is the same with 8 readers (4 × GOMAXPROCS).
func BenchmarkGetAuditRatioFew(b *testing.B) { audBenchRatio(b, 4*runtime.GOMAXPROCS(0)) }

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
