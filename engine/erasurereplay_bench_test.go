package engine_test

import (
	"bytes"
	"context"
	"fmt"
	"path/filepath"
	"testing"
	"time"

	"github.com/lethe-privacy/lethe"
	"github.com/lethe-privacy/lethe/bench"
	"github.com/lethe-privacy/lethe/journal"
	"github.com/lethe-privacy/lethe/keyring"
)

// BenchmarkReplayErasures is the first start after a restore of 100k
// records (ADR 0016): the walk over every record against the erasure
// journal, beside a plain scan of the same records through the store (the
// floor), with no record due and with 10k due for deletion.
//
//	go test -run '^$' -bench ReplayErasures -benchtime 3x -count 3 ./engine/
func BenchmarkReplayErasures(b *testing.B) {
	const records, erased = 100_000, 10_000
	ctx := context.Background()
	env := benchEnv(b)
	put := func(from, n int) {
		for i := from; i < from+n; i += bench.BatchSize {
			in := bench.PrizeEntries(i, bench.BatchSize, time.Time{})
			for j := range in {
				in[j].ID = fmt.Sprintf("E-%07d", i+j)
			}
			if _, err := env.Engine.Put(ctx, bench.ChatTenant, bench.EntryCollection, in); err != nil {
				b.Fatal(err)
			}
		}
	}
	put(0, records)
	kek, err := keyring.NewFileKEK(bytes.Repeat([]byte{7}, keyring.KEKSize))
	if err != nil {
		b.Fatal(err)
	}
	j, err := journal.Open(ctx, filepath.Join(b.TempDir(), journal.FileName), kek)
	if err != nil {
		b.Fatal(err)
	}
	defer j.Close()
	var due, other []journal.Entry
	for i := 0; i < erased; i++ {
		due = append(due, journal.Entry{Ref: lethe.RecordRef{Tenant: bench.ChatTenant, Collection: bench.EntryCollection, ID: fmt.Sprintf("E-%07d", i)}, Action: lethe.ActionDelete})
		other = append(other, journal.Entry{Ref: lethe.RecordRef{Tenant: bench.ChatTenant, Collection: bench.EntryCollection, ID: fmt.Sprintf("gone-%07d", i)}, Action: lethe.ActionDelete})
	}
	later := time.Now().Add(time.Hour)
	if _, err := j.Begin(other, later); err != nil {
		b.Fatal(err)
	}
	noneDue, _, err := j.Verdict()
	if err != nil {
		b.Fatal(err)
	}
	b.Run("scan-baseline", func(b *testing.B) {
		for b.Loop() {
			n := 0
			for after := (lethe.RecordCursor{}); ; {
				recs, err := env.Store.ScopeRecords(ctx, lethe.ScopeQuery{Tenant: bench.ChatTenant, After: after, Limit: 1000})
				if err != nil {
					b.Fatal(err)
				}
				if len(recs) == 0 {
					break
				}
				n += len(recs)
				last := recs[len(recs)-1]
				after = lethe.RecordCursor{Collection: last.Collection, ID: last.ID}
			}
			if n != records {
				b.Fatalf("scanned %d", n)
			}
		}
		b.ReportMetric(float64(records)*float64(b.N)/b.Elapsed().Seconds(), "records/s")
	})
	b.Run("none-due", func(b *testing.B) {
		for b.Loop() {
			res, err := env.Engine.ReplayErasures(ctx, noneDue)
			if err != nil || res.Deleted != 0 || res.Scanned < records {
				b.Fatalf("%+v %v", res, err)
			}
		}
		b.ReportMetric(float64(records)*float64(b.N)/b.Elapsed().Seconds(), "records/s")
	})
	if _, err := j.Begin(due, later); err != nil {
		b.Fatal(err)
	}
	tenDue, _, err := j.Verdict()
	if err != nil {
		b.Fatal(err)
	}
	b.Run("10k-due", func(b *testing.B) {
		var took time.Duration
		for i := 0; i < b.N; i++ {
			if i > 0 {
				put(0, erased) // the deleted ones back, as a restore brings them
			}
			start := time.Now()
			res, err := env.Engine.ReplayErasures(ctx, tenDue)
			took += time.Since(start)
			if err != nil || res.Deleted != erased {
				b.Fatalf("%+v %v", res, err)
			}
		}
		b.ReportMetric(float64(took.Milliseconds())/float64(b.N), "ms/replay")
		b.ReportMetric(float64(records)*float64(b.N)/took.Seconds(), "records/s")
	})
}
