package bench

import (
	"context"
	"fmt"
	"sync"
	"sync/atomic"
	"time"

	"github.com/lethe-privacy/lethe/engine"
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
	out, err := r.lagRun(ctx, []*engine.Engine{r.env.Engine}, lagEntryBase)
	if err != nil {
		return err
	}
	r.res.SweepLagSamples = len(out.samples)
	r.res.SweepLagSwept = out.swept
	r.res.SweepLagSweepErrors = out.sweepErrors
	r.res.SweepLagIngestRPS = out.ingestRPS
	r.res.SweepLagP50S = percentile(out.samples, 50).Seconds()
	r.res.SweepLagP99S = percentile(out.samples, 99).Seconds()
	r.res.SweepLagMaxS = percentile(out.samples, 100).Seconds()
	return nil
}

// lagOutcome is what one sweep-lag run measured.
type lagOutcome struct {
	samples     []time.Duration
	swept       int64 // by the sweepers while the writer ran
	sweepErrors int64
	ingestRPS   float64
}

// lagRun runs the writer, the sampler and one sweeper per engine (every
// engine sweeping as its own "lethe serve" would); the writer's batches go
// to the engines in turn, entries numbered from base; the lag is read
// through the first engine.
func (r *runner) lagRun(ctx context.Context, engines []*engine.Engine, base int) (lagOutcome, error) {
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
				eng := engines[int(n/BatchSize)%len(engines)]
				if _, err := eng.Put(ctx, ChatTenant, EntryCollection, PrizeEntries(base+int(n), k, created)); err != nil {
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
	var sweepers sync.WaitGroup
	for _, eng := range engines {
		sweepers.Add(1)
		go func() { // a sweeper
			defer sweepers.Done()
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
				res, err := eng.Sweep(ctx)
				if res != nil {
					swept.Add(res.Deleted)
				}
				if err != nil && ctx.Err() == nil {
					// A sweep may fail on its final log truncation while a
					// reader holds the log, or find another instance's
					// lease; its batches are committed, and the next sweep
					// goes on. Counted, not fatal.
					sweepErr.Add(1)
				}
			}
		}()
	}
	sweeperDone := make(chan struct{})
	go func() { sweepers.Wait(); close(sweeperDone) }()

	// The sampler, in this goroutine.
	var samples []time.Duration
	from, until := t0.Add(cfg.LagDueIn), t0.Add(cfg.LagDuration+cfg.LagDueIn)
	select {
	case <-ctx.Done():
	case <-time.After(time.Until(from)):
	}
	tick := time.NewTicker(lagSampleEvery)
	for ctx.Err() == nil && time.Now().Before(until) {
		_, lag, err := engines[0].Lag(ctx)
		if err != nil {
			tick.Stop()
			cancel()
			wg.Wait()
			<-sweeperDone
			return lagOutcome{}, fmt.Errorf("bench: lag: %w", err)
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
		return lagOutcome{}, writeErr
	}
	if err := ctx.Err(); err != nil {
		return lagOutcome{}, err
	}
	// Whatever is still due is swept now; then every record of the phase
	// must be gone.
	time.Sleep(time.Until(t0.Add(took + cfg.LagDueIn + 10*time.Millisecond)))
	res, err := engines[0].Sweep(ctx)
	if err != nil {
		return lagOutcome{}, fmt.Errorf("bench: final sweep: %w", err)
	}
	if got := swept.Load() + res.Deleted; got != written.Load() {
		return lagOutcome{}, fmt.Errorf("%w: lag phase wrote %d records but swept %d", errMismatch, written.Load(), got)
	}
	return lagOutcome{samples: samples, swept: swept.Load(), sweepErrors: sweepErr.Load(),
		ingestRPS: rate(int(written.Load()), took)}, nil
}
