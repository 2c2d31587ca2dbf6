package audit

import (
	"context"
	"errors"
	"slices"
	"sync"
	"sync/atomic"
	"testing"
	"time"
)

// TestBatcher_SubmitDoesNotWaitAndSyncDoes: Submit returns while the
// commit is still held up; Sync returns only once the item is committed.
func TestBatcher_SubmitDoesNotWaitAndSyncDoes(t *testing.T) {
	release := make(chan struct{})
	var committed atomic.Int64
	b := NewBatcher(func(_ context.Context, items []int) error {
		<-release
		committed.Add(int64(len(items)))
		return nil
	}, BatchOptions{})
	defer b.Close()
	if !b.Submit(1) {
		t.Fatal("Submit refused on a healthy batcher")
	}
	synced := make(chan error, 1)
	go func() { synced <- b.Sync(context.Background()) }()
	select {
	case <-synced:
		t.Fatal("Sync returned before the submitted item was committed")
	case <-time.After(50 * time.Millisecond):
	}
	close(release)
	if err := <-synced; err != nil {
		t.Fatal(err)
	}
	if n := committed.Load(); n != 1 {
		t.Fatalf("committed %d items when Sync returned, want 1", n)
	}
}

// TestBatcher_SubmitFailsClosed: once a commit of submitted items fails,
// Submit refuses, so the next caller appends, waits and sees the error;
// the first commit that succeeds again lets Submit through.
func TestBatcher_SubmitFailsClosed(t *testing.T) {
	var failing atomic.Bool
	errDisk := errors.New("disk full")
	b := NewBatcher(func(_ context.Context, items []int) error {
		if failing.Load() {
			return errDisk
		}
		return nil
	}, BatchOptions{})
	defer b.Close()
	ctx := context.Background()
	failing.Store(true)
	if !b.Submit(1) {
		t.Fatal("Submit refused before any commit failed")
	}
	if err := b.Sync(ctx); err != nil {
		t.Fatal(err)
	}
	if b.Submit(2) {
		t.Fatal("Submit accepted an item after a commit of submitted items failed")
	}
	if err := b.Append(ctx, 2); !errors.Is(err, errDisk) {
		t.Fatalf("Append while failing: %v, want the commit's error", err)
	}
	failing.Store(false)
	if err := b.Append(ctx, 3); err != nil {
		t.Fatal(err)
	}
	if !b.Submit(4) {
		t.Fatal("Submit still refused after a commit succeeded again")
	}
}

// TestBatcher_SubmittedItemsLinger: submitted items alone wait up to
// SubmitDelay for more and commit together; a caller that waits ends the
// lingering and joins that commit.
func TestBatcher_SubmittedItemsLinger(t *testing.T) {
	b, log, ctx := loggedBatcher(t, BatchOptions{SubmitDelay: time.Hour})
	for i := range 3 {
		if !b.Submit(i) {
			t.Fatal("Submit refused")
		}
	}
	done := make(chan error, 1)
	go func() { done <- b.Append(ctx, 9) }()
	select {
	case err := <-done:
		if err != nil {
			t.Fatal(err)
		}
	case <-time.After(10 * time.Second):
		t.Fatal("a waiting caller was kept waiting by the lingering")
	}
	if got := log.sizes(); !slices.Equal(got, []int{4}) {
		t.Fatalf("batches %v, want the three submitted items and the appended one in one commit", got)
	}
}

// TestBatcher_SubmitAfterCloseIsRefused: nothing is taken that would not
// be committed.
func TestBatcher_SubmitAfterCloseIsRefused(t *testing.T) {
	b := NewBatcher(func(context.Context, []int) error { return nil }, BatchOptions{})
	b.Close()
	if b.Submit(1) {
		t.Fatal("Submit accepted an item after Close")
	}
	if err := b.Sync(context.Background()); err != nil {
		t.Fatalf("Sync after Close: %v, want nil (Close committed everything)", err)
	}
}

// TestWeightedBatcher_MaxBatchCountsWeight: a batch stops gathering once
// the weight of its items reaches MaxBatch, so two calls of 10 records
// under a cap of 10 commit one at a time (counted in items, they would
// have shared a commit).
func TestWeightedBatcher_MaxBatchCountsWeight(t *testing.T) {
	var mu sync.Mutex
	var batches []int
	release := make(chan struct{})
	first := true
	b := NewWeightedBatcher(func(_ context.Context, items []int) error {
		mu.Lock()
		wait := first
		first = false
		batches = append(batches, len(items))
		mu.Unlock()
		if wait {
			<-release // hold the loop so that the next calls queue up
		}
		return nil
	}, func(w int) int { return w }, BatchOptions{MaxBatch: 10})
	defer b.Close()
	ctx := context.Background()
	var wg sync.WaitGroup
	wg.Add(1)
	go func() { defer wg.Done(); b.Append(ctx, 1) }()
	for b.Stats().Commits == 0 {
		time.Sleep(time.Millisecond)
	}
	for range 2 {
		wg.Add(1)
		go func() { defer wg.Done(); b.Append(ctx, 10) }()
	}
	for len(b.calls) < 2 {
		time.Sleep(time.Millisecond)
	}
	close(release)
	wg.Wait()
	mu.Lock()
	defer mu.Unlock()
	if !slices.Equal(batches, []int{1, 1, 1}) {
		t.Fatalf("batches %v, want [1 1 1]: each call of weight 10 fills MaxBatch 10", batches)
	}
}
