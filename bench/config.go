package bench

import (
	"fmt"
	"time"

	"github.com/lethe-privacy/lethe"
)

// Config sizes one benchmark run. Zero fields take the full run's
// defaults (see withDefaults); QuickConfig and FullConfig give the two
// standard sizes.
type Config struct {
	// Records are ingested through Engine.Put in 1000-record batches, and
	// the same rows into the raw baseline; the subject lookup runs at this
	// count (plus the records the HTTP phase created).
	Records int
	// SweepRecords are made due for each of the delete and the anonymize
	// sweep (and for their raw baselines). Default: min(Records, 200,000).
	SweepRecords int
	// HTTPDuration is how long each concurrency level of single-record
	// HTTP creates runs. Default 10s.
	HTTPDuration time.Duration
	// HTTPClients are the concurrency levels. Default 1, 8 and 50; the
	// result names c1, c8 and c50, so other levels are measured but only
	// those three are reported by key.
	HTTPClients []int
	// Lookups is how many subject lookups each of engine, HTTP and raw
	// SQL makes. Default min(Records, 5000).
	Lookups int
	// LagRate is the steady ingest rate (records/s) of the sweep-lag
	// phase; LagDuration how long the writer runs. Defaults 2000/s, 60s.
	LagRate     int
	LagDuration time.Duration
	// LagDueIn is how soon after it is written a record of the lag phase
	// falls due. Default min(3s, LagDuration/2).
	LagDueIn time.Duration
	// SweepInterval is how often the sweeper runs in the lag phase.
	// Default 1s, as "lethe serve --sweep-interval 1s" would.
	SweepInterval time.Duration
	// Dir is the working folder; a fresh temporary folder (removed
	// afterwards) when empty. Run refuses a folder that holds files.
	Dir string
	// DatabaseURL runs every phase on PostgreSQL instead of SQLite: the
	// store migrates this (empty) database, and the raw baseline writes
	// copies of its tables in a schema of its own there (see RawPG).
	DatabaseURL string
	// Instances is how many Lethe instances share the PostgreSQL database
	// in the last phase (aggregate HTTP create rate, sweep lag with every
	// instance sweeping). Default 3 on PostgreSQL; 1 skips the phase.
	// SQLite takes one instance only.
	Instances int
	// Quick marks a quick run in the result; it changes nothing else.
	Quick bool
	// Now is the clock of the whole run (records' created_at, sweeps, lag);
	// time.Now when nil.
	Now func() time.Time
}

// QuickConfig is "lethe bench --quick": about 20,000 records per phase,
// 500 records/s of steady ingest for 10 s. It finishes in well under two
// minutes on a 2-core machine.
func QuickConfig() Config {
	return Config{
		Records:      20_000,
		SweepRecords: 20_000,
		HTTPDuration: 3 * time.Second,
		Lookups:      1000,
		LagRate:      500,
		LagDuration:  10 * time.Second,
		Quick:        true,
	}
}

// FullConfig is "lethe bench": 200,000 records per phase and 2,000
// records/s of steady ingest for 60 s.
func FullConfig() Config {
	return Config{
		Records:      200_000,
		SweepRecords: 200_000,
		HTTPDuration: 10 * time.Second,
		Lookups:      5000,
		LagRate:      2000,
		LagDuration:  60 * time.Second,
	}
}

// withDefaults fills zero fields and checks the rest.
func (c Config) withDefaults() (Config, error) {
	if c.Records <= 0 {
		return c, fmt.Errorf("%w: bench: Records must be positive", lethe.ErrInvalid)
	}
	if c.SweepRecords <= 0 {
		c.SweepRecords = min(c.Records, 200_000)
	}
	if c.HTTPDuration <= 0 {
		c.HTTPDuration = 10 * time.Second
	}
	if len(c.HTTPClients) == 0 {
		c.HTTPClients = []int{1, 8, 50}
	}
	for _, n := range c.HTTPClients {
		if n <= 0 {
			return c, fmt.Errorf("%w: bench: HTTP client counts must be positive", lethe.ErrInvalid)
		}
	}
	if c.Lookups <= 0 {
		c.Lookups = min(c.Records, 5000)
	}
	if c.LagRate <= 0 {
		c.LagRate = 2000
	}
	if c.LagDuration <= 0 {
		c.LagDuration = 60 * time.Second
	}
	if c.LagDueIn <= 0 {
		c.LagDueIn = min(3*time.Second, c.LagDuration/2)
	}
	if c.SweepInterval <= 0 {
		c.SweepInterval = time.Second
	}
	if c.Instances < 0 {
		return c, fmt.Errorf("%w: bench: Instances must not be negative", lethe.ErrInvalid)
	}
	if c.DatabaseURL == "" && c.Instances > 1 {
		return c, fmt.Errorf("%w: bench: several instances need PostgreSQL (a database URL)", lethe.ErrInvalid)
	}
	if c.DatabaseURL != "" && c.Instances == 0 {
		c.Instances = 3
	}
	if c.Now == nil {
		c.Now = time.Now
	}
	return c, nil
}
