package bench

import (
	"context"
	"fmt"
	"time"
)

// ingest stores cfg.Records prize draw entries through Engine.Put in
// batches of BatchSize and the same entries as plaintext rows into the
// raw baseline in transactions of BatchSize, the two sides in turns: one
// batch of each, the side that goes first alternating. Measured one whole
// side after the other, the first side ran in a cold process (a heap
// still growing, the tenant's keys not yet unwrapped) and each side met
// a different moment of a shared machine's load; at 20,000 records, a
// few seconds a side, that alone moved the ratio by 0.3 between runs.
// Each batch is built before its clock starts, so both sides time
// storing only (and the benchmark's own inputs do not swell the peak
// memory it reports).
func (r *runner) ingest(ctx context.Context) error {
	n := r.cfg.Records
	r.progress("ingest: engine batches and raw baseline, in turns")
	var engineTook, rawTook time.Duration
	for k, first := 0, 0; first < n; k, first = k+1, first+BatchSize {
		size := min(BatchSize, n-first)
		putEngine := func() error {
			in := PrizeEntries(first, size, time.Time{})
			start := time.Now()
			if _, err := r.env.Engine.Put(ctx, ChatTenant, EntryCollection, in); err != nil {
				return fmt.Errorf("bench: put: %w", err)
			}
			engineTook += time.Since(start)
			return nil
		}
		putRaw := func() error {
			rows := RawEntries(first, size, r.cfg.Now())
			start := time.Now()
			if err := r.raw.Insert(ctx, rows); err != nil {
				return fmt.Errorf("bench: raw insert: %w", err)
			}
			rawTook += time.Since(start)
			return nil
		}
		one, two := putEngine, putRaw
		if k%2 == 1 {
			one, two = putRaw, putEngine
		}
		if err := one(); err != nil {
			return err
		}
		if err := two(); err != nil {
			return err
		}
	}
	r.res.IngestBatchRPS = rate(n, engineTook)
	r.res.IngestBatchBaselineRPS = rate(n, rawTook)
	r.res.IngestBatchRatio = ratio(r.res.IngestBatchRPS, r.res.IngestBatchBaselineRPS)
	return nil
}
