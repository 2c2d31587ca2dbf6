package sqlite

import (
	"context"
	"database/sql"
	"fmt"
	"path/filepath"
	"runtime"
	"sync/atomic"
	"testing"

	"github.com/lethe-privacy/lethe"
)

// benchBatch builds n records with ids unique to batch i: plain and sealed
// fields of a typical order and two 16-byte subjects.
func benchBatch(i, n int) []*lethe.Record {
	recs := make([]*lethe.Record, n)
	for j := range recs {
		id := fmt.Sprintf("b%06d-%04d", i, j)
		r := rec("tenant-1", "orders", id)
		r.Plain = map[string]any{"status": "open", "amount": int64(j), "currency": "EUR", "items": int64(3)}
		r.Sealed = map[string][]byte{"email": make([]byte, 60), "name": make([]byte, 48), "street": make([]byte, 64)}
		r.Subjects = []lethe.Subject{
			{Kind: "email", Field: "email", Hash: []byte(fmt.Sprintf("e%015d", i*n+j))},
			{Kind: "customer_id", Field: "customer", Hash: []byte(fmt.Sprintf("c%015d", i*n+j))},
		}
		r.Plan = lethe.Plan{Action: lethe.ActionDelete, Rule: "delete-after", DueAt: t0.AddDate(0, 0, j%365)}
		recs[j] = r
	}
	return recs
}

func reportRecords(b *testing.B, n int) {
	b.ReportMetric(float64(b.N*n)/b.Elapsed().Seconds(), "records/s")
}

// BenchmarkInsertRecords1000 inserts batches of 1000 records through the
// Store (group-commit loop, savepoint, encoding).
func BenchmarkInsertRecords1000(b *testing.B) {
	const n = 1000
	s := openTemp(b)
	ctx := context.Background()
	batches := make([][]*lethe.Record, b.N)
	for i := range batches {
		batches[i] = benchBatch(i, n)
	}
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		if err := s.InsertRecords(ctx, batches[i]); err != nil {
			b.Fatal(err)
		}
	}
	b.StopTimer()
	reportRecords(b, n)
}

// BenchmarkRawInsert1000 inserts the same rows with plain database/sql into
// the same schema, driver and pragmas: the floor the Store is measured
// against.
func BenchmarkRawInsert1000(b *testing.B) {
	const n = 1000
	ctx := context.Background()
	db, err := sql.Open("sqlite", dsn(filepath.Join(b.TempDir(), "raw.db"), []string{
		"journal_mode(WAL)", "busy_timeout(5000)", "synchronous(FULL)", "secure_delete(ON)", "foreign_keys(ON)",
	}, true))
	if err != nil {
		b.Fatal(err)
	}
	defer db.Close()
	db.SetMaxOpenConns(1)
	if err := migrate(ctx, db, mainSchema.migrations); err != nil {
		b.Fatal(err)
	}
	type row struct {
		r     *lethe.Record
		plain string
		seal  []byte
	}
	batches := make([][]row, b.N)
	for i := range batches {
		for _, r := range benchBatch(i, n) {
			plain, _ := lethe.EncodePlain(r.Plain)
			batches[i] = append(batches[i], row{r, plain, lethe.EncodeSealed(r.Sealed)})
		}
	}
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		tx, err := db.BeginTx(ctx, nil)
		if err != nil {
			b.Fatal(err)
		}
		ins, _ := tx.PrepareContext(ctx, insertRecordSQL)
		sub, _ := tx.PrepareContext(ctx, insertSubjectSQL)
		for _, x := range batches[i] {
			r := x.r
			res, err := ins.ExecContext(ctx, r.Tenant, r.Collection, r.ID, r.Origin, millis(r.CreatedAt), millis(r.UpdatedAt),
				string(r.State), x.plain, x.seal, string(r.Plan.Action), r.Plan.Rule, millis(r.Plan.DueAt), nil)
			if err != nil {
				b.Fatal(err)
			}
			rid, _ := res.LastInsertId()
			for _, sj := range r.Subjects {
				if _, err := sub.ExecContext(ctx, rid, r.Tenant, r.Collection, sj.Kind, sj.Field, sj.Hash, sj.Unique); err != nil {
					b.Fatal(err)
				}
			}
		}
		ins.Close()
		sub.Close()
		if err := tx.Commit(); err != nil {
			b.Fatal(err)
		}
	}
	b.StopTimer()
	reportRecords(b, n)
}

// BenchmarkInsertRecordsConcurrent50 has 50 clients insert one record per
// call, as 50 HTTP clients would: group commit shares each fsync among the
// calls waiting for it.
func BenchmarkInsertRecordsConcurrent50(b *testing.B) {
	s := openTemp(b)
	ctx := context.Background()
	var next atomic.Int64
	b.SetParallelism(max(1, 50/runtime.GOMAXPROCS(0)))
	b.ResetTimer()
	b.RunParallel(func(pb *testing.PB) {
		for pb.Next() {
			r := benchBatch(int(next.Add(1)), 1)
			if err := s.InsertRecords(ctx, r); err != nil {
				b.Error(err)
				return
			}
		}
	})
	b.StopTimer()
	reportRecords(b, 1)
}
