package main

import (
	"bufio"
	"context"
	"errors"
	"io"
	"net"
	"net/http"
	"net/http/httptrace"
	"strings"
	"testing"
	"time"

	"golang.org/x/time/rate"
)

const limitsAdmin = "a-long-enough-admin-token"

// startTimeoutServe runs lethe serve with short timeouts, so that slow
// clients meet them within a test.
func startTimeoutServe(t *testing.T, extra ...string) string {
	t.Helper()
	args := append([]string{"--data", t.TempDir(), "--addr", "127.0.0.1:0", "--sweep-interval", "0",
		"--read-header-timeout", "300ms", "--read-timeout", "2s", "--write-timeout", "2s", "--idle-timeout", "600ms",
		"--max-header-bytes", "4096"}, extra...)
	addr, _, _ := startServe(t, map[string]string{"LETHE_ADMIN_TOKEN": limitsAdmin}, args...)
	return addr
}

// closedAfter reads conn until the server closes it and returns how long
// that took from start, and what the server sent.
func closedAfter(t *testing.T, conn net.Conn, start time.Time) (time.Duration, string) {
	t.Helper()
	conn.SetReadDeadline(time.Now().Add(10 * time.Second))
	b, err := io.ReadAll(conn)
	var ne net.Error
	if errors.As(err, &ne) && ne.Timeout() {
		t.Fatalf("the server kept the connection open for 10 s")
	}
	return time.Since(start), string(b)
}

func TestServe_SlowHeadersAreCutOffAtReadHeaderTimeout(t *testing.T) {
	addr := startTimeoutServe(t)
	conn, err := net.Dial("tcp", addr)
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close()
	start := time.Now()
	// 37 bytes, one every 50 ms: 1.85 s for headers the server gives
	// 300 ms.
	req := "GET /healthz HTTP/1.1\r\nHost: lethe\r\n\r\n"
	go func() {
		for i := range len(req) {
			if _, err := conn.Write([]byte{req[i]}); err != nil {
				return // cut off
			}
			time.Sleep(50 * time.Millisecond)
		}
	}()
	took, got := closedAfter(t, conn, start)
	t.Logf("a client sending its headers a byte every 50 ms: cut off after %s (read header timeout 300ms)", took.Round(time.Millisecond))
	if took > 1500*time.Millisecond || strings.Contains(got, "200 OK") {
		t.Fatalf("the slow client was served or kept for %s (got %q), want it cut off near 300ms", took, got)
	}
	if took < 250*time.Millisecond {
		t.Fatalf("closed after %s, before the read header timeout", took)
	}
}

func TestServe_IdleKeepAliveConnectionIsClosedAtIdleTimeout(t *testing.T) {
	addr := startTimeoutServe(t)
	conn, err := net.Dial("tcp", addr)
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close()
	if _, err := io.WriteString(conn, "GET /healthz HTTP/1.1\r\nHost: lethe\r\n\r\n"); err != nil {
		t.Fatal(err)
	}
	br := bufio.NewReader(conn)
	res, err := http.ReadResponse(br, nil)
	if err != nil {
		t.Fatal(err)
	}
	io.Copy(io.Discard, res.Body)
	res.Body.Close()
	if res.StatusCode != 200 || res.Close {
		t.Fatalf("status %d, close %v: want a kept-alive 200", res.StatusCode, res.Close)
	}
	idle := time.Now()
	conn.SetReadDeadline(time.Now().Add(10 * time.Second))
	_, err = br.ReadByte()
	took := time.Since(idle)
	t.Logf("an idle keep-alive connection: closed after %s (idle timeout 600ms)", took.Round(time.Millisecond))
	if !errors.Is(err, io.EOF) {
		t.Fatalf("idle connection: %v after %s, want the server to close it", err, took)
	}
	if took < 500*time.Millisecond || took > 3*time.Second {
		t.Fatalf("closed after %s, want about 600ms", took)
	}
}

func TestServe_NormalClientsAreUnaffectedByTheTimeouts(t *testing.T) {
	addr := startTimeoutServe(t)
	c := &http.Client{Transport: &http.Transport{}}
	defer c.CloseIdleConnections()
	// Requests 400 ms apart on one kept-alive connection: each is sent
	// at once, and the pause stays under the idle timeout.
	for i := range 3 {
		var reused bool
		trace := &httptrace.ClientTrace{GotConn: func(ci httptrace.GotConnInfo) { reused = ci.Reused }}
		req, _ := http.NewRequestWithContext(httptrace.WithClientTrace(context.Background(), trace), "GET", "http://"+addr+"/v1/tenants", nil)
		req.Header.Set("Authorization", "Bearer "+limitsAdmin)
		res, err := c.Do(req)
		if err != nil {
			t.Fatalf("call %d: %v", i+1, err)
		}
		if i > 0 && !reused {
			t.Fatalf("call %d opened a new connection: the kept-alive one was closed within 400 ms", i+1)
		}
		io.Copy(io.Discard, res.Body)
		res.Body.Close()
		if res.StatusCode != 200 {
			t.Fatalf("call %d: status %d", i+1, res.StatusCode)
		}
		time.Sleep(400 * time.Millisecond)
	}
}

func TestServe_OversizedHeadersAreRefused(t *testing.T) {
	addr := startTimeoutServe(t)
	req, _ := http.NewRequest("GET", "http://"+addr+"/healthz", nil)
	req.Header.Set("X-Padding", strings.Repeat("a", 16<<10))
	res, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	res.Body.Close()
	if res.StatusCode != http.StatusRequestHeaderFieldsTooLarge {
		t.Fatalf("16 KiB of headers against --max-header-bytes 4096: status %d, want 431", res.StatusCode)
	}
}

func TestServe_RateLimitFlagsTakeEffect(t *testing.T) {
	addr := startTimeoutServe(t, "--rate-limit", "1/m", "--rate-burst", "1")
	call := func() *http.Response {
		req, _ := http.NewRequest("GET", "http://"+addr+"/v1/tenants", nil)
		req.Header.Set("Authorization", "Bearer "+limitsAdmin)
		res, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		io.Copy(io.Discard, res.Body)
		res.Body.Close()
		return res
	}
	if res := call(); res.StatusCode != 200 {
		t.Fatalf("first call: %d", res.StatusCode)
	}
	res := call()
	if res.StatusCode != 429 || res.Header.Get("Retry-After") != "60" {
		t.Fatalf("second call within a minute: %d, Retry-After %q; want 429 and 60", res.StatusCode, res.Header.Get("Retry-After"))
	}
}

func TestServe_BadLimitFlagsAreUsageErrors(t *testing.T) {
	for _, args := range [][]string{
		{"--rate-limit", "fast"},
		{"--ip-rate-limit", "10/d"},
		{"--rate-burst", "-1"},
		{"--read-header-timeout", "-1s"},
		{"--auth-failures", "5", "--auth-failure-window", "0"},
	} {
		err := run(context.Background(), append([]string{"serve", "--data", t.TempDir()}, args...), io.Discard, io.Discard, func(string) string { return "" })
		if !errors.Is(err, errUsage) {
			t.Errorf("serve %v: %v, want a usage error", args, err)
		}
	}
}

func TestParseRate_ReadsPerSecondMinuteAndHour(t *testing.T) {
	for _, c := range []struct {
		in   string
		want rate.Limit
	}{
		{"50/s", 50}, {"50", 50}, {"3000/m", 50}, {"7200/h", 2}, {"0.5/s", 0.5}, {"off", 0}, {"0", 0},
	} {
		got, err := parseRate(c.in)
		if err != nil || got != c.want {
			t.Errorf("parseRate(%q) = %v, %v; want %v", c.in, got, err, c.want)
		}
	}
	for _, bad := range []string{"", "fast", "-1/s", "10/d", "1/s/s"} {
		if _, err := parseRate(bad); err == nil {
			t.Errorf("parseRate(%q) accepted", bad)
		}
	}
}
