package main

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"math"
	"regexp"
	"strings"
	"testing"

	"github.com/lethe-privacy/lethe/bench"
)

// benchKeys are the keys "lethe bench --json" promises, by what each must
// hold.
var (
	benchPositive = []string{ // rates, latencies, sizes: measured, so above 0
		"records", "cpus",
		"ingest_batch_rps", "ingest_batch_baseline_rps",
		"http_create_c1_rps", "http_create_c8_rps", "http_create_c50_rps",
		"lookup_records", "lookup_p50_ms", "lookup_p99_ms", "lookup_http_p50_ms", "lookup_http_p99_ms",
		"lookup_baseline_p50_ms", "lookup_baseline_p99_ms",
		"sweep_delete_rps", "sweep_delete_baseline_rps", "sweep_anonymize_rps", "sweep_anonymize_baseline_rps",
		"rss_mb", "disk_bytes_per_record",
	}
	benchNonNegative = []string{ // counts and lags, which may be 0
		"http_create_c50_errors", "sweep_lag_p50_s", "sweep_lag_p99_s", "sweep_lag_max_s",
	}
	// benchRatios maps each ratio to the figure and the baseline it divides.
	benchRatios = map[string][2]string{
		"ingest_batch_ratio":    {"ingest_batch_rps", "ingest_batch_baseline_rps"},
		"sweep_delete_ratio":    {"sweep_delete_rps", "sweep_delete_baseline_rps"},
		"sweep_anonymize_ratio": {"sweep_anonymize_rps", "sweep_anonymize_baseline_rps"},
		"http_create_c1_ratio":  {"http_create_c1_rps", "ingest_batch_baseline_rps"},
		"http_create_c8_ratio":  {"http_create_c8_rps", "ingest_batch_baseline_rps"},
		"http_create_c50_ratio": {"http_create_c50_rps", "ingest_batch_baseline_rps"},
		"lookup_p50_ratio":      {"lookup_p50_ms", "lookup_baseline_p50_ms"},
		"lookup_p99_ratio":      {"lookup_p99_ms", "lookup_baseline_p99_ms"},
		"lookup_http_p50_ratio": {"lookup_http_p50_ms", "lookup_baseline_p50_ms"},
		"lookup_http_p99_ratio": {"lookup_http_p99_ms", "lookup_baseline_p99_ms"},
		"disk_ratio":            {"disk_bytes_per_record", "disk_baseline_bytes_per_record"},
	}
)

func TestBench_TinyRunPrintsEveryFigureWithItsBaseline(t *testing.T) {
	var stdout, stderr bytes.Buffer
	args := []string{"bench", "--quick", "--records", "500", "--lag-duration", "2s", "--http-duration", "300ms", "--json"}
	if err := run(context.Background(), args, &stdout, &stderr, func(string) string { return "" }); err != nil {
		t.Fatalf("lethe bench: %v\nstderr:\n%s", err, stderr.String())
	}
	var got map[string]any
	if err := json.Unmarshal(stdout.Bytes(), &got); err != nil {
		t.Fatalf("output is not one JSON object: %v\n%s", err, stdout.String())
	}
	number := func(key string) float64 {
		t.Helper()
		v, ok := got[key]
		if !ok {
			t.Errorf("key %s missing", key)
			return math.NaN()
		}
		f, ok := v.(float64)
		if !ok {
			t.Errorf("%s = %v (%T), want a number", key, v, v)
			return math.NaN()
		}
		if math.IsNaN(f) || math.IsInf(f, 0) {
			t.Errorf("%s = %v, want a finite number", key, f)
		}
		return f
	}
	for _, k := range benchPositive {
		if v := number(k); !(v > 0) {
			t.Errorf("%s = %v, want > 0", k, v)
		}
	}
	for _, k := range benchNonNegative {
		if v := number(k); !(v >= 0) {
			t.Errorf("%s = %v, want >= 0", k, v)
		}
	}
	for r, parts := range benchRatios {
		ratio, ours, base := number(r), number(parts[0]), number(parts[1])
		if want := ours / base; math.Abs(ratio-want) > 1e-9*math.Abs(want) {
			t.Errorf("%s = %v, want %s/%s = %v/%v = %v", r, ratio, parts[0], parts[1], ours, base, want)
		}
	}
	if v := number("http_create_c50_errors"); v != 0 {
		t.Errorf("http_create_c50_errors = %v, want 0", v)
	}
	if p50, p99, max := number("sweep_lag_p50_s"), number("sweep_lag_p99_s"), number("sweep_lag_max_s"); !(p50 <= p99 && p99 <= max) {
		t.Errorf("sweep lag p50 %v, p99 %v, max %v: want p50 <= p99 <= max", p50, p99, max)
	}
	// The lag phase deletes what it writes within a few sweeps: a lag
	// above the phase itself means the sweeper did not keep up at all.
	if max := number("sweep_lag_max_s"); max > 4 {
		t.Errorf("sweep_lag_max_s = %v at 500 records/s, want well under the phase's 4 s", max)
	}
	if v := number("records"); v != 500 {
		t.Errorf("records = %v, want 500", v)
	}
	if q, ok := got["quick"].(bool); !ok || !q {
		t.Errorf("quick = %v, want true", got["quick"])
	}
	if d, _ := got["date"].(string); !regexp.MustCompile(`^\d{4}-\d{2}-\d{2}$`).MatchString(d) {
		t.Errorf("date = %q, want YYYY-MM-DD", got["date"])
	}
	if v, _ := got["go_version"].(string); !strings.HasPrefix(v, "go") {
		t.Errorf("go_version = %q", got["go_version"])
	}
	for _, phase := range []string{"ingest: engine batches", "sweep lag under steady ingest"} {
		if !strings.Contains(stderr.String(), phase) {
			t.Errorf("stderr does not show phase %q:\n%s", phase, stderr.String())
		}
	}
}

func TestBench_RejectsNegativeSizes(t *testing.T) {
	err := run(context.Background(), []string{"bench", "--records", "-1"}, &bytes.Buffer{}, &bytes.Buffer{}, func(string) string { return "" })
	if !errors.Is(err, errUsage) || exitCode(err) != 2 {
		t.Fatalf("err = %v (exit %d), want a usage error with exit code 2", err, exitCode(err))
	}
}

func TestBench_InstancesNeedADatabaseURL(t *testing.T) {
	err := run(context.Background(), []string{"bench", "--quick", "--instances", "3"}, &bytes.Buffer{}, &bytes.Buffer{}, func(string) string { return "" })
	if !errors.Is(err, errUsage) || exitCode(err) != 2 || !strings.Contains(err.Error(), "--database-url") {
		t.Fatalf("err = %v (exit %d), want a usage error naming --database-url, exit code 2", err, exitCode(err))
	}
}

func TestBench_TableShowsOursBaselineAndRatio(t *testing.T) {
	r := &bench.Result{
		Records: 1000, Date: "2026-11-23", GoVersion: "go1.26.8", CPUs: 2,
		IngestBatchRPS: 30000, IngestBatchBaselineRPS: 40000,
		SweepDeleteRPS: 9000, SweepDeleteBaselineRPS: 10000,
		LookupRecords: 1000, LookupP99MS: 1.5, LookupBaselineP99MS: 0.5,
		SweepLagP99S: 1.25, Store: "postgres",
		HTTPCreateC50RPS: 400, Instances: 3, InstancesHTTPClients: 50, InstancesHTTPCreateRPS: 1000,
		InstancesSweepLagP99S: 1.5,
	}
	var out bytes.Buffer
	if err := printBench(&out, r); err != nil {
		t.Fatal(err)
	}
	for _, want := range []*regexp.Regexp{
		regexp.MustCompile(`ingest, engine batches of 1000\s+30000 rec/s\s+40000 rec/s\s+0\.75\s`),
		regexp.MustCompile(`sweep delete\s+9000 rec/s\s+10000 rec/s\s+0\.90\s`),
		regexp.MustCompile(`lookup p99 at 1000 records\s+1\.500 ms\s+0\.500 ms\s+3\.00\s`),
		regexp.MustCompile(`sweep lag p99\s+1\.250 s\s`),
		regexp.MustCompile(`on postgres`),
		regexp.MustCompile(`3 instances: create over HTTP, 50 clients\s+1000 rec/s\s+400 rec/s\s+2\.50\s`),
		regexp.MustCompile(`3 instances: sweep lag p99\s+1\.500 s\s`),
	} {
		if !want.MatchString(out.String()) {
			t.Errorf("table lacks %v:\n%s", want, out.String())
		}
	}
}
