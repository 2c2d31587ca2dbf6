package httpapi

import (
	"context"
	"fmt"
	"math"
	"net/netip"
	"sync"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"golang.org/x/time/rate"

	"github.com/lethe-privacy/lethe"
)

// Limits bounds how fast callers may call, so that a stolen key cannot
// read a tenant out as fast as the disk allows, and a flood of wrong
// tokens neither reaches the store nor fills the security log. The zero
// value limits nothing (a server built for a test or a benchmark);
// lethe serve starts with DefaultLimits.
type Limits struct {
	// KeyRate is the sustained rate of one principal (an API key, or the
	// admin token) in requests per second, KeyBurst how many it may send
	// at once. 0: no limit.
	KeyRate  rate.Limit
	KeyBurst int
	// IPRate and IPBurst are the same per client address (an IPv6
	// address counts as its /64, which one host usually holds whole).
	// They also cover unauthenticated routes and wrong tokens.
	IPRate  rate.Limit
	IPBurst int
	// AuthFailures failed authentications from one address within
	// AuthWindow make its further calls answer 429 until the window ends,
	// before any token is checked. 0: no slowdown.
	AuthFailures int
	// AuthWindow is the window failures are counted in. The first failure
	// of a window is logged as it happens; the others are counted and
	// written as one auth.failure.summary entry when the window ends.
	// 0: every failure is logged on its own.
	AuthWindow time.Duration
	// MaxTracked bounds the buckets (and failure windows) kept of each
	// kind; past it, new callers share one bucket. Default 100,000.
	MaxTracked int
}

// DefaultLimits are lethe serve's limits. They are generous: an
// application's backend is usually one key from one address, and it must
// not be slowed down. A key passes 1,000 requests a second (a page of a
// listing counts once), an address 2,000; ten wrong tokens within a
// minute hold an address off for the rest of that minute.
var DefaultLimits = Limits{
	KeyRate: 1000, KeyBurst: 2000,
	IPRate: 2000, IPBurst: 4000,
	AuthFailures: 10, AuthWindow: time.Minute,
	MaxTracked: 100_000,
}

func (l Limits) on() bool { return l.KeyRate > 0 || l.IPRate > 0 || l.AuthWindow > 0 }

// limitError is a call refused by a limit; problemFor answers it 429
// and the handler sets Retry-After from retry.
type limitError struct {
	kind  string // "key", "ip" or "auth": the metric's label
	what  string // for the problem's detail
	retry time.Duration
}

func (e *limitError) Error() string { return e.what }

// retryAfter is Retry-After in whole seconds, rounded up (at least 1: a
// client told 0 would retry at once).
func (e *limitError) retryAfter() string {
	s := int64(math.Ceil(e.retry.Seconds()))
	if s < 1 {
		s = 1
	}
	return fmt.Sprint(s)
}

// bucket is one caller's token bucket and when it was last used.
type bucket struct {
	lim  *rate.Limiter
	last time.Time
}

// buckets are the token buckets of one kind of caller, bounded: a bucket
// idle for longer than it takes to fill up is the same as a new one, so
// evicting it changes nothing; past max, new callers share overflow.
type buckets struct {
	r        rate.Limit
	burst    int
	max      int
	m        map[string]*bucket
	overflow *rate.Limiter
	// evicted is the last eviction run because the map was full: at
	// most one a second, so that a flood of new addresses does not make
	// every request scan the map.
	evicted time.Time
}

func newBuckets(r rate.Limit, burst, limit int) *buckets {
	if burst < 1 {
		burst = max(1, int(math.Ceil(float64(r))))
	}
	return &buckets{r: r, burst: burst, max: limit, m: map[string]*bucket{}, overflow: rate.NewLimiter(r, burst)}
}

// fill is how long an idle bucket takes to fill up again.
func (b *buckets) fill() time.Duration {
	return time.Duration(float64(b.burst) / float64(b.r) * float64(time.Second))
}

// take spends a token of name's bucket; it returns how long to wait
// when none is left (and then spends nothing).
func (b *buckets) take(name string, now time.Time) time.Duration {
	bk := b.m[name]
	if bk == nil {
		if len(b.m) >= b.max && now.Sub(b.evicted) >= time.Second {
			b.evicted = now
			b.evict(now)
		}
		if len(b.m) >= b.max {
			return reserve(b.overflow, now)
		}
		bk = &bucket{lim: rate.NewLimiter(b.r, b.burst)}
		b.m[name] = bk
	}
	bk.last = now
	return reserve(bk.lim, now)
}

func (b *buckets) evict(now time.Time) {
	idle := b.fill()
	for k, bk := range b.m {
		if now.Sub(bk.last) > idle {
			delete(b.m, k)
		}
	}
}

func reserve(l *rate.Limiter, now time.Time) time.Duration {
	r := l.ReserveN(now, 1)
	d := r.DelayFrom(now)
	if d > 0 {
		r.CancelAt(now)
	}
	return d
}

// failWindow counts one address's failed authentications in a window.
type failWindow struct {
	start    time.Time
	failures int // all of the window, the first (logged as it came) included
	refused  int // calls answered 429 without a look at their token
}

// AuthSummary is one address's failed authentications in one window,
// past the first: what the auth.failure.summary entry records.
type AuthSummary struct {
	IP       string
	Since    time.Time
	Window   time.Duration
	Failures int
	Refused  int
}

// overflowAddr collects the failures of addresses past MaxTracked.
const overflowAddr = "other addresses"

// limiter applies Limits. One mutex covers the maps: it is held for a
// map lookup and a token bucket's arithmetic, never across I/O.
type limiter struct {
	lim     Limits
	now     func() time.Time
	mu      sync.Mutex
	keys    *buckets // nil: no per-key limit
	ips     *buckets // nil: no per-address limit
	fails   map[string]*failWindow
	ended   []AuthSummary // windows over, not yet written
	refused *prometheus.CounterVec
}

func newLimiter(l Limits, now func() time.Time) *limiter {
	if l.MaxTracked <= 0 {
		l.MaxTracked = DefaultLimits.MaxTracked
	}
	lm := &limiter{lim: l, now: now, fails: map[string]*failWindow{}}
	if l.KeyRate > 0 {
		lm.keys = newBuckets(l.KeyRate, l.KeyBurst, l.MaxTracked)
	}
	if l.IPRate > 0 {
		lm.ips = newBuckets(l.IPRate, l.IPBurst, l.MaxTracked)
	}
	lm.refused = prometheus.NewCounterVec(prometheus.CounterOpts{
		Name: "lethe_http_rate_limited_total",
		Help: "Calls answered 429, by the limit that refused them (key, ip, auth: too many failed authentications from the address).",
	}, []string{"limit"})
	for _, k := range []string{"key", "ip", "auth"} {
		lm.refused.WithLabelValues(k) // show 0 before the first refusal
	}
	return lm
}

// collectors are the limiter's metrics: refusals, and how many callers it
// keeps state for (the memory it holds).
func (lm *limiter) collectors() []prometheus.Collector {
	tracked := func(kind string, n func() int) prometheus.Collector {
		return prometheus.NewGaugeFunc(prometheus.GaugeOpts{
			Name: "lethe_rate_limit_tracked", Help: "Callers the rate limiter keeps state for, by kind (bounded; idle ones are evicted).",
			ConstLabels: prometheus.Labels{"kind": kind},
		}, func() float64 { lm.mu.Lock(); defer lm.mu.Unlock(); return float64(n()) })
	}
	size := func(b *buckets) func() int {
		return func() int {
			if b == nil {
				return 0
			}
			return len(b.m)
		}
	}
	return []prometheus.Collector{lm.refused,
		tracked("key", size(lm.keys)), tracked("ip", size(lm.ips)),
		tracked("auth", func() int { return len(lm.fails) })}
}

// addrKey is what an address is limited by: itself, or its /64 for IPv6.
func addrKey(ip string) string {
	a, err := netip.ParseAddr(ip)
	if err != nil || !a.Is6() || a.Is4In6() {
		return ip
	}
	p, _ := a.Prefix(64)
	return p.String()
}

func (lm *limiter) refuse(kind, what string, retry time.Duration) error {
	lm.refused.WithLabelValues(kind).Inc()
	return &limitError{kind: kind, what: what, retry: retry}
}

// allowAddr spends a token of the address's bucket.
func (lm *limiter) allowAddr(ip string) error {
	if lm.ips == nil {
		return nil
	}
	lm.mu.Lock()
	d := lm.ips.take(addrKey(ip), lm.now())
	lm.mu.Unlock()
	if d > 0 {
		return lm.refuse("ip", fmt.Sprintf("this address sent more than %g requests a second (bursts up to %d); slow down", float64(lm.ips.r), lm.ips.burst), d)
	}
	return nil
}

// allowKey spends a token of the principal's bucket.
func (lm *limiter) allowKey(name string) error {
	if lm.keys == nil {
		return nil
	}
	lm.mu.Lock()
	d := lm.keys.take(name, lm.now())
	lm.mu.Unlock()
	if d > 0 {
		return lm.refuse("key", fmt.Sprintf("this credential sent more than %g requests a second (bursts up to %d); slow down", float64(lm.keys.r), lm.keys.burst), d)
	}
	return nil
}

// window returns the address's failure window, or nil when it has none
// running; a window that is over moves to ended. Called with mu held.
func (lm *limiter) window(key string, now time.Time) *failWindow {
	w := lm.fails[key]
	if w != nil && !now.Before(w.start.Add(lm.lim.AuthWindow)) {
		lm.end(key, w)
		w = nil
	}
	return w
}

func (lm *limiter) end(key string, w *failWindow) {
	delete(lm.fails, key)
	if w.failures+w.refused > 1 {
		lm.ended = append(lm.ended, AuthSummary{IP: key, Since: w.start, Window: lm.lim.AuthWindow, Failures: w.failures, Refused: w.refused})
	}
}

// authBlocked refuses a call from an address with too many failed
// authentications in its window, before its token is looked at: a
// guessing client then costs neither a store lookup nor a log entry.
func (lm *limiter) authBlocked(ip string) error {
	if lm.lim.AuthFailures <= 0 || lm.lim.AuthWindow <= 0 {
		return nil
	}
	now := lm.now()
	lm.mu.Lock()
	key := lm.failKey(addrKey(ip))
	w := lm.window(key, now)
	blocked := w != nil && w.failures >= lm.lim.AuthFailures
	if blocked {
		w.refused++
	}
	lm.mu.Unlock()
	if !blocked {
		return nil
	}
	return lm.refuse("auth", fmt.Sprintf("too many failed authentications from this address (%d within %s)", lm.lim.AuthFailures, lm.lim.AuthWindow), w.start.Add(lm.lim.AuthWindow).Sub(now))
}

// failKey is the address's key in fails, or the shared one when fails is
// full (the key is only read, never stored, by lookups that find nothing).
func (lm *limiter) failKey(key string) string {
	if _, ok := lm.fails[key]; ok || len(lm.fails) < lm.lim.MaxTracked {
		return key
	}
	return overflowAddr
}

// authFailed counts a failed authentication and reports whether it is to
// be logged on its own: always without a window, else only the first of
// its window (the rest go into the window's summary).
func (lm *limiter) authFailed(ip string) (logIt bool) {
	if lm.lim.AuthWindow <= 0 {
		return true
	}
	now := lm.now()
	lm.mu.Lock()
	defer lm.mu.Unlock()
	key := lm.failKey(addrKey(ip))
	w := lm.window(key, now)
	if w == nil {
		w = &failWindow{start: now}
		lm.fails[key] = w
	}
	w.failures++
	return w.failures == 1
}

// sweep evicts idle buckets and ends the failure windows that are over;
// it returns the summaries to write (all of them, running windows
// included, when flush is set: the server stops).
func (lm *limiter) sweep(flush bool) []AuthSummary {
	now := lm.now()
	lm.mu.Lock()
	defer lm.mu.Unlock()
	for _, b := range []*buckets{lm.keys, lm.ips} {
		if b != nil {
			b.evict(now)
		}
	}
	for key, w := range lm.fails {
		if flush || !now.Before(w.start.Add(lm.lim.AuthWindow)) {
			lm.end(key, w)
		}
	}
	out := lm.ended
	lm.ended = nil
	return out
}

// sweepEvery is how often the server sweeps the limiter: a few times a
// failure window, so that a summary is written soon after its window,
// and at least every 10 s, so that idle buckets go.
func (l Limits) sweepEvery() time.Duration {
	d := 10 * time.Second
	if l.AuthWindow > 0 && l.AuthWindow/4 < d {
		d = max(l.AuthWindow/4, 10*time.Millisecond)
	}
	return d
}

// runLimiter sweeps the limiter every sweepEvery and writes the ended
// windows' summaries, until Close; Close writes what is left.
func (s *Server) runLimiter() {
	t := time.NewTicker(s.limits.lim.sweepEvery())
	defer t.Stop()
	for {
		select {
		case <-s.stop:
			s.writeSummaries(s.limits.sweep(true))
			return
		case <-t.C:
			s.writeSummaries(s.limits.sweep(false))
		}
	}
}

// writeSummaries records each summary in the system security log, where
// the first failure of its window is, through the same audit trail.
func (s *Server) writeSummaries(sums []AuthSummary) {
	for _, a := range sums {
		data := map[string]any{"ip": a.IP, "since": a.Since.UTC().Format(time.RFC3339Nano),
			"window_seconds": a.Window.Seconds(), "failures": a.Failures, "refused": a.Refused}
		ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		err := s.eng.LogEvent(ctx, lethe.SystemTenant, lethe.LogSecurity, "server", "auth.failure.summary", data, nil)
		cancel()
		if err != nil {
			s.log.Error("audit: authentication failure summary not recorded", "ip", a.IP, "failures", a.Failures, "err", err)
		}
	}
}

// Close stops the limiter's sweeps and writes the failure summaries of
// the windows still running. Call it after the http.Server has shut down
// and before the engine closes; a Server without limits has nothing to do.
func (s *Server) Close() {
	if s.stop == nil {
		return
	}
	s.closeOnce.Do(func() {
		close(s.stop)
		<-s.stopped
	})
}

// addTooManyRequests declares the limiter's answer on every operation:
// 429 with Retry-After, from any route once limits are set.
func addTooManyRequests(doc map[string]any) {
	comps := doc["components"].(map[string]any)
	res, _ := comps["responses"].(map[string]any)
	res["TooManyRequests"] = map[string]any{
		"description": "Over a rate limit (per API key, per client address), or too many failed authentications from the address: retry after the Retry-After header's seconds.",
		"headers": map[string]any{"Retry-After": map[string]any{
			"description": "Seconds to wait before retrying, rounded up.",
			"required":    true,
			"schema":      map[string]any{"type": "integer", "minimum": 1},
		}},
		"content": map[string]any{"application/problem+json": map[string]any{"schema": map[string]any{"$ref": "#/components/schemas/Problem"}}},
	}
	for _, item := range doc["paths"].(map[string]any) {
		for _, op := range item.(map[string]any) {
			op, ok := op.(map[string]any)
			if !ok {
				continue
			}
			if rs, ok := op["responses"].(map[string]any); ok && rs["429"] == nil {
				rs["429"] = map[string]any{"$ref": "#/components/responses/TooManyRequests"}
			}
		}
	}
}
