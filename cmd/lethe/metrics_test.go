package main

import (
	"bytes"
	"context"
	"net"
	"net/http"
	"regexp"
	"strings"
	"testing"
)

var metricsAddrLine = regexp.MustCompile(`msg="lethe serving" addr=\S+ metrics_addr=(\S+)`)

// TestServe_MetricsListener checks where serve answers /metrics: on the
// metrics listener without a token, on the API port only with the metrics
// token, and nowhere with the listener off and no token; health and the
// OpenAPI document stay public on the API port.
func TestServe_MetricsListener(t *testing.T) {
	const token = "a-metrics-token-long-enough"
	get := func(t *testing.T, url, bearer string) int {
		t.Helper()
		req, _ := http.NewRequest("GET", url, nil)
		if bearer != "" {
			req.Header.Set("Authorization", "Bearer "+bearer)
		}
		res, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		res.Body.Close()
		return res.StatusCode
	}
	for _, tc := range []struct {
		name        string
		env         map[string]string
		args        []string
		listener    bool // a metrics listener answers
		apiNoToken  int  // GET /metrics on the API port without a token
		apiTokenArg int  // ... with the metrics token
	}{
		{"own listener", nil, []string{"--metrics-addr", "127.0.0.1:0"}, true, 404, 404},
		{"listener off", nil, []string{"--metrics-addr", "off"}, false, 404, 404},
		{"listener off by empty address", nil, []string{"--metrics-addr", ""}, false, 404, 404},
		{"token flag", nil, []string{"--metrics-addr", "off", "--metrics-token", token}, false, 401, 200},
		{"token from the environment, listener too", map[string]string{"LETHE_METRICS_TOKEN": token}, nil, true, 401, 200},
	} {
		t.Run(tc.name, func(t *testing.T) {
			env := map[string]string{"LETHE_ADMIN_TOKEN": "a-long-enough-admin-token"}
			for k, v := range tc.env {
				env[k] = v
			}
			args := append([]string{"--data", t.TempDir(), "--addr", "127.0.0.1:0", "--sweep-interval", "0"}, tc.args...)
			addr, stderr, _ := startServe(t, env, args...)
			m := metricsAddrLine.FindStringSubmatch(stderr.String())
			if m == nil {
				t.Fatalf("no metrics_addr in the start's log:\n%s", stderr)
			}
			if !tc.listener {
				if m[1] != "off" {
					t.Fatalf("metrics_addr=%s, want off", m[1])
				}
			} else {
				if !strings.HasPrefix(m[1], "127.0.0.1:") {
					t.Fatalf("metrics_addr=%s, want loopback", m[1])
				}
				if got := get(t, "http://"+m[1]+"/metrics", ""); got != 200 {
					t.Errorf("metrics listener: status %d, want 200", got)
				}
				if got := get(t, "http://"+m[1]+"/v1/tenants", "a-long-enough-admin-token"); got != 404 {
					t.Errorf("metrics listener serves the API: status %d", got)
				}
			}
			if got := get(t, "http://"+addr+"/metrics", ""); got != tc.apiNoToken {
				t.Errorf("API /metrics without a token: %d, want %d", got, tc.apiNoToken)
			}
			if got := get(t, "http://"+addr+"/metrics", token); got != tc.apiTokenArg {
				t.Errorf("API /metrics with the metrics token: %d, want %d", got, tc.apiTokenArg)
			}
			for _, path := range []string{"/healthz", "/readyz", "/v1/openapi.json"} {
				if got := get(t, "http://"+addr+path, ""); got != 200 {
					t.Errorf("%s: %d, want 200 without a token", path, got)
				}
			}
		})
	}
}

// TestServe_MetricsFlagsRefused checks the usage errors: a guessable
// token, and a metrics address that cannot be opened, which stops the
// start rather than serving without the metrics an operator asked for.
func TestServe_MetricsFlagsRefused(t *testing.T) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	busy := ln.Addr().String()
	for _, tc := range []struct {
		name string
		args []string
		code int
		want string
	}{
		{"short token", []string{"--metrics-token", "short"}, exitUsage, "at least 16 characters"},
		{"address taken", []string{"--metrics-addr", busy}, exitFailure, "--metrics-addr"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			var out, errOut bytes.Buffer
			args := append([]string{"serve", "--data", t.TempDir(), "--addr", "127.0.0.1:0"}, tc.args...)
			err := run(context.Background(), args, &out, &errOut, func(string) string { return "" })
			if code := exitCode(err); code != tc.code || err == nil || !strings.Contains(err.Error(), tc.want) {
				t.Fatalf("exit %d (%v), want %d and a message containing %q", code, err, tc.code, tc.want)
			}
		})
	}
}

// TestServe_HelpShowsTheLoopbackMetricsDefault: the default needs no
// flag, and it is loopback.
func TestServe_HelpShowsTheLoopbackMetricsDefault(t *testing.T) {
	var help bytes.Buffer
	if err := run(context.Background(), []string{"serve", "--help"}, &help, &help, func(string) string { return "" }); err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(help.String(), `--metrics-addr string`) || !strings.Contains(help.String(), `(default "127.0.0.1:9464")`) {
		t.Errorf("serve --help does not show the metrics listener's default:\n%s", help.String())
	}
}
