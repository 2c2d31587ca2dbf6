package soak

import (
	"context"
	"math/rand/v2"
	"slices"
	"sync"
	"sync/atomic"
	"time"
)

// acked is one acknowledged write and the due time the server answered
// with it: before then its record must be there.
type acked struct {
	id  string
	due time.Time
}

// ledger keeps every acknowledged write, and the ones found missing before
// they were due.
type ledger struct {
	mu   sync.Mutex
	recs []acked
	lost map[string]bool

	serverErrs, clientErrs atomic.Int64 // of the final check
}

func (l *ledger) add(id string, due time.Time) {
	l.mu.Lock()
	defer l.mu.Unlock()
	l.recs = append(l.recs, acked{id, due})
}

func (l *ledger) len() int {
	l.mu.Lock()
	defer l.mu.Unlock()
	return len(l.recs)
}

// pick returns a random acknowledged write.
func (l *ledger) pick(rng *rand.Rand) (acked, bool) {
	l.mu.Lock()
	defer l.mu.Unlock()
	if len(l.recs) == 0 {
		return acked{}, false
	}
	return l.recs[rng.IntN(len(l.recs))], true
}

func (l *ledger) lose(id string) {
	l.mu.Lock()
	defer l.mu.Unlock()
	if l.lost == nil {
		l.lost = make(map[string]bool)
	}
	l.lost[id] = true
}

func (l *ledger) lostCount() int64 {
	l.mu.Lock()
	defer l.mu.Unlock()
	return int64(len(l.lost))
}

func (l *ledger) lostSample(n int) []string {
	l.mu.Lock()
	defer l.mu.Unlock()
	var out []string
	for id := range l.lost {
		out = append(out, id)
	}
	slices.Sort(out)
	return out[:min(n, len(out))]
}

// dueBefore counts the writes due before t.
func (l *ledger) dueBefore(t time.Time) int64 {
	l.mu.Lock()
	defer l.mu.Unlock()
	var n int64
	for _, r := range l.recs {
		if !r.due.After(t) {
			n++
		}
	}
	return n
}

// check reads every acknowledged write once with clients concurrent
// readers: present ones count as present, missing ones as swept when
// their due time had passed at the read, and as lost otherwise.
func (l *ledger) check(ctx context.Context, clients int, get func(context.Context, string) (int, error)) (present, swept int64, err error) {
	l.mu.Lock()
	recs := slices.Clone(l.recs)
	l.mu.Unlock()
	var p, s atomic.Int64
	var next atomic.Int64
	var wg sync.WaitGroup
	for range clients {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for ctx.Err() == nil {
				i := int(next.Add(1)) - 1
				if i >= len(recs) {
					return
				}
				r := recs[i]
				status, err := get(ctx, r.id)
				switch {
				case err != nil:
					l.clientErrs.Add(1)
				case status == 200:
					p.Add(1)
				case status == 404 && !time.Now().Before(r.due):
					s.Add(1)
				case status == 404:
					l.lose(r.id)
				case status >= 500:
					l.serverErrs.Add(1)
				default:
					l.clientErrs.Add(1)
				}
			}
		}()
	}
	wg.Wait()
	return p.Load(), s.Load(), ctx.Err()
}

// percentile is the p-th percentile (nearest rank) of the samples.
func percentile(samples []time.Duration, p float64) time.Duration {
	if len(samples) == 0 {
		return 0
	}
	s := slices.Clone(samples)
	slices.Sort(s)
	i := int(float64(len(s))*p/100+0.5) - 1
	return s[min(max(i, 0), len(s)-1)]
}
