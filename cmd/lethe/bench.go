package main

import (
	"encoding/json"
	"fmt"
	"io"
	"os"
	"runtime/pprof"
	"text/tabwriter"
	"time"

	"github.com/schollz/progressbar/v3"
	"github.com/spf13/cobra"

	"github.com/lethe-privacy/lethe/bench"
)

func benchCmd(_ envFunc) *cobra.Command {
	var (
		quick        bool
		asJSON       bool
		records      int
		sweepRecords int
		lagDuration  time.Duration
		lagRate      int
		httpDuration time.Duration
		lookups      int
		cpuProfile   string
		databaseURL  string
		instances    int
	)
	cmd := &cobra.Command{
		Use:   "bench",
		Short: "Measure ingest, lookup, sweep and sweep lag against raw SQLite",
		Long: `Measure Lethe on this machine, in one process, on a fresh temporary data
folder: batch ingest through the engine, single-record creates over the HTTP
API with 1, 8 and 50 clients, subject lookup, delete and anonymize sweeps,
sweep lag under steady ingest, peak memory and bytes on disk per record.

Every figure is printed beside a baseline measured in the same run (the same
rows written with plain SQL through the same SQLite driver, pragmas, table
shape and indexes) and the ratio of the two.

The full run takes 200,000 records per phase and 2,000 records/s of steady
ingest for 60 s; --quick takes 20,000 and 500/s for 10 s (under two
minutes on two cores). --records 1000000 measures lookups at a million
records.

With --database-url every phase runs on that PostgreSQL database (an empty
one: the bench creates its tenants there) beside raw pgx baselines (COPY
for inserts, one statement per batch for sweeps) in a schema of their own,
and then --instances Lethe instances (default 3) share the database: their
aggregate create rate over HTTP and the sweep lag with every one sweeping.`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			cfg := bench.FullConfig()
			if quick {
				cfg = bench.QuickConfig()
			}
			cfg.DatabaseURL, cfg.Instances = databaseURL, instances
			if instances > 1 && databaseURL == "" {
				return fmt.Errorf("%w: --instances needs --database-url (several instances share one PostgreSQL database)", errUsage)
			}
			if records < 0 || sweepRecords < 0 || instances < 0 || lagRate < 0 || lookups < 0 || lagDuration < 0 || httpDuration < 0 {
				return fmt.Errorf("%w: sizes and durations must not be negative", errUsage)
			}
			if records > 0 {
				cfg.Records = records
				// Sweeps and lookups stay at the mode's size unless the
				// records are fewer.
				cfg.SweepRecords = min(cfg.SweepRecords, records)
				cfg.Lookups = min(cfg.Lookups, records)
			}
			if sweepRecords > 0 {
				cfg.SweepRecords = sweepRecords
			}
			if lagDuration > 0 {
				cfg.LagDuration = lagDuration
			}
			if lagRate > 0 {
				cfg.LagRate = lagRate
			}
			if httpDuration > 0 {
				cfg.HTTPDuration = httpDuration
			}
			if lookups > 0 {
				cfg.Lookups = lookups
			}
			if cpuProfile != "" {
				stop, err := startCPUProfile(cpuProfile)
				if err != nil {
					return err
				}
				defer stop()
			}
			progress, done := phaseDisplay(cmd.ErrOrStderr(), len(bench.Phases(cfg)))
			res, err := bench.Run(cmd.Context(), cfg, progress)
			done()
			if err != nil {
				return err
			}
			if asJSON {
				enc := json.NewEncoder(cmd.OutOrStdout())
				enc.SetIndent("", "  ")
				return enc.Encode(res)
			}
			return printBench(cmd.OutOrStdout(), res)
		},
	}
	f := cmd.Flags()
	f.BoolVar(&quick, "quick", false, "about 20,000 records per phase and 10 s of steady ingest")
	f.BoolVar(&asJSON, "json", false, "print the result as one JSON object")
	f.IntVar(&records, "records", 0, "records to ingest and look up among (default 200,000; 20,000 with --quick)")
	f.IntVar(&sweepRecords, "sweep-records", 0, "records each sweep deletes or anonymizes (default: the mode's size, at most --records)")
	f.DurationVar(&lagDuration, "lag-duration", 0, "how long the steady writer of the sweep-lag phase runs (default 60s; 10s with --quick)")
	f.IntVar(&lagRate, "lag-rate", 0, "records/s of the sweep-lag phase's writer (default 2000; 500 with --quick)")
	f.DurationVar(&httpDuration, "http-duration", 0, "how long each HTTP concurrency level runs (default 10s; 3s with --quick)")
	f.IntVar(&lookups, "lookups", 0, "subject lookups of each kind (default 5000; 1000 with --quick)")
	f.StringVar(&databaseURL, "database-url", "", "run on this empty PostgreSQL database (postgres://USER:PASSWORD@HOST:PORT/DB) instead of SQLite")
	f.IntVar(&instances, "instances", 0, "Lethe instances sharing the PostgreSQL database in the last phase (default 3; 1 skips it)")
	f.StringVar(&cpuProfile, "cpuprofile", "", "write a CPU profile of the whole run to this file (go tool pprof)")
	// Test-sized runs only.
	f.MarkHidden("http-duration")
	f.MarkHidden("lookups")
	return cmd
}

// startCPUProfile profiles the process into path until stop is called.
func startCPUProfile(path string) (stop func(), err error) {
	// Owner-only, as every file Lethe writes.
	f, err := os.OpenFile(path, os.O_CREATE|os.O_TRUNC|os.O_WRONLY, 0o600)
	if err != nil {
		return nil, fmt.Errorf("cpu profile: %w", err)
	}
	if err := pprof.StartCPUProfile(f); err != nil {
		f.Close()
		return nil, fmt.Errorf("cpu profile: %w", err)
	}
	return func() {
		pprof.StopCPUProfile()
		f.Close()
	}, nil
}

// phaseDisplay shows the phases on w: a progress bar when w is a
// terminal, one line per phase otherwise (logs, CI). done ends the bar.
func phaseDisplay(w io.Writer, phases int) (progress func(string), done func()) {
	if !isTerminal(w) {
		start := time.Now()
		return func(phase string) {
			fmt.Fprintf(w, "bench: %6.1fs  %s\n", time.Since(start).Seconds(), phase)
		}, func() {}
	}
	bar := progressbar.NewOptions(phases,
		progressbar.OptionSetWriter(w),
		progressbar.OptionSetDescription("bench"),
		progressbar.OptionShowCount(),
		progressbar.OptionSetElapsedTime(true),
		progressbar.OptionSetPredictTime(false),
		progressbar.OptionClearOnFinish(),
	)
	started := 0
	return func(phase string) {
			if started > 0 {
				bar.Add(1)
			}
			started++
			bar.Describe(phase)
		}, func() {
			bar.Finish()
		}
}

// isTerminal reports whether w is a character device such as a terminal.
func isTerminal(w io.Writer) bool {
	f, ok := w.(*os.File)
	if !ok {
		return false
	}
	fi, err := f.Stat()
	return err == nil && fi.Mode()&os.ModeCharDevice != 0
}

// printBench writes the figures as a table: ours, the baseline, the ratio.
func printBench(w io.Writer, r *bench.Result) error {
	mode := "full"
	if r.Quick {
		mode = "quick"
	}
	fmt.Fprintf(w, "lethe bench (%s) on %s, %s, %s, %d CPUs, %d records\n\n", mode, r.Store, r.Date, r.GoVersion, r.CPUs, r.Records)
	tw := tabwriter.NewWriter(w, 0, 4, 2, ' ', tabwriter.AlignRight)
	row := func(name string, ours, base float64, unit, baseName string) {
		if base == 0 {
			fmt.Fprintf(tw, "%s\t%s %s\t\t\t%s\t\n", name, num(ours), unit, baseName)
			return
		}
		fmt.Fprintf(tw, "%s\t%s %s\t%s %s\t%.2f\t%s\t\n", name, num(ours), unit, num(base), unit, ours/base, baseName)
	}
	fmt.Fprintln(tw, "figure\tours\tbaseline\tratio\tbaseline is\t")
	row("ingest, engine batches of 1000", r.IngestBatchRPS, r.IngestBatchBaselineRPS, "rec/s", "raw INSERT, 1000-row tx")
	row("create over HTTP, 1 client", r.HTTPCreateC1RPS, r.IngestBatchBaselineRPS, "rec/s", "raw INSERT, 1000-row tx")
	row("create over HTTP, 8 clients", r.HTTPCreateC8RPS, r.IngestBatchBaselineRPS, "rec/s", "raw INSERT, 1000-row tx")
	row("create over HTTP, 50 clients", r.HTTPCreateC50RPS, r.IngestBatchBaselineRPS, "rec/s", "raw INSERT, 1000-row tx")
	row(fmt.Sprintf("lookup p50 at %d records", r.LookupRecords), r.LookupP50MS, r.LookupBaselineP50MS, "ms", "raw indexed SELECT")
	row(fmt.Sprintf("lookup p99 at %d records", r.LookupRecords), r.LookupP99MS, r.LookupBaselineP99MS, "ms", "raw indexed SELECT")
	row("lookup over HTTP p50", r.LookupHTTPP50MS, r.LookupBaselineP50MS, "ms", "raw indexed SELECT")
	row("lookup over HTTP p99", r.LookupHTTPP99MS, r.LookupBaselineP99MS, "ms", "raw indexed SELECT")
	row("sweep delete", r.SweepDeleteRPS, r.SweepDeleteBaselineRPS, "rec/s", "raw DELETE, 1000-row tx")
	row("sweep anonymize", r.SweepAnonymizeRPS, r.SweepAnonymizeBaselineRPS, "rec/s", "raw UPDATE, 1000-row tx")
	lagAt := fmt.Sprintf("ingest %.0f rec/s", r.SweepLagIngestRPS)
	row("sweep lag p50", r.SweepLagP50S, 0, "s", lagAt)
	row("sweep lag p99", r.SweepLagP99S, 0, "s", lagAt)
	row("sweep lag max", r.SweepLagMaxS, 0, "s", lagAt)
	row("disk per record", r.DiskBytesPerRecord, r.DiskBaselineBytesPerRecord, "B", "raw table, plaintext")
	row("peak memory (VmHWM)", r.RSSMB, 0, "MB", "whole process")
	if r.Instances > 1 {
		row(fmt.Sprintf("%d instances: create over HTTP, %d clients", r.Instances, r.InstancesHTTPClients),
			r.InstancesHTTPCreateRPS, r.HTTPCreateC50RPS, "rec/s", "one instance, 50 clients")
		lagAt := fmt.Sprintf("ingest %.0f rec/s, all sweeping", r.InstancesSweepLagIngestRPS)
		row(fmt.Sprintf("%d instances: sweep lag p50", r.Instances), r.InstancesSweepLagP50S, 0, "s", lagAt)
		row(fmt.Sprintf("%d instances: sweep lag p99", r.Instances), r.InstancesSweepLagP99S, 0, "s", lagAt)
	}
	if err := tw.Flush(); err != nil {
		return err
	}
	fmt.Fprintf(w, "\nHTTP errors: %d at 1 client, %d at 8, %d at 50; sweep errors in the lag phase: %d\n",
		r.HTTPCreateC1Errors, r.HTTPCreateC8Errors, r.HTTPCreateC50Errors, r.SweepLagSweepErrors)
	if r.Instances > 1 {
		fmt.Fprintf(w, "%d instances: HTTP errors %d, sweep errors %d\n", r.Instances, r.InstancesHTTPCreateErrors, r.InstancesSweepErrors)
	}
	return nil
}

// num prints a figure with three significant digits or more.
func num(v float64) string {
	switch {
	case v >= 100:
		return fmt.Sprintf("%.0f", v)
	case v >= 10:
		return fmt.Sprintf("%.1f", v)
	default:
		return fmt.Sprintf("%.3f", v)
	}
}
