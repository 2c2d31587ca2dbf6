package bench

import (
	"context"
	"fmt"
	"sync/atomic"
	"syscall"
	"testing"
	"time"
)

// BenchmarkHTTPCreate measures single-record creates over the HTTP API on
// loopback, as the bench's HTTP phase does, at 1, 8 and 50 clients: one
// server per level, each client waiting for its answer before it sends
// the next. It reports creates/s; with -cpuprofile it shows the CPU of a
// create from the request to the commit.
func BenchmarkHTTPCreate(b *testing.B) {
	for _, clients := range []int{1, 8, 50} {
		b.Run(fmt.Sprintf("c%d", clients), func(b *testing.B) {
			ctx := context.Background()
			env, err := OpenEnv(ctx, b.TempDir(), nil)
			if err != nil {
				b.Fatal(err)
			}
			defer env.Close()
			t, err := startHTTP(ctx, env)
			if err != nil {
				b.Fatal(err)
			}
			defer t.close()
			var next atomic.Int64
			// Warm the connections and the caches first.
			t.createOverHTTP(ctx, clients, 200*time.Millisecond, &next)
			before := env.Store.InsertStats()
			cpu0 := cpuTime()
			b.ResetTimer()
			var ok, failed int64
			var took time.Duration
			for b.Loop() {
				l := t.createOverHTTP(ctx, clients, time.Second, &next)
				ok, failed, took = ok+l.ok, failed+l.errors, took+l.took
			}
			if failed > 0 {
				b.Fatalf("%d creates failed", failed)
			}
			b.ReportMetric(float64(ok)/took.Seconds(), "creates/s")
			// CPU of the whole process (server and clients) per create:
			// steadier than the rate on a machine shared with other work.
			if ok > 0 {
				b.ReportMetric(float64((cpuTime()-cpu0).Microseconds())/float64(ok), "cpu-µs/create")
			}
			after := env.Store.InsertStats()
			if c := after.Commits - before.Commits; c > 0 {
				b.ReportMetric(float64(after.Items-before.Items)/float64(c), "calls/commit")
			}
		})
	}
}

// cpuTime is the user and system CPU time the process has used.
func cpuTime() time.Duration {
	var ru syscall.Rusage
	if err := syscall.Getrusage(syscall.RUSAGE_SELF, &ru); err != nil {
		return 0
	}
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
}
