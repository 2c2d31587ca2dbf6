package bench

import (
	"context"
	"fmt"
	"time"
)

// sweepEntryBase numbers the entries the delete sweep removes apart from
// the ingested ones.
const sweepEntryBase = 60_000_000

// sweep measures delete and anonymize throughput: cfg.SweepRecords prize
// draw entries created 60 days and an hour ago (due for deletion), then as
// many Amazon orders shipped 30 days and an hour ago (due for
// anonymization), each swept by one Engine.Sweep; the baseline deletes or
// rewrites the same plaintext rows with batched SQL in transactions of
// BatchSize. Only the sweeps are timed, not storing their records.
func (r *runner) sweep(ctx context.Context) error {
	n := r.cfg.SweepRecords
	now := r.cfg.Now()

	r.progress("sweep: prepare deletes")
	created := now.Add(-EntryPeriod - time.Hour)
	for first := 0; first < n; first += BatchSize {
		k := min(BatchSize, n-first)
		if _, err := r.env.Engine.Put(ctx, ChatTenant, EntryCollection, PrizeEntries(sweepEntryBase+first, k, created)); err != nil {
			return fmt.Errorf("bench: put due entries: %w", err)
		}
		if err := r.raw.Insert(ctx, RawEntries(sweepEntryBase+first, k, created)); err != nil {
			return fmt.Errorf("bench: raw insert: %w", err)
		}
	}

	r.progress("sweep: delete")
	start := time.Now()
	res, err := r.env.Engine.Sweep(ctx)
	if err != nil {
		return fmt.Errorf("bench: sweep: %w", err)
	}
	took := time.Since(start)
	if res.Deleted != int64(n) || res.Anonymized != 0 {
		return fmt.Errorf("%w: delete sweep deleted %d and anonymized %d, want %d and 0", errMismatch, res.Deleted, res.Anonymized, n)
	}
	r.res.SweepDeleteRPS = rate(n, took)

	r.progress("sweep: delete baseline")
	start = time.Now()
	deleted, err := r.raw.DeleteDue(ctx, r.cfg.Now(), BatchSize)
	if err != nil {
		return fmt.Errorf("bench: %w", err)
	}
	took = time.Since(start)
	if deleted != n {
		return fmt.Errorf("%w: raw delete removed %d rows, want %d", errMismatch, deleted, n)
	}
	r.res.SweepDeleteBaselineRPS = rate(n, took)
	r.res.SweepDeleteRatio = ratio(r.res.SweepDeleteRPS, r.res.SweepDeleteBaselineRPS)

	r.progress("sweep: prepare anonymizations")
	// The last order ships an hour before it would fall due now.
	base := r.cfg.Now().Add(-OrderAnonymizeAfter - time.Hour - time.Duration(n)*time.Millisecond)
	ids := make([]string, 0, n)
	for first := 0; first < n; first += BatchSize {
		k := min(BatchSize, n-first)
		if _, err := r.env.Engine.Put(ctx, ShopTenant, OrderCollection, Orders(first, k, base)); err != nil {
			return fmt.Errorf("bench: put due orders: %w", err)
		}
		rows := RawOrders(first, k, base)
		for _, row := range rows {
			ids = append(ids, row.ID)
		}
		if err := r.raw.Insert(ctx, rows); err != nil {
			return fmt.Errorf("bench: raw insert: %w", err)
		}
	}

	r.progress("sweep: anonymize")
	start = time.Now()
	res, err = r.env.Engine.Sweep(ctx)
	if err != nil {
		return fmt.Errorf("bench: sweep: %w", err)
	}
	took = time.Since(start)
	if res.Anonymized != int64(n) || res.Deleted != 0 {
		return fmt.Errorf("%w: anonymize sweep anonymized %d and deleted %d, want %d and 0", errMismatch, res.Anonymized, res.Deleted, n)
	}
	r.res.SweepAnonymizeRPS = rate(n, took)

	r.progress("sweep: anonymize baseline")
	took, err = r.rawAnonymize(ctx, base, ids)
	if err != nil {
		return err
	}
	r.res.SweepAnonymizeBaselineRPS = rate(n, took)
	r.res.SweepAnonymizeRatio = ratio(r.res.SweepAnonymizeRPS, r.res.SweepAnonymizeBaselineRPS)
	return nil
}

// rawAnonymize rewrites the raw orders batch by batch. Orders fall due in
// number order (OrderShipped), so batch k holds orders k*BatchSize on;
// their anonymized forms are built before the batch's clock starts.
func (r *runner) rawAnonymize(ctx context.Context, base time.Time, ids []string) (time.Duration, error) {
	now := r.cfg.Now()
	var took time.Duration
	done := 0
	for first := 0; ; first += BatchSize {
		forms := make(map[string]string, BatchSize)
		for i := first; i < min(first+BatchSize, len(ids)); i++ {
			forms[ids[i]] = AnonymizedOrder(base, i)
		}
		start := time.Now()
		k, err := r.raw.AnonymizeDue(ctx, now, BatchSize, forms)
		took += time.Since(start)
		if err != nil {
			return 0, fmt.Errorf("bench: %w", err)
		}
		done += k
		if k == 0 {
			break
		}
	}
	start := time.Now()
	if err := r.raw.Checkpoint(ctx); err != nil {
		return 0, fmt.Errorf("bench: %w", err)
	}
	took += time.Since(start)
	if done != len(ids) {
		return 0, fmt.Errorf("%w: raw anonymize rewrote %d rows, want %d", errMismatch, done, len(ids))
	}
	return took, nil
}
