package soak

import (
	"context"
	"testing"
	"time"
)

func TestPercentile_NearestRank(t *testing.T) {
	var s []time.Duration
	for i := 1; i <= 100; i++ {
		s = append(s, time.Duration(101-i)*time.Millisecond)
	}
	for _, tc := range []struct {
		p    float64
		want time.Duration
	}{{50, 50 * time.Millisecond}, {99, 99 * time.Millisecond}, {100, 100 * time.Millisecond}, {0, time.Millisecond}} {
		if got := percentile(s, tc.p); got != tc.want {
			t.Errorf("p%.0f = %v, want %v", tc.p, got, tc.want)
		}
	}
	if got := percentile(nil, 99); got != 0 {
		t.Errorf("p99 of no samples = %v", got)
	}
}

// A record missing before its due time is lost; missing after it, swept;
// a 5xx is a server error, whatever the record.
func TestLedgerCheck_TellsLostFromSwept(t *testing.T) {
	now := time.Now()
	l := &ledger{}
	l.add("present", now.Add(time.Hour))
	l.add("swept", now.Add(-time.Second))
	l.add("lost", now.Add(time.Hour))
	l.add("broken", now.Add(time.Hour))
	answers := map[string]int{"present": 200, "swept": 404, "lost": 404, "broken": 500}
	present, swept, err := l.check(context.Background(), 3, func(_ context.Context, id string) (int, error) {
		return answers[id], nil
	})
	if err != nil {
		t.Fatal(err)
	}
	if present != 1 || swept != 1 || l.lostCount() != 1 || l.lostSample(5)[0] != "lost" || l.serverErrs.Load() != 1 {
		t.Fatalf("present %d, swept %d, lost %v, server errors %d", present, swept, l.lostSample(5), l.serverErrs.Load())
	}
	if n := l.dueBefore(now); n != 1 {
		t.Errorf("due before now: %d, want 1", n)
	}
}
