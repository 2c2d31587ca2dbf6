package engine_test

import (
	"context"
	"path/filepath"
	"testing"
	"time"

	"github.com/lethe-privacy/lethe/bench"
	"github.com/lethe-privacy/lethe/engine"
)

// Each engine benchmark sits beside its floor: the same rows, written or
// swept with plain SQL into a copy of the store's tables, through the same
// driver and pragmas (package bench). One op is one batch of
// bench.BatchSize records; compare the records/s metrics. Sweep benchmarks
// store b.N batches of due records first, so run them with a fixed count:
//
//	go test -run '^$' -bench . -benchtime 20x -count 3 ./engine/

// benchEnv opens a store, an engine and the benchmark tenants in a
// temporary folder.
func benchEnv(b *testing.B) *bench.Env {
	b.Helper()
	env, err := bench.OpenEnv(context.Background(), b.TempDir(), nil)
	if err != nil {
		b.Fatal(err)
	}
	b.Cleanup(func() { env.Close() })
	return env
}

// benchRaw opens the raw baseline database in a temporary folder.
func benchRaw(b *testing.B) *bench.Raw {
	b.Helper()
	raw, err := bench.OpenRaw(context.Background(), filepath.Join(b.TempDir(), "raw.db"))
	if err != nil {
		b.Fatal(err)
	}
	b.Cleanup(func() { raw.Close() })
	return raw
}

// benchReportRecords reports the records/s of b.N batches.
func benchReportRecords(b *testing.B) {
	b.ReportMetric(float64(b.N*bench.BatchSize)/b.Elapsed().Seconds(), "records/s")
}

// benchDueEntries is when prize draw entries must have been created to be
// due for deletion now.
func benchDueEntries() time.Time { return time.Now().Add(-bench.EntryPeriod - time.Hour) }

// benchDueOrders is the first shipment time of n orders all due for
// anonymization now.
func benchDueOrders(n int) time.Time {
	return time.Now().Add(-bench.OrderAnonymizeAfter - time.Hour - time.Duration(n)*time.Millisecond)
}

// BenchmarkPutBatch1000 stores prize draw entries through Engine.Put, 1000
// per call: validation, five sealed fields, two blind indexes, the plan,
// and the store's group-commit insert.
func BenchmarkPutBatch1000(b *testing.B) {
	ctx := context.Background()
	env := benchEnv(b)
	in := make([][]engine.NewRecord, b.N)
	for i := range in {
		in[i] = bench.PrizeEntries(i*bench.BatchSize, bench.BatchSize, time.Time{})
	}
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		if _, err := env.Engine.Put(ctx, bench.ChatTenant, bench.EntryCollection, in[i]); err != nil {
			b.Fatal(err)
		}
	}
	b.StopTimer()
	benchReportRecords(b)
}

// BenchmarkRawSQLiteInsert1000 inserts the same entries as plaintext rows,
// 1000 per transaction: the floor of BenchmarkPutBatch1000.
func BenchmarkRawSQLiteInsert1000(b *testing.B) {
	ctx := context.Background()
	raw := benchRaw(b)
	rows := make([][]bench.RawRow, b.N)
	for i := range rows {
		rows[i] = bench.RawEntries(i*bench.BatchSize, bench.BatchSize, time.Now())
	}
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		if err := raw.Insert(ctx, rows[i]); err != nil {
			b.Fatal(err)
		}
	}
	b.StopTimer()
	benchReportRecords(b)
}

// BenchmarkSweepDelete sweeps b.N×1000 prize draw entries due for deletion
// in one Engine.Sweep (batches of 1000, each with its audit entry, and the
// final log truncation).
func BenchmarkSweepDelete(b *testing.B) {
	created := benchDueEntries()
	benchSweep(b, bench.ChatTenant, bench.EntryCollection, func(i int) []engine.NewRecord {
		return bench.PrizeEntries(i*bench.BatchSize, bench.BatchSize, created)
	}, func(r *engine.SweepResult) int64 { return r.Deleted })
}

// benchSweep stores b.N batches of due records and times one
// Engine.Sweep over them, which must act on every one (count says how
// many it did).
func benchSweep(b *testing.B, tenant, collection string, batch func(i int) []engine.NewRecord, count func(*engine.SweepResult) int64) {
	ctx := context.Background()
	env := benchEnv(b)
	for i := 0; i < b.N; i++ {
		if _, err := env.Engine.Put(ctx, tenant, collection, batch(i)); err != nil {
			b.Fatal(err)
		}
	}
	b.ResetTimer()
	res, err := env.Engine.Sweep(ctx)
	b.StopTimer()
	if err != nil {
		b.Fatal(err)
	}
	if got, want := count(res), int64(b.N*bench.BatchSize); got != want {
		b.Fatalf("swept %d, want %d", got, want)
	}
	benchReportRecords(b)
}

// BenchmarkRawBatchedDelete deletes the same rows with their subjects,
// 1000 per transaction, then truncates the log: the floor of
// BenchmarkSweepDelete.
func BenchmarkRawBatchedDelete(b *testing.B) {
	ctx := context.Background()
	raw := benchRaw(b)
	created := benchDueEntries()
	for i := 0; i < b.N; i++ {
		if err := raw.Insert(ctx, bench.RawEntries(i*bench.BatchSize, bench.BatchSize, created)); err != nil {
			b.Fatal(err)
		}
	}
	b.ResetTimer()
	n, err := raw.DeleteDue(ctx, time.Now(), bench.BatchSize)
	b.StopTimer()
	if err != nil {
		b.Fatal(err)
	}
	if want := b.N * bench.BatchSize; n != want {
		b.Fatalf("deleted %d, want %d", n, want)
	}
	benchReportRecords(b)
}

// BenchmarkSweepAnonymize anonymizes b.N×1000 Amazon orders in one
// Engine.Sweep: each record's fields opened, anonymized, sealed again, its
// subjects dropped and its plan moved on.
func BenchmarkSweepAnonymize(b *testing.B) {
	base := benchDueOrders(b.N * bench.BatchSize)
	benchSweep(b, bench.ShopTenant, bench.OrderCollection, func(i int) []engine.NewRecord {
		return bench.Orders(i*bench.BatchSize, bench.BatchSize, base)
	}, func(r *engine.SweepResult) int64 { return r.Anonymized })
}

// BenchmarkRawBatchedUpdate rewrites the same orders as plaintext rows,
// 1000 per transaction (anonymized JSON built beforehand), drops their
// subjects and truncates the log: the floor of BenchmarkSweepAnonymize.
func BenchmarkRawBatchedUpdate(b *testing.B) {
	ctx := context.Background()
	raw := benchRaw(b)
	n := b.N * bench.BatchSize
	base := benchDueOrders(n)
	forms := make(map[string]string, n)
	for i := 0; i < b.N; i++ {
		rows := bench.RawOrders(i*bench.BatchSize, bench.BatchSize, base)
		for j, row := range rows {
			forms[row.ID] = bench.AnonymizedOrder(base, i*bench.BatchSize+j)
		}
		if err := raw.Insert(ctx, rows); err != nil {
			b.Fatal(err)
		}
	}
	now := time.Now()
	b.ResetTimer()
	done := 0
	for {
		k, err := raw.AnonymizeDue(ctx, now, bench.BatchSize, forms)
		if err != nil {
			b.Fatal(err)
		}
		if k == 0 {
			break
		}
		done += k
	}
	if err := raw.Checkpoint(ctx); err != nil {
		b.Fatal(err)
	}
	b.StopTimer()
	if done != n {
		b.Fatalf("rewrote %d, want %d", done, n)
	}
	benchReportRecords(b)
}
