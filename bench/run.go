package bench

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"runtime"
	"time"
)

// Phases lists the phase names Run reports to its progress function, in
// order, so that a progress display knows how many there are.
func Phases(cfg Config) []string {
	cfg, _ = cfg.withDefaults()
	out := []string{"setup", "ingest: engine batches and raw baseline, in turns"}
	for _, n := range cfg.HTTPClients {
		out = append(out, fmt.Sprintf("create over HTTP: %d clients", n))
	}
	out = append(out, "lookup: engine", "lookup: HTTP", "lookup: raw baseline")
	out = append(out, "sweep: prepare deletes",
		"sweep: delete", "sweep: delete baseline",
		"sweep: prepare anonymizations", "sweep: anonymize", "sweep: anonymize baseline")
	out = append(out, "sweep lag under steady ingest")
	if cfg.DatabaseURL != "" && cfg.Instances > 1 {
		out = append(out, fmt.Sprintf("%d instances: create over HTTP", cfg.Instances),
			fmt.Sprintf("%d instances: sweep lag", cfg.Instances))
	}
	return out
}

// Run measures every phase once, in one process, on a fresh data folder,
// and returns the figures. progress (may be nil) is called with each
// phase's name as it starts (see Phases). A phase whose work does not come
// out as planned (a lookup that finds nothing, a sweep that misses
// records) fails the run rather than report a wrong figure.
func Run(ctx context.Context, cfg Config, progress func(phase string)) (*Result, error) {
	cfg, err := cfg.withDefaults()
	if err != nil {
		return nil, err
	}
	if progress == nil {
		progress = func(string) {}
	}
	dir := cfg.Dir
	if dir == "" {
		if dir, err = os.MkdirTemp("", "lethe-bench-"); err != nil {
			return nil, fmt.Errorf("bench: %w", err)
		}
		defer os.RemoveAll(dir)
	} else if entries, err := os.ReadDir(dir); err != nil {
		return nil, fmt.Errorf("bench: %w", err)
	} else if len(entries) > 0 {
		return nil, fmt.Errorf("bench: %s is not empty; the benchmark needs a fresh folder", dir)
	}

	res := &Result{
		Records:              cfg.Records,
		Quick:                cfg.Quick,
		Date:                 cfg.Now().UTC().Format(time.DateOnly),
		GoVersion:            runtime.Version(),
		CPUs:                 runtime.NumCPU(),
		SweepRecords:         cfg.SweepRecords,
		LookupCount:          cfg.Lookups,
		HTTPDurationSeconds:  cfg.HTTPDuration.Seconds(),
		LagDurationSeconds:   cfg.LagDuration.Seconds(),
		LagTargetRateRPS:     float64(cfg.LagRate),
		IngestBatchSize:      BatchSize,
		RawBaselineTxRecords: BatchSize,
	}

	progress("setup")
	var (
		env *Env
		raw baseline
	)
	if cfg.DatabaseURL != "" {
		if env, err = OpenEnvPG(ctx, cfg.DatabaseURL, cfg.Now); err != nil {
			return nil, err
		}
		defer env.Close()
		res.Store = "postgres"
		// After the store: the baseline copies the tables it migrated.
		if raw, err = OpenRawPG(ctx, cfg.DatabaseURL); err != nil {
			return nil, err
		}
	} else {
		if env, err = OpenEnv(ctx, dir, cfg.Now); err != nil {
			return nil, err
		}
		defer env.Close()
		res.Store = "sqlite"
		if raw, err = OpenRaw(ctx, filepath.Join(dir, "raw.db")); err != nil {
			return nil, err
		}
	}
	defer raw.Close()
	target, err := startHTTP(ctx, env)
	if err != nil {
		return nil, err
	}
	defer target.close()
	r := &runner{cfg: cfg, env: env, raw: raw, http: target, res: res, progress: progress, rawPath: filepath.Join(dir, "raw.db")}
	steps := []func(context.Context) error{r.ingest, r.httpCreate, r.lookup, r.disk, r.sweep, r.lag}
	if cfg.Instances > 1 {
		steps = append(steps, r.instances)
	}
	for _, step := range steps {
		if err := step(ctx); err != nil {
			return nil, err
		}
	}
	rss, err := peakRSS()
	if err != nil {
		return nil, err
	}
	res.RSSMB = float64(rss) / (1 << 20)
	return res, nil
}

// runner carries one run's state between its phases.
type runner struct {
	cfg      Config
	env      *Env
	raw      baseline
	http     *httpTarget
	res      *Result
	progress func(string)

	// httpCreated counts the records the HTTP phase stored.
	httpCreated int
	// rawPath is the raw baseline's database file (for its size).
	rawPath string
}

// rate is records per second.
func rate(n int, d time.Duration) float64 {
	if d <= 0 {
		return 0
	}
	return float64(n) / d.Seconds()
}
