package audit

import (
	"context"
	"errors"
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

func TestBatcher_LoneCallerNeverLingers(t *testing.T) {
	var log batchLog
	b := NewBatcher(func(_ context.Context, items []int) error { log.add(items); return nil },
		BatchOptions{Delay: time.Hour, Siblings: 2})
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

func TestBatcher_BusyBatchLingersForLaterCallers(t *testing.T) {
	var log batchLog
	release := make(chan struct{})
	first := true
	b := NewBatcher(func(_ context.Context, items []int) error {
		if first { // hold the first commit until the others queue up
			first = false
			<-release
		}
		log.add(items)
		return nil
	}, BatchOptions{Delay: time.Second, Siblings: 3})
	defer b.Close()
	ctx := context.Background()
	var wg sync.WaitGroup
	wg.Go(func() { b.Append(ctx, 0) })
	for b.Stats().Commits == 0 { // the first commit is running
		time.Sleep(time.Millisecond)
	}
	for i := 1; i <= 3; i++ {
		wg.Go(func() { b.Append(ctx, i) })
	}
	for len(b.calls) < 3 {
		time.Sleep(time.Millisecond)
	}
	close(release)
	// The three waiting calls reach Siblings: the batcher lingers for a
	// second, and a call made now joins their commit.
	time.Sleep(50 * time.Millisecond)
	if err := b.Append(ctx, 4); err != nil {
		t.Fatal(err)
	}
	wg.Wait()
	if got := log.sizes(); !slices.Equal(got, []int{1, 4}) {
		t.Fatalf("batches %v, want [1 4]: the late call should have joined the lingering batch", got)
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
