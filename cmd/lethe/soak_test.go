package main

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"os"
	"testing"
	"time"
)

// soakDuration is the soak's length: ten minutes with LETHE_LONG=1 (run
// with -timeout 20m), a minute in CI, a few seconds otherwise.
func soakDuration() time.Duration {
	switch {
	case os.Getenv("LETHE_LONG") == "1":
		return 10 * time.Minute
	case os.Getenv("CI") == "true":
		return 60 * time.Second
	}
	return 8 * time.Second
}

// TestSoak_FiftyWritersLoseNothingAndTheSweeperKeepsUp runs "lethe soak"
// against a server started in-process on loopback: 50 writers, readers of
// acknowledged records and the sweeper deleting the half of the records
// that fall due during the run. Every acknowledged write is there at the
// end or was deleted after its due time; no answer is a 5xx; the sweep
// lag p99 stays within 5 s and the WAL within 64 MiB (reliability test 3).
func TestSoak_FiftyWritersLoseNothingAndTheSweeperKeepsUp(t *testing.T) {
	d := soakDuration()
	var stdout, stderr bytes.Buffer
	args := []string{"soak", "--duration", d.String(), "--writers", "50", "--readers", "8", "--json"}
	err := run(context.Background(), args, &stdout, &stderr, func(string) string { return "" })
	var res map[string]any
	if jerr := json.Unmarshal(stdout.Bytes(), &res); jerr != nil {
		t.Fatalf("lethe soak: %v; output is not one JSON object: %v\n%s\nstderr:\n%s", err, jerr, stdout.String(), stderr.String())
	}
	num := func(k string) float64 {
		t.Helper()
		v, ok := res[k].(float64)
		if !ok {
			t.Fatalf("result has no number %q: %s", k, stdout.String())
		}
		return v
	}
	t.Logf("soak %s: %.0f acknowledged writes (%.0f/s), %.0f due during the run, %.0f present, %.0f deleted by the sweeper when due, %.0f lost; "+
		"%.0f reads; %.0f server errors, %.0f other failed requests, %.0f server log errors; sweep lag p50 %.3f s, p99 %.3f s, max %.3f s; WAL max %.1f MiB",
		d, num("acknowledged_writes"), num("write_rps"), num("acknowledged_due_during_run"), num("present"), num("swept"), num("lost"),
		num("reads"), num("server_errors"), num("client_errors"), num("server_log_errors"),
		num("sweep_lag_p50_s"), num("sweep_lag_p99_s"), num("sweep_lag_max_s"), num("wal_max_bytes")/(1<<20))
	if err != nil {
		t.Fatalf("lethe soak: %v\nstderr:\n%s", err, stderr.String())
	}
	if num("acknowledged_writes") < 100 {
		t.Errorf("only %.0f writes acknowledged", num("acknowledged_writes"))
	}
	if num("server_errors") != 0 || num("lost") != 0 {
		t.Errorf("%.0f server errors, %.0f lost writes", num("server_errors"), num("lost"))
	}
	if got := num("present") + num("swept"); got != num("acknowledged_writes") {
		t.Errorf("present %.0f + swept %.0f != acknowledged %.0f", num("present"), num("swept"), num("acknowledged_writes"))
	}
	if num("swept") == 0 || num("sweeper_deleted") < num("swept") {
		t.Errorf("the sweeper deleted %.0f records, the check found %.0f deleted: expiry did not run as planned", num("sweeper_deleted"), num("swept"))
	}
	if p99 := num("sweep_lag_p99_s"); p99 > 5 || num("lag_samples") == 0 {
		t.Errorf("sweep lag p99 %.3f s over %.0f samples, want at most 5 s", p99, num("lag_samples"))
	}
	if w := num("wal_max_bytes"); w < 0 || w > 64<<20 {
		t.Errorf("WAL max %.0f bytes, want 0 to 64 MiB", w)
	}
}

func TestSoak_RefusesBadFlags(t *testing.T) {
	for _, args := range [][]string{
		{"--duration", "0s"},
		{"--writers", "0"},
		{"--readers", "-1"},
		{"--expiring", "1.5"},
		{"--sweep-interval", "0s"},
		{"--url", "http://127.0.0.1:1"},
	} {
		err := run(context.Background(), append([]string{"soak"}, args...), &bytes.Buffer{}, &bytes.Buffer{}, func(string) string { return "" })
		if !errors.Is(err, errUsage) || exitCode(err) != 2 {
			t.Errorf("lethe soak %v: err = %v (exit %d), want a usage error (exit 2)", args, err, exitCode(err))
		}
	}
}
