package console

import (
	"sync"
	"time"
)

// Sign-in failures allowed per account and per address within the window
// before further attempts (right or wrong) are refused until it passes.
const (
	maxFailures   = 5
	failureWindow = 15 * time.Minute
)

// limiter counts recent sign-in failures by key ("user:NAME", "ip:ADDR").
// Counting per account stops guessing one password from many addresses;
// per address, guessing many accounts from one.
type limiter struct {
	now func() time.Time
	mu  sync.Mutex
	f   map[string][]time.Time
}

func newLimiter(now func() time.Time) *limiter {
	return &limiter{now: now, f: make(map[string][]time.Time)}
}

func (l *limiter) recent(key string, now time.Time) []time.Time {
	ts := l.f[key]
	i := 0
	for i < len(ts) && now.Sub(ts[i]) >= failureWindow {
		i++
	}
	ts = ts[i:]
	if len(ts) == 0 {
		delete(l.f, key)
	} else {
		l.f[key] = ts
	}
	return ts
}

// blocked reports whether any key is over its limit.
func (l *limiter) blocked(keys ...string) bool {
	now := l.now()
	l.mu.Lock()
	defer l.mu.Unlock()
	for _, k := range keys {
		if len(l.recent(k, now)) >= maxFailures {
			return true
		}
	}
	return false
}

func (l *limiter) fail(keys ...string) {
	now := l.now()
	l.mu.Lock()
	defer l.mu.Unlock()
	for _, k := range keys {
		l.f[k] = append(l.recent(k, now), now)
	}
}
