// Package soak drives a running Lethe server over its HTTP API for a
// fixed time: many writers creating records, readers reading records whose
// creation was acknowledged, and the server's own sweeper deleting records
// that fall due during the run. It then checks every acknowledged write:
// each is still there, or was deleted by the sweeper when, and only when,
// it was due. The figures are those of reliability test 3: acknowledged
// writes, server errors (5xx), lost writes, sweep lag percentiles and the
// largest WAL file seen.
//
// The server is only reached over HTTP, so the same run works against
// "lethe serve" in another process and against one started in-process.
package soak

import (
	"context"
	"errors"
	"fmt"
	"math/rand/v2"
	"os"
	"strings"
	"sync"
	"sync/atomic"
	"time"
)

// Config is one soak run.
type Config struct {
	// URL is the server's base URL, e.g. http://127.0.0.1:8080. Only
	// loopback servers should be soaked: the run sends as much traffic as
	// the server takes.
	URL string
	// AdminToken creates the run's tenant and API key.
	AdminToken string
	// MetricsURL is where the server answers its Prometheus metrics: its
	// metrics listener (serve --metrics-addr), e.g.
	// http://127.0.0.1:9464/metrics. Default: URL + "/metrics", which the
	// API serves only with a metrics token.
	MetricsURL string
	// MetricsToken is the bearer token MetricsURL asks for, if any
	// (serve --metrics-token).
	MetricsToken string
	// Duration is how long writers and readers run.
	Duration time.Duration
	// Writers and Readers are the concurrent clients of each kind.
	Writers, Readers int
	// Rate caps the creates per second of all writers together; 0 leaves
	// them unthrottled.
	Rate int
	// ExpiringShare is the share of writes (0 to 1) created with a
	// created_at in the past such that they fall due during the run.
	ExpiringShare float64
	// WALPath, when set, is the database's write-ahead log, whose size is
	// sampled (a server in another process: its DATA/lethe.db-wal).
	WALPath string
	// SampleEvery is how often lag and WAL size are read (default 250 ms).
	SampleEvery time.Duration
	// CheckClients is the concurrency of the final check (default 16).
	CheckClients int
	// Logf reports progress; nil for none.
	Logf func(format string, args ...any)
}

// Result holds a run's figures.
type Result struct {
	Tenant     string        `json:"tenant"`
	Duration   time.Duration `json:"duration_ns"`
	Writers    int           `json:"writers"`
	Readers    int           `json:"readers"`
	WriteRPS   float64       `json:"write_rps"`
	Acked      int64         `json:"acknowledged_writes"`
	AckedDue   int64         `json:"acknowledged_due_during_run"`
	Reads      int64         `json:"reads"`
	ReadsSwept int64         `json:"reads_of_swept_records"`
	// ServerErrors counts 5xx answers; ClientErrors other unexpected
	// answers and transport errors.
	ServerErrors int64 `json:"server_errors"`
	ClientErrors int64 `json:"client_errors"`
	// Lost counts acknowledged writes missing before they were due, in a
	// read during the run or in the final check.
	Lost int64 `json:"lost"`
	// LostIDs names up to ten of them.
	LostIDs []string `json:"lost_ids,omitempty"`
	// Present and Swept split the acknowledged writes at the final check:
	// still there, or deleted after their due time.
	Present int64 `json:"present"`
	Swept   int64 `json:"swept"`
	// SweeperDeleted is the sweeper's own count over the run (from the
	// server's metrics); at least Swept.
	SweeperDeleted int64   `json:"sweeper_deleted"`
	LagSamples     int     `json:"lag_samples"`
	LagP50S        float64 `json:"sweep_lag_p50_s"`
	LagP99S        float64 `json:"sweep_lag_p99_s"`
	LagMaxS        float64 `json:"sweep_lag_max_s"`
	// WALMaxBytes is the largest WAL size seen; -1 when not sampled.
	WALMaxBytes int64 `json:"wal_max_bytes"`
}

// soakCollection is the chatbot pack's prize draw entries: five personal
// fields, two of them identifiers, deleted a fixed period after creation.
const (
	soakPack       = "chatbot"
	soakCollection = "prize_draw_entries"
)

// Run soaks the server at cfg.URL and checks what it acknowledged.
func Run(ctx context.Context, cfg Config) (*Result, error) {
	if cfg.URL == "" || cfg.AdminToken == "" {
		return nil, errors.New("soak: URL and AdminToken are required")
	}
	if cfg.Duration <= 0 || cfg.Writers <= 0 || cfg.Readers < 0 {
		return nil, errors.New("soak: want a positive duration, at least one writer and no negative readers")
	}
	if cfg.SampleEvery <= 0 {
		cfg.SampleEvery = 250 * time.Millisecond
	}
	if cfg.CheckClients <= 0 {
		cfg.CheckClients = 16
	}
	if cfg.Logf == nil {
		cfg.Logf = func(string, ...any) {}
	}
	if cfg.MetricsURL == "" {
		cfg.MetricsURL = strings.TrimSuffix(cfg.URL, "/") + "/metrics"
	}
	cl := newClient(cfg.URL, cfg.AdminToken, cfg.Writers+cfg.Readers+cfg.CheckClients+2)
	cl.metricsURL, cl.metricsToken = cfg.MetricsURL, cfg.MetricsToken
	defer cl.close()
	tenant := fmt.Sprintf("soak-%d", time.Now().UnixNano())
	period, err := cl.setup(ctx, tenant)
	if err != nil {
		return nil, err
	}
	swept0, err := cl.sweptTotal(ctx)
	if err != nil {
		return nil, err
	}
	res := &Result{Tenant: tenant, Writers: cfg.Writers, Readers: cfg.Readers, WALMaxBytes: -1}
	led := &ledger{}
	cfg.Logf("soak: %d writers, %d readers for %s on tenant %s", cfg.Writers, cfg.Readers, cfg.Duration, tenant)

	// Requests run on ctx, not on a context that ends with the run: a
	// request in flight at the end is answered, not cut off, so that the
	// server's side of every exchange counts too.
	start := time.Now()
	deadline := start.Add(cfg.Duration)
	runCtx, cancel := context.WithDeadline(ctx, deadline)
	defer cancel()
	running := func() bool { return ctx.Err() == nil && time.Now().Before(deadline) }
	var wg sync.WaitGroup
	var serverErrs, clientErrs, reads, readsSwept atomic.Int64
	count := func(status int, err error) {
		switch {
		case err != nil:
			clientErrs.Add(1)
		case status >= 500:
			serverErrs.Add(1)
		default:
			clientErrs.Add(1)
		}
	}
	var limiter <-chan time.Time
	if cfg.Rate > 0 {
		tick := time.NewTicker(time.Second / time.Duration(cfg.Rate))
		defer tick.Stop()
		limiter = tick.C
	}
	// Expiring records fall due between 1 s after they are written and
	// the run's 80 % mark, so that most are swept before the run ends.
	maxDueIn := max(time.Second, cfg.Duration*8/10)
	for w := range cfg.Writers {
		wg.Add(1)
		go func() {
			defer wg.Done()
			rng := rand.New(rand.NewPCG(uint64(w), uint64(start.UnixNano())))
			for n := 0; running(); n++ {
				if limiter != nil {
					select {
					case <-runCtx.Done():
						return
					case <-limiter:
					}
				}
				id := fmt.Sprintf("w%03d-%07d", w, n)
				var created time.Time
				if rng.Float64() < cfg.ExpiringShare {
					left := time.Until(start.Add(maxDueIn))
					dueIn := time.Second + time.Duration(rng.Int64N(int64(max(left, time.Second))))
					created = time.Now().Add(dueIn - period)
				}
				due, status, err := cl.create(ctx, tenant, id, created, entryFields(w, n))
				if err != nil || status != 201 {
					count(status, err)
					continue
				}
				led.add(id, due)
			}
		}()
	}
	for r := range cfg.Readers {
		wg.Add(1)
		go func() {
			defer wg.Done()
			rng := rand.New(rand.NewPCG(uint64(1000+r), uint64(start.UnixNano())))
			for running() {
				rec, ok := led.pick(rng)
				if !ok {
					select {
					case <-runCtx.Done():
					case <-time.After(10 * time.Millisecond):
					}
					continue
				}
				status, err := cl.get(ctx, tenant, rec.id)
				switch {
				case err == nil && status == 200:
					reads.Add(1)
				case err == nil && status == 404:
					reads.Add(1)
					if time.Now().Before(rec.due) {
						led.lose(rec.id)
					} else {
						readsSwept.Add(1)
					}
				default:
					count(status, err)
				}
			}
		}()
	}
	var lags []time.Duration
	wg.Add(1)
	go func() { // the sampler
		defer wg.Done()
		tick := time.NewTicker(cfg.SampleEvery)
		defer tick.Stop()
		for {
			select {
			case <-runCtx.Done():
				return
			case <-tick.C:
			}
			if cfg.WALPath != "" {
				if fi, err := os.Stat(cfg.WALPath); err == nil {
					res.WALMaxBytes = max(res.WALMaxBytes, fi.Size())
				} else if errors.Is(err, os.ErrNotExist) {
					res.WALMaxBytes = max(res.WALMaxBytes, 0)
				}
			}
			// Lag counts from the first possible due time on.
			if time.Since(start) < time.Second {
				continue
			}
			lag, err := cl.lag(ctx)
			if err != nil {
				clientErrs.Add(1)
				continue
			}
			lags = append(lags, lag)
		}
	}()
	progressDone := make(chan struct{})
	go func() {
		tick := time.NewTicker(10 * time.Second)
		defer tick.Stop()
		for {
			select {
			case <-progressDone:
				return
			case <-tick.C:
				cfg.Logf("soak: %5.0fs  %d writes acknowledged, %d reads, %d server errors, %d lost",
					time.Since(start).Seconds(), led.len(), reads.Load(), serverErrs.Load(), led.lostCount())
			}
		}
	}()
	wg.Wait()
	close(progressDone)
	res.Duration = time.Since(start)
	if err := ctx.Err(); err != nil {
		return nil, err
	}

	cfg.Logf("soak: checking %d acknowledged writes", led.len())
	present, swept, cerr := led.check(ctx, cfg.CheckClients, func(ctx context.Context, id string) (int, error) {
		return cl.get(ctx, tenant, id)
	})
	if cerr != nil {
		return nil, cerr
	}
	swept1, err := cl.sweptTotal(ctx)
	if err != nil {
		return nil, err
	}
	res.Acked = int64(led.len())
	res.AckedDue = led.dueBefore(time.Now())
	res.WriteRPS = float64(res.Acked) / res.Duration.Seconds()
	res.Reads, res.ReadsSwept = reads.Load(), readsSwept.Load()
	res.ServerErrors = serverErrs.Load() + led.serverErrs.Load()
	res.ClientErrors = clientErrs.Load() + led.clientErrs.Load()
	res.Lost, res.LostIDs = led.lostCount(), led.lostSample(10)
	res.Present, res.Swept = present, swept
	res.SweeperDeleted = swept1 - swept0
	res.LagSamples = len(lags)
	res.LagP50S = percentile(lags, 50).Seconds()
	res.LagP99S = percentile(lags, 99).Seconds()
	res.LagMaxS = percentile(lags, 100).Seconds()
	return res, nil
}

// entryFields is prize draw entry n of writer w: an identifiable person.
func entryFields(w, n int) map[string]any {
	return map[string]any{
		"prize_draw":     "soak",
		"selected":       n%50 == 0,
		"email":          fmt.Sprintf("soak-%03d-%07d@example.org", w, n),
		"first_name":     "Soak",
		"last_name":      fmt.Sprintf("Writer %d", w),
		"postal_address": fmt.Sprintf("Teststraße %d, 10115 Berlin", n%200+1),
		"phone":          fmt.Sprintf("+49151%03d%05d", w%1000, n%100000),
	}
}
