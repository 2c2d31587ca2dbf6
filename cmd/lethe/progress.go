package main

import (
	"context"
	"fmt"
	"io"
	"sync"
	"time"

	"github.com/schollz/progressbar/v3"

	"github.com/lethe-privacy/lethe"
	"github.com/lethe-privacy/lethe/engine"
)

// jobBar draws a request job's progress on a terminal. It writes only to
// standard error, and only when that is a terminal: the job's JSON on
// standard output stays clean, and logs and pipes get no control codes.
type jobBar struct {
	bar *progressbar.ProgressBar
}

// newJobBar returns a bar on w, or nil (every method a no-op) when w is
// not a terminal.
func newJobBar(w io.Writer, id string) *jobBar {
	if !isTerminal(w) {
		return nil
	}
	return drawJobBar(w, id)
}

// drawJobBar returns a bar on w whatever w is.
func drawJobBar(w io.Writer, id string) *jobBar {
	return &jobBar{bar: progressbar.NewOptions64(-1,
		progressbar.OptionSetWriter(w),
		progressbar.OptionSetDescription("request "+id),
		progressbar.OptionShowCount(),
		progressbar.OptionSetElapsedTime(true),
		progressbar.OptionSetPredictTime(false),
		progressbar.OptionClearOnFinish(),
	)}
}

// update shows the job's state and how many of its records are done.
func (b *jobBar) update(j *lethe.Request) {
	if b == nil {
		return
	}
	if j.Total > 0 && b.bar.GetMax64() != j.Total {
		b.bar.ChangeMax64(j.Total)
	}
	b.bar.Set64(j.Processed)
	b.bar.Describe(fmt.Sprintf("request %s %s", j.ID, j.State))
}

func (b *jobBar) finish() {
	if b != nil {
		b.bar.Finish()
	}
}

// finished reports whether a job has reached its end.
func finished(j *lethe.Request) bool {
	return j.State == lethe.RequestDone || j.State == lethe.RequestFailed
}

// jobFollower works on request jobs in this process, as a server's runner
// would, and watches one of them.
type jobFollower struct {
	o          *opened
	tenant, id string
	poll       time.Duration
	bar        *jobBar // nil: no progress shown
	runner     *engine.RequestRunner
}

func newJobFollower(o *opened, tenant, id string, bar *jobBar) *jobFollower {
	return &jobFollower{o: o, tenant: tenant, id: id, poll: 250 * time.Millisecond, bar: bar, runner: o.eng.NewRequestRunner()}
}

// run takes every claimable job (this one, when no other instance has it)
// and works on it here, then returns the job as it stands. With wait it
// repeats until the job is done or failed: a job another instance is
// running ends there, or comes back here once that instance's lease runs
// out.
func (f *jobFollower) run(ctx context.Context, wait bool) (*lethe.Request, error) {
	stop := f.watch(ctx)
	defer stop()
	for {
		if _, err := f.runner.RunPending(ctx); err != nil {
			return nil, err
		}
		job, err := f.o.eng.Request(ctx, f.tenant, f.id)
		if err != nil {
			return nil, err
		}
		if finished(job) || !wait {
			return job, nil
		}
		select {
		case <-ctx.Done():
			return nil, ctx.Err()
		case <-time.After(f.poll):
		}
	}
}

// watch updates the bar every poll interval until stop is called; without
// a bar it does nothing.
func (f *jobFollower) watch(ctx context.Context) (stop func()) {
	if f.bar == nil {
		return func() {}
	}
	ctx, cancel := context.WithCancel(ctx)
	var wg sync.WaitGroup
	wg.Add(1)
	go func() {
		defer wg.Done()
		t := time.NewTicker(f.poll)
		defer t.Stop()
		for {
			if job, err := f.o.eng.Request(ctx, f.tenant, f.id); err == nil {
				f.bar.update(job)
			}
			select {
			case <-ctx.Done():
				return
			case <-t.C:
			}
		}
	}()
	return func() {
		cancel()
		wg.Wait()
		f.bar.finish()
	}
}
