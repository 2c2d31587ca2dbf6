package bench

import (
	"context"
	"fmt"
	"sync"
	"sync/atomic"
	"time"
)

const (
	// lagEntryBase numbers the entries of the lag phase apart from the
	// others.
	lagEntryBase = 80_000_000
	// lagWriteTick is how often the writer tops its records up to the
	// target rate; lagSampleEvery how often the lag is read.
	lagWriteTick   = 50 * time.Millisecond
	lagSampleEvery = 250 * time.Millisecond
)

// lag measures the sweep lag under steady ingest with continuous expiry. A
// writer stores prize draw entries at cfg.LagRate for cfg.LagDuration,
// each created so that it falls due cfg.LagDueIn after it is written; the
// sweeper runs every cfg.SweepInterval, as "lethe serve" runs it; the lag
// (how long the oldest overdue record has waited, Engine.Lag) is sampled
// every 250 ms from the moment the first records fall due until the last
// ones have. A final sweep must then find every record of the phase swept.
func (r *runner) lag(ctx context.Context) error {
	r.progress("sweep lag under steady ingest")
	cfg := r.cfg
	ctx, cancel := context.WithCancel(ctx)
	defer cancel()

	var (
		wg       sync.WaitGroup
		written  atomic.Int64
		swept    atomic.Int64
		sweepErr atomic.Int64
		writeErr error
		took     time.Duration
	)
	t0 := time.Now()
	wg.Add(1)
	go func() { // the writer
		defer wg.Done()
		defer func() { took = time.Since(t0) }()
		tick := time.NewTicker(lagWriteTick)
		defer tick.Stop()
		for {
			elapsed := time.Since(t0)
			target := int64(float64(cfg.LagRate) * min(elapsed, cfg.LagDuration).Seconds())
			for n := written.Load(); n < target; n = written.Load() {
				k := int(min(target-n, BatchSize))
				created := cfg.Now().Add(cfg.LagDueIn - EntryPeriod)
				if _, err := r.env.Engine.Put(ctx, ChatTenant, EntryCollection, PrizeEntries(lagEntryBase+int(n), k, created)); err != nil {
					writeErr = fmt.Errorf("bench: lag writer: %w", err)
					cancel()
					return
				}
				written.Add(int64(k))
			}
			if elapsed >= cfg.LagDuration {
				return
			}
			select {
			case <-ctx.Done():
				return
			case <-tick.C:
			}
		}
	}()

	stopSweeper := make(chan struct{})
	sweeperDone := make(chan struct{})
	go func() { // the sweeper
		defer close(sweeperDone)
		tick := time.NewTicker(cfg.SweepInterval)
		defer tick.Stop()
		for {
			select {
			case <-stopSweeper:
				return
			case <-ctx.Done():
				return
			case <-tick.C:
			}
			res, err := r.env.Engine.Sweep(ctx)
			if res != nil {
				swept.Add(res.Deleted)
			}
			if err != nil && ctx.Err() == nil {
				// A sweep may fail on its final log truncation while a
				// reader holds the log; its batches are committed, and the
				// next sweep truncates. Counted, not fatal.
				sweepErr.Add(1)
			}
		}
	}()

	// The sampler, in this goroutine.
	var samples []time.Duration
	from, until := t0.Add(cfg.LagDueIn), t0.Add(cfg.LagDuration+cfg.LagDueIn)
	select {
	case <-ctx.Done():
	case <-time.After(time.Until(from)):
	}
	tick := time.NewTicker(lagSampleEvery)
	for ctx.Err() == nil && time.Now().Before(until) {
		_, lag, err := r.env.Engine.Lag(ctx)
		if err != nil {
			tick.Stop()
			cancel()
			wg.Wait()
			<-sweeperDone
			return fmt.Errorf("bench: lag: %w", err)
		}
		samples = append(samples, lag)
		select {
		case <-ctx.Done():
		case <-tick.C:
		}
	}
	tick.Stop()
	close(stopSweeper)
	<-sweeperDone
	wg.Wait()
	if writeErr != nil {
		return writeErr
	}
	if err := ctx.Err(); err != nil {
		return err
	}
	// Whatever is still due is swept now; then every record of the phase
	// must be gone.
	time.Sleep(time.Until(t0.Add(took + cfg.LagDueIn + 10*time.Millisecond)))
	res, err := r.env.Engine.Sweep(ctx)
	if err != nil {
		return fmt.Errorf("bench: final sweep: %w", err)
	}
	if got := swept.Load() + res.Deleted; got != written.Load() {
		return fmt.Errorf("%w: lag phase wrote %d records but swept %d", errMismatch, written.Load(), got)
	}

	r.res.SweepLagSamples = len(samples)
	r.res.SweepLagSwept = swept.Load()
	r.res.SweepLagSweepErrors = sweepErr.Load()
	r.res.SweepLagIngestRPS = rate(int(written.Load()), took)
	r.res.SweepLagP50S = percentile(samples, 50).Seconds()
	r.res.SweepLagP99S = percentile(samples, 99).Seconds()
	r.res.SweepLagMaxS = percentile(samples, 100).Seconds()
	return nil
}
