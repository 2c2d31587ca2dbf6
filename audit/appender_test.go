package audit

import (
	"context"
	"errors"
	"runtime"
	"slices"
	"sync"
	"testing"
	"time"
)

// batchLog records the batches a commit function was handed.
type batchLog struct {
	mu      sync.Mutex
	batches [][]int
}

func (l *batchLog) add(items []int) {
	l.mu.Lock()
	defer l.mu.Unlock()
	l.batches = append(l.batches, slices.Clone(items))
}

func (l *batchLog) sizes() []int {
	l.mu.Lock()
	defer l.mu.Unlock()
	var out []int
	for _, b := range l.batches {
		out = append(out, len(b))
	}
	return out
}

func TestBatcher_LoneCallerNeverWaitsForTheDelay(t *testing.T) {
	var log batchLog
	b := NewBatcher(func(_ context.Context, items []int) error { log.add(items); return nil },
		BatchOptions{Yield: true, Delay: time.Hour})
	defer b.Close()
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	for i := range 3 {
		if err := b.Append(ctx, i); err != nil {
			t.Fatalf("append %d: %v (a lone caller waited for the delay)", i, err)
		}
	}
	if got := log.sizes(); !slices.Equal(got, []int{1, 1, 1}) {
		t.Fatalf("batches %v, want three of one", got)
	}
}

// TestBatcher_YieldLetsARunningCallerJoin runs on one processor, so that
// the order is the scheduler's: the second caller is runnable when the
// first one's call reaches the batcher. Stepping aside lets it run and
// join; without, the first call commits alone.
func TestBatcher_YieldLetsARunningCallerJoin(t *testing.T) {
	defer runtime.GOMAXPROCS(runtime.GOMAXPROCS(1))
	for _, tc := range []struct {
		yield bool
		want  []int
	}{
		{false, []int{1, 1}},
		{true, []int{2}},
	} {
		var log batchLog
		b := NewBatcher(func(_ context.Context, items []int) error { log.add(items); return nil },
			BatchOptions{Yield: tc.yield, Delay: time.Second})
		ctx := context.Background()
		start := make(chan struct{})
		var wg sync.WaitGroup
		wg.Go(func() { <-start; b.Append(ctx, 2) })
		for range 10 { // the second caller now waits on start
			runtime.Gosched()
		}
		wg.Go(func() { close(start); b.Append(ctx, 1) })
		wg.Wait()
		b.Close()
		// The control (no yield) relies on the scheduler's order, which
		// the race detector shuffles.
		if got := log.sizes(); !slices.Equal(got, tc.want) && (tc.yield || !raceEnabled) {
			t.Errorf("yield %v: batches %v, want %v", tc.yield, got, tc.want)
		}
	}
}

func TestBatcher_FailedBatchRetriesEachCallAlone(t *testing.T) {
	var log batchLog
	release := make(chan struct{})
	first := true
	errBad := errors.New("bad item")
	b := NewBatcher(func(_ context.Context, items []int) error {
		if first {
			first = false
			<-release
		}
		log.add(items)
		if slices.Contains(items, -1) {
			return errBad
		}
		return nil
	}, BatchOptions{})
	defer b.Close()
	ctx := context.Background()
	errs := make([]error, 4)
	var wg sync.WaitGroup
	wg.Go(func() { errs[0] = b.Append(ctx, 0) })
	for b.Stats().Commits == 0 {
		time.Sleep(time.Millisecond)
	}
	for i, v := range []int{1, -1, 3} {
		wg.Go(func() { errs[i+1] = b.Append(ctx, v) })
	}
	for len(b.calls) < 3 {
		time.Sleep(time.Millisecond)
	}
	close(release)
	wg.Wait()
	for i, err := range errs {
		if want := i == 2; (err != nil) != want || (want && !errors.Is(err, errBad)) {
			t.Errorf("call %d: %v; only the bad item's call should fail, with its error", i, err)
		}
	}
	if s := b.Stats(); s.Items != 3 || s.Commits != 5 {
		t.Errorf("stats %+v, want 3 items in 5 commits (1, the failed 3, then 3 alone)", s)
	}
}

func TestBatcher_AppendAfterCloseIsRefused(t *testing.T) {
	b := NewBatcher(func(context.Context, []int) error { return nil }, BatchOptions{})
	b.Close()
	if err := b.Append(context.Background(), 1); !IsClosed(err) {
		t.Fatalf("append after close: %v, want ErrClosed", err)
	}
}
