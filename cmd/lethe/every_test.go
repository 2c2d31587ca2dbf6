package main

import (
	"context"
	"sync/atomic"
	"testing"
	"time"
)

func TestEvery_RunsUntilTheContextEndsAndZeroIsOff(t *testing.T) {
	for _, tc := range []struct {
		interval time.Duration
		wantRuns bool
	}{
		{0, false},
		{time.Millisecond, true},
	} {
		ctx, cancel := context.WithCancel(context.Background())
		var runs atomic.Int64
		done := every(ctx, tc.interval, func(context.Context) { runs.Add(1) })
		if tc.wantRuns {
			deadline := time.Now().Add(10 * time.Second)
			for runs.Load() < 3 && time.Now().Before(deadline) {
				time.Sleep(time.Millisecond)
			}
		}
		cancel()
		select {
		case <-done:
		case <-time.After(10 * time.Second):
			t.Fatalf("interval %v: not done 10 s after the context ended", tc.interval)
		}
		after := runs.Load()
		time.Sleep(5 * time.Millisecond)
		if got := runs.Load(); (got >= 3) != tc.wantRuns || got != after {
			t.Errorf("interval %v: %d runs (%d once done); want runs %v and none after done", tc.interval, got, after, tc.wantRuns)
		}
	}
}
