package main

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"time"

	"github.com/spf13/cobra"
)

// defaultMetricsAddr is where serve answers /metrics unless told
// otherwise: loopback, so that only this host's scraper (or an SSH
// tunnel, or a sidecar) reads the metrics, whoever can reach the API.
const defaultMetricsAddr = "127.0.0.1:9464"

// minMetricsToken is the shortest metrics token serve accepts: a token
// anyone who reaches the API port may try must not be guessable.
const minMetricsToken = 16

// metricsFlags are serve's flags for /metrics.
type metricsFlags struct {
	addr string // the listener of its own; "" or "off": none
	// token, when set, makes the API listener serve /metrics to its
	// bearer. tokenEnv is LETHE_METRICS_TOKEN, used when the flag is not
	// given; not the flag's default, which --help would print.
	token, tokenEnv string
}

func (f *metricsFlags) register(cmd *cobra.Command, env envFunc) {
	cmd.Flags().StringVar(&f.addr, "metrics-addr", env.or("LETHE_METRICS_ADDR", defaultMetricsAddr), `listen address HOST:PORT of /metrics, a listener of its own ("off" or "": none) [$LETHE_METRICS_ADDR]`)
	cmd.Flags().StringVar(&f.token, "metrics-token", "", "serve /metrics on the API listener too, to the bearer of this token (at least 16 characters) [$LETHE_METRICS_TOKEN]")
	f.tokenEnv = env("LETHE_METRICS_TOKEN")
}

// apiToken is the token the API listener serves /metrics with, "" for
// none.
func (f *metricsFlags) apiToken() (string, error) {
	tok := f.token
	if tok == "" {
		tok = f.tokenEnv
	}
	if tok != "" && len(tok) < minMetricsToken {
		return "", fmt.Errorf("%w: --metrics-token must be at least %d characters", errUsage, minMetricsToken)
	}
	return tok, nil
}

// metricsOff reports whether --metrics-addr switches the listener off.
func metricsOff(addr string) bool { return addr == "" || addr == "off" }

// metricsListener is the listener of its own that serves /metrics.
type metricsListener struct {
	ln  net.Listener
	srv *http.Server
}

// listenMetrics opens addr for the metrics handler h; nil, nil when the
// listener is switched off. An address that is not loopback is served,
// with a warning: that is a choice (a scraper on another host), but one
// to make knowingly.
func listenMetrics(log *slog.Logger, tr transport, addr string, h http.Handler) (*metricsListener, error) {
	if metricsOff(addr) {
		return nil, nil
	}
	ln, err := tr.listen(addr)
	if err != nil {
		return nil, fmt.Errorf("listen for metrics (--metrics-addr): %w", err)
	}
	if tcp, ok := ln.Addr().(*net.TCPAddr); ok && !tcp.IP.IsLoopback() {
		log.Warn("metrics listener is not on loopback: anyone who reaches it reads the metrics", "metrics_addr", ln.Addr().String())
	}
	m := &metricsListener{ln: ln, srv: &http.Server{
		Handler:           tr.handler(h),
		ReadHeaderTimeout: 10 * time.Second,
		ReadTimeout:       10 * time.Second,
		WriteTimeout:      30 * time.Second,
		IdleTimeout:       2 * time.Minute,
	}}
	return m, nil
}

// serve runs the listener until shutdown; a failure is logged, since the
// API goes on serving without its metrics.
func (m *metricsListener) serve(log *slog.Logger) {
	if m == nil {
		return
	}
	go func() {
		err := m.srv.Serve(m.ln)
		if err != nil && !errors.Is(err, http.ErrServerClosed) {
			log.Error("metrics listener failed", "err", err)
		}
	}()
}

// addr names the listener for the start's log line.
func (m *metricsListener) addr() string {
	if m == nil {
		return "off"
	}
	return m.ln.Addr().String()
}

// shutdown stops the listener, giving a scrape in flight a few seconds.
func (m *metricsListener) shutdown() {
	if m == nil {
		return
	}
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	if err := m.srv.Shutdown(ctx); err != nil {
		m.srv.Close()
	}
	m.ln.Close()
}
