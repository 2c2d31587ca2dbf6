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

// loggedBatcher starts a batcher of ints that records its batches, and a
// context that ends a test stuck on an append.
func loggedBatcher(t *testing.T, opts BatchOptions) (*Batcher[int], *batchLog, context.Context) {
	t.Helper()
	log := new(batchLog)
	b := NewBatcher(func(_ context.Context, items []int) error { log.add(items); return nil }, opts)
	t.Cleanup(b.Close)
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	t.Cleanup(cancel)
	return b, log, ctx
}

func TestBatcher_LoneCallerNeverWaitsForTheDelay(t *testing.T) {
	b, log, ctx := loggedBatcher(t, BatchOptions{Yield: true, Delay: time.Hour})
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

// An announced caller holds the batch until it arrives: the first caller's
// item waits for the second one's instead of committing alone, however
// long the second takes within Delay. Without the announcement each
// commits alone.
func TestBatcher_WaitsForAnnouncedCallers(t *testing.T) {
	for _, tc := range []struct {
		name     string
		announce bool
		want     []int
	}{
		{"announced", true, []int{2}},
		{"not announced", false, []int{1, 1}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			b, log, ctx := loggedBatcher(t, BatchOptions{Delay: time.Hour})
			if tc.announce {
				b.Expect()
				b.Expect()
			}
			arrive := func() {
				if tc.announce {
					b.Arrive()
				}
			}
			first := make(chan error, 1)
			go func() { arrive(); first <- b.Append(ctx, 1) }()
			time.Sleep(50 * time.Millisecond) // the first call is at the batcher
			arrive()
			if err := b.Append(ctx, 2); err != nil {
				t.Fatal(err)
			}
			if err := <-first; err != nil {
				t.Fatal(err)
			}
			if got := log.sizes(); !slices.Equal(got, tc.want) {
				t.Fatalf("batches %v, want %v", got, tc.want)
			}
		})
	}
}

// A caller that announced itself and then has nothing to append releases
// the waiting batch at once; one that never comes holds it for Delay only.
func TestBatcher_AnnouncedCallerThatNeverComes(t *testing.T) {
	t.Run("abandons", func(t *testing.T) {
		b, log, ctx := loggedBatcher(t, BatchOptions{Delay: time.Hour})
		b.Expect()
		b.Expect()
		first := make(chan error, 1)
		go func() { b.Arrive(); first <- b.Append(ctx, 1) }()
		time.Sleep(50 * time.Millisecond)
		select {
		case err := <-first:
			t.Fatalf("append returned (%v) while a caller was announced", err)
		default:
		}
		b.Abandon()
		if err := <-first; err != nil {
			t.Fatalf("append after the other caller abandoned: %v (want a commit at once, not after Delay)", err)
		}
		if got := log.sizes(); !slices.Equal(got, []int{1}) {
			t.Fatalf("batches %v, want one of one", got)
		}
	})
	t.Run("delay bounds the wait", func(t *testing.T) {
		const delay = 30 * time.Millisecond
		b := NewBatcher(func(context.Context, []int) error { return nil }, BatchOptions{Delay: delay})
		defer b.Close()
		b.Expect() // never arrives
		defer b.Abandon()
		start := time.Now()
		if err := b.Append(t.Context(), 1); err != nil {
			t.Fatal(err)
		}
		if took := time.Since(start); took < delay || took > 5*time.Second {
			t.Fatalf("append took %v, want Delay (%v) and not much more", took, delay)
		}
	})
}

// Many callers announcing, arriving, abandoning and appending at once:
// every item is committed once, and the batcher ends with nobody
// expected (run with -race).
func TestBatcher_AnnouncedCallersUnderLoad(t *testing.T) {
	var mu sync.Mutex
	seen := map[int]int{}
	b := NewBatcher(func(_ context.Context, items []int) error {
		mu.Lock()
		defer mu.Unlock()
		for _, it := range items {
			seen[it]++
		}
		return nil
	}, BatchOptions{Yield: true, Delay: 2 * time.Millisecond})
	const callers, each = 32, 50
	var wg sync.WaitGroup
	for c := range callers {
		wg.Go(func() {
			for i := range each {
				b.Expect()
				if i%5 == 4 {
					b.Abandon()
					continue
				}
				b.Arrive()
				if err := b.Append(t.Context(), c*each+i); err != nil {
					t.Error(err)
					return
				}
			}
		})
	}
	wg.Wait()
	b.Close()
	if n := b.expected.Load(); n != 0 {
		t.Errorf("expected = %d after every caller ended, want 0", n)
	}
	want := callers * each * 4 / 5
	if len(seen) != want {
		t.Errorf("%d items committed, want %d", len(seen), want)
	}
	for it, n := range seen {
		if n != 1 {
			t.Errorf("item %d committed %d times", it, n)
		}
	}
}
