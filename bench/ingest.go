package bench

import (
	"context"
	"fmt"
	"time"
)

// ingest stores cfg.Records prize draw entries through Engine.Put in
// batches of BatchSize, then the same entries as plaintext rows into the
// raw baseline in transactions of BatchSize. Each batch is built before
// its clock starts, so both sides time storing only (and the benchmark's
// own inputs do not swell the peak memory it reports).
func (r *runner) ingest(ctx context.Context) error {
	n := r.cfg.Records
	r.progress("ingest: engine batches")
	var took time.Duration
	for first := 0; first < n; first += BatchSize {
		in := PrizeEntries(first, min(BatchSize, n-first), time.Time{})
		start := time.Now()
		if _, err := r.env.Engine.Put(ctx, ChatTenant, EntryCollection, in); err != nil {
			return fmt.Errorf("bench: put: %w", err)
		}
		took += time.Since(start)
	}
	r.res.IngestBatchRPS = rate(n, took)

	r.progress("ingest: raw baseline")
	took = 0
	for first := 0; first < n; first += BatchSize {
		rows := RawEntries(first, min(BatchSize, n-first), r.cfg.Now())
		start := time.Now()
		if err := r.raw.Insert(ctx, rows); err != nil {
			return fmt.Errorf("bench: raw insert: %w", err)
		}
		took += time.Since(start)
	}
	r.res.IngestBatchBaselineRPS = rate(n, took)
	r.res.IngestBatchRatio = ratio(r.res.IngestBatchRPS, r.res.IngestBatchBaselineRPS)
	return nil
}
