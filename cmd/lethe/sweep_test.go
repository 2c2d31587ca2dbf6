package main

import (
	"strings"
	"testing"
	"time"
)

func TestParseInterval_ProjectAndGoDurations(t *testing.T) {
	for _, tc := range []struct {
		in   string
		want time.Duration
		bad  bool
	}{
		{in: "1d", want: 24 * time.Hour},
		{in: "7d", want: 7 * 24 * time.Hour},
		{in: "1y", want: 365 * 24 * time.Hour},
		{in: "30m", want: 30 * time.Minute},
		{in: "90s", want: 90 * time.Second},
		{in: "1h30m", want: 90 * time.Minute},
		{in: "500ms", want: 500 * time.Millisecond},
		{in: "0", want: 0},
		{in: "soon", bad: true},
		{in: "1w", bad: true},
		{in: "", bad: true},
	} {
		t.Run(tc.in, func(t *testing.T) {
			got, err := parseInterval(tc.in)
			if (err != nil) != tc.bad || got != tc.want {
				t.Errorf("parseInterval(%q) = %v, %v; want %v, error %v", tc.in, got, err, tc.want, tc.bad)
			}
		})
	}
}

func TestIntervalValue_PrintsItsDefaultReadably(t *testing.T) {
	for _, tc := range []struct {
		d    time.Duration
		want string
	}{{time.Minute, "1m"}, {time.Hour, "1h"}, {48 * time.Hour, "2d"}, {90 * time.Second, "1m30s"}, {0, "0s"}} {
		var d time.Duration
		if got := intervalVar(&d, tc.d).String(); got != tc.want {
			t.Errorf("String(%v) = %q, want %q", tc.d, got, tc.want)
		}
	}
}

func TestServe_SweepIntervalInDays(t *testing.T) {
	dir := newDataDir(t)
	_, stderr, stop := startServe(t, map[string]string{"LETHE_ADMIN_TOKEN": "a-long-enough-admin-token"}, "--data", dir, "--addr", "127.0.0.1:0", "--sweep-interval", "1d")
	if err := stop(); err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(stderr.String(), "sweep_interval=24h0m0s") {
		t.Errorf("serve did not take 1d:\n%s", stderr)
	}
}

func TestSweepDryRun_JSONAndUntilDuration(t *testing.T) {
	dir := newDataDir(t)
	mustCLI(t, "tenants", "create", "bot", "--pack", "chatbot", "--data", dir)
	put := func(body string) {
		mustCLI(t, "records", "put", "-c", "automated_chat_messages", "--tenant", "bot", "--data", dir, writeFile(t, "r.json", body))
	}
	put(`{"created_at":"2020-01-01T00:00:00Z","fields":{"message":"old"}}`)
	put(`{"fields":{"message":"new"}}`) // deleted a day from now

	var plan planJSON
	for _, tc := range []struct {
		until string
		want  int64
	}{{"", 1}, {"2d", 2}, {"2020-01-03T00:00:00Z", 1}, {"2019-01-01T00:00:00Z", 0}} {
		args := []string{"sweep", "--dry-run", "--json", "--data", dir}
		if tc.until != "" {
			args = append(args, "--until", tc.until)
		}
		out, _ := mustCLI(t, args...)
		plan = planJSON{}
		mustJSON(t, out, &plan)
		if plan.Total != tc.want {
			t.Errorf("--until %q: total %d, want %d\n%s", tc.until, plan.Total, tc.want, out)
		}
	}
	out, _ := mustCLI(t, "sweep", "--dry-run", "--json", "--data", dir, "--until", "2d")
	plan = planJSON{}
	mustJSON(t, out, &plan)
	if len(plan.Tenants) != 1 || plan.Tenants[0].Tenant != "bot" || plan.Tenants[0].Buckets[0].Day != "2020-01-02" ||
		plan.Tenants[0].Buckets[0].Action != "delete" || time.Until(plan.Until) < 47*time.Hour {
		t.Errorf("plan: %s", out)
	}
	for _, args := range [][]string{
		{"sweep", "--dry-run", "--until", "soon", "--data", dir},
		{"sweep", "--until", "2d", "--data", dir},
	} {
		if _, stderr, code := reqCLI(args...); code != exitUsage || !strings.Contains(stderr, "--until") {
			t.Errorf("%v: exit %d, want %d\n%s", args, code, exitUsage, stderr)
		}
	}
	out, _ = mustCLI(t, "sweep", "--json", "--data", dir)
	var res struct {
		Deleted int64 `json:"deleted"`
	}
	mustJSON(t, out, &res)
	if res.Deleted != 1 {
		t.Errorf("sweep --json: %s", out)
	}
}
