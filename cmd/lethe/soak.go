package main

import (
	"bytes"
	"context"
	"crypto/rand"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"sync"
	"text/tabwriter"
	"time"

	"github.com/spf13/cobra"

	"github.com/lethe-privacy/lethe/soak"
)

// soakFlags are the settings of one "lethe soak".
type soakFlags struct {
	url, adminToken, data    string
	metricsURL, metricsToken string
	duration, interval       time.Duration
	maxLag                   time.Duration
	writers, readers         int
	rate                     int
	expiring                 float64
	maxWAL                   int64
	asJSON, verbose          bool
}

func soakCmd(env envFunc) *cobra.Command {
	var sf soakFlags
	cmd := &cobra.Command{
		Use:   "soak",
		Short: "Load a server with writers, readers and expiring records, then check every acknowledged write",
		Long: `Soak a Lethe server over its HTTP API: --writers clients create prize draw
entries (chatbot pack) as fast as the server takes them (or --rate in
total), --readers clients read records whose creation was acknowledged, and
a share of the records (--expiring) is created with a created_at in the past
so that it falls due, and is deleted by the server's own sweeper, during the
run. Afterwards every acknowledged write is read once: it must be there, or
have been deleted after its due time. Sweep lag is sampled from /metrics and
the WAL file's size from the data folder.

Without --url, a server is started in this process on 127.0.0.1 (a free
port) over a fresh temporary data folder (or --data), exactly as "lethe
serve" runs, with its sweeper every --sweep-interval. With --url, the
server there is soaked (a loopback address; admin token from
$LETHE_ADMIN_TOKEN or --admin-token; --data names its data folder for the
WAL figure).

The command fails when any answer was a server error (5xx), any
acknowledged write was lost, the sweep lag p99 exceeded --max-lag or the
WAL grew beyond --max-wal.`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			return runSoak(cmd.Context(), cmd.OutOrStdout(), cmd.ErrOrStderr(), env, sf)
		},
	}
	f := cmd.Flags()
	f.DurationVar(&sf.duration, "duration", 60*time.Second, "how long writers and readers run")
	f.IntVar(&sf.writers, "writers", 50, "concurrent writers")
	f.IntVar(&sf.readers, "readers", 8, "concurrent readers")
	f.IntVar(&sf.rate, "rate", 0, "creates per second of all writers together (0: as fast as the server answers)")
	f.Float64Var(&sf.expiring, "expiring", 0.5, "share of records that fall due during the run")
	f.StringVar(&sf.url, "url", "", "soak the server at this base URL instead of starting one")
	f.StringVar(&sf.adminToken, "admin-token", env("LETHE_ADMIN_TOKEN"), "admin token of the --url server [$LETHE_ADMIN_TOKEN]")
	f.StringVar(&sf.metricsURL, "metrics-url", "", "the --url server's metrics (default http://127.0.0.1:9464/metrics; URL/metrics with --metrics-token)")
	f.StringVar(&sf.metricsToken, "metrics-token", env("LETHE_METRICS_TOKEN"), "metrics token of the --url server, if its metrics are read from the API [$LETHE_METRICS_TOKEN]")
	f.StringVar(&sf.data, "data", "", "data folder: of the server started here (default: a temporary one, removed afterwards), or of the --url server for the WAL figure")
	f.DurationVar(&sf.interval, "sweep-interval", time.Second, "sweep interval of the server started here")
	f.DurationVar(&sf.maxLag, "max-lag", 5*time.Second, "largest acceptable sweep lag p99")
	f.Int64Var(&sf.maxWAL, "max-wal", 64<<20, "largest acceptable WAL file in bytes")
	f.BoolVar(&sf.asJSON, "json", false, "print the result as one JSON object")
	f.BoolVar(&sf.verbose, "verbose", false, "show progress and the log of the server started here")
	return cmd
}

// errSoakFailed: the run completed, and its figures broke a limit.
var errSoakFailed = errors.New("soak failed")

func runSoak(ctx context.Context, stdout, stderr io.Writer, env envFunc, sf soakFlags) error {
	switch {
	case sf.duration <= 0 || sf.writers <= 0 || sf.readers < 0 || sf.rate < 0:
		return fmt.Errorf("%w: want a positive --duration and --writers, and no negative --readers or --rate", errUsage)
	case sf.expiring < 0 || sf.expiring > 1:
		return fmt.Errorf("%w: --expiring is a share from 0 to 1", errUsage)
	case sf.url == "" && sf.interval <= 0:
		return fmt.Errorf("%w: the server started here needs a positive --sweep-interval", errUsage)
	case sf.url != "" && sf.adminToken == "":
		return fmt.Errorf("%w: --url needs the server's admin token (--admin-token or $LETHE_ADMIN_TOKEN)", errUsage)
	}
	if sf.url != "" && sf.metricsURL == "" && sf.metricsToken == "" {
		sf.metricsURL = "http://" + defaultMetricsAddr + "/metrics"
	}
	cfg := soak.Config{
		URL: sf.url, AdminToken: sf.adminToken, Duration: sf.duration,
		MetricsURL: sf.metricsURL, MetricsToken: sf.metricsToken,
		Writers: sf.writers, Readers: sf.readers, Rate: sf.rate, ExpiringShare: sf.expiring,
	}
	if sf.verbose {
		cfg.Logf = func(format string, args ...any) { fmt.Fprintf(stderr, format+"\n", args...) }
	}
	var srv *soakServer
	if sf.url == "" {
		var err error
		srv, err = startSoakServer(ctx, env, sf, stderr)
		if err != nil {
			return err
		}
		defer srv.stop()
		cfg.URL, cfg.AdminToken = srv.url, srv.token
		cfg.MetricsURL, cfg.MetricsToken = srv.metricsURL, ""
		sf.data = srv.dir
	}
	if sf.data != "" {
		cfg.WALPath = filepath.Join(sf.data, "lethe.db-wal")
	}
	res, err := soak.Run(ctx, cfg)
	if err != nil {
		return err
	}
	var logErrors int
	if srv != nil {
		if err := srv.stop(); err != nil {
			return fmt.Errorf("soak: server: %w", err)
		}
		logErrors = srv.log.count("level=ERROR")
	}
	if sf.asJSON {
		enc := json.NewEncoder(stdout)
		enc.SetIndent("", "  ")
		if err := enc.Encode(struct {
			*soak.Result
			ServerLogErrors int `json:"server_log_errors"`
		}{res, logErrors}); err != nil {
			return err
		}
	} else if err := printSoak(stdout, res, logErrors); err != nil {
		return err
	}
	var failed []string
	if res.ServerErrors > 0 {
		failed = append(failed, fmt.Sprintf("%d server errors", res.ServerErrors))
	}
	if res.Lost > 0 {
		failed = append(failed, fmt.Sprintf("%d acknowledged writes lost (%s)", res.Lost, strings.Join(res.LostIDs, ", ")))
	}
	if lag := time.Duration(res.LagP99S * float64(time.Second)); lag > sf.maxLag {
		failed = append(failed, fmt.Sprintf("sweep lag p99 %s above %s", lag.Round(time.Millisecond), sf.maxLag))
	}
	if res.WALMaxBytes > sf.maxWAL {
		failed = append(failed, fmt.Sprintf("WAL reached %d bytes, above %d", res.WALMaxBytes, sf.maxWAL))
	}
	if len(failed) > 0 {
		return fmt.Errorf("%w: %s", errSoakFailed, strings.Join(failed, "; "))
	}
	return nil
}

func printSoak(w io.Writer, r *soak.Result, logErrors int) error {
	fmt.Fprintf(w, "lethe soak: %d writers, %d readers, %s, tenant %s\n\n", r.Writers, r.Readers, r.Duration.Round(time.Millisecond), r.Tenant)
	tw := tabwriter.NewWriter(w, 0, 4, 2, ' ', 0)
	row := func(name, v string) { fmt.Fprintf(tw, "%s\t%s\t\n", name, v) }
	row("acknowledged writes", fmt.Sprintf("%d (%.0f/s)", r.Acked, r.WriteRPS))
	row("  due during the run", fmt.Sprint(r.AckedDue))
	row("  present at the end", fmt.Sprint(r.Present))
	row("  deleted by the sweeper when due", fmt.Sprint(r.Swept))
	row("  lost", fmt.Sprint(r.Lost))
	row("sweeper deletes (metrics)", fmt.Sprint(r.SweeperDeleted))
	row("reads", fmt.Sprintf("%d (%d of swept records)", r.Reads, r.ReadsSwept))
	row("server errors (5xx)", fmt.Sprint(r.ServerErrors))
	row("other failed requests", fmt.Sprint(r.ClientErrors))
	row("sweep lag p50 / p99 / max", fmt.Sprintf("%.3f / %.3f / %.3f s (%d samples)", r.LagP50S, r.LagP99S, r.LagMaxS, r.LagSamples))
	if r.WALMaxBytes >= 0 {
		row("WAL size max", fmt.Sprintf("%.1f MiB", float64(r.WALMaxBytes)/(1<<20)))
	} else {
		row("WAL size max", "not sampled (give --data)")
	}
	if logErrors >= 0 {
		row("server log errors", fmt.Sprint(logErrors))
	}
	return tw.Flush()
}

// soakServer is "lethe serve" running in this process for a soak.
type soakServer struct {
	url, token, dir string
	metricsURL      string
	log             *soakLog
	cancel          context.CancelFunc
	done            chan error
	cleanup         func()
	once            sync.Once
	err             error
}

var soakAddrLine = regexp.MustCompile(`msg="lethe serving" addr=(\S+) metrics_addr=(\S+)`)

// startSoakServer runs "lethe serve" on 127.0.0.1 with a free port and a
// fresh admin token, over sf.data or a temporary folder, and waits until
// it listens.
func startSoakServer(ctx context.Context, env envFunc, sf soakFlags, stderr io.Writer) (*soakServer, error) {
	s := &soakServer{dir: sf.data, log: &soakLog{}, done: make(chan error, 1), cleanup: func() {}}
	if s.dir == "" {
		dir, err := os.MkdirTemp("", "lethe-soak-")
		if err != nil {
			return nil, fmt.Errorf("soak: %w", err)
		}
		s.dir, s.cleanup = dir, func() { os.RemoveAll(dir) }
	}
	tok := make([]byte, 24)
	rand.Read(tok)
	s.token = hex.EncodeToString(tok)
	if sf.verbose {
		s.log.tee = stderr
	}
	serveEnv := func(k string) string {
		switch k {
		case "LETHE_ADMIN_TOKEN":
			return s.token
		case "LETHE_ADDR", "LETHE_DATA":
			return ""
		}
		return env(k)
	}
	sctx, cancel := context.WithCancel(ctx)
	s.cancel = cancel
	// The soak measures the store and the sweeper, not the rate limiter:
	// its 58 clients share one key and one address, at more than the
	// default limits allow, so its own server runs without them (a --url
	// server keeps its own).
	args := []string{"serve", "--data", s.dir, "--addr", "127.0.0.1:0", "--metrics-addr", "127.0.0.1:0", "--sweep-interval", sf.interval.String(),
		"--rate-limit", "off", "--ip-rate-limit", "off"}
	go func() { s.done <- run(sctx, args, io.Discard, s.log, serveEnv) }()
	deadline := time.After(30 * time.Second)
	for {
		if m := soakAddrLine.FindSubmatch(s.log.bytes()); m != nil {
			s.url = "http://" + string(m[1])
			s.metricsURL = "http://" + string(m[2]) + "/metrics"
			return s, nil
		}
		select {
		case err := <-s.done:
			cancel()
			s.cleanup()
			return nil, fmt.Errorf("soak: server did not start: %v\n%s", err, s.log.bytes())
		case <-deadline:
			s.stop()
			return nil, fmt.Errorf("soak: server did not start within 30s\n%s", s.log.bytes())
		case <-time.After(10 * time.Millisecond):
		}
	}
}

// stop shuts the server down (once) and removes a temporary data folder.
func (s *soakServer) stop() error {
	s.once.Do(func() {
		s.cancel()
		s.err = <-s.done
		s.cleanup()
	})
	return s.err
}

// soakLog keeps the started server's log, and copies it to tee when set.
type soakLog struct {
	mu  sync.Mutex
	buf bytes.Buffer
	tee io.Writer
}

func (l *soakLog) Write(p []byte) (int, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	if l.tee != nil {
		l.tee.Write(p)
	}
	return l.buf.Write(p)
}

func (l *soakLog) bytes() []byte {
	l.mu.Lock()
	defer l.mu.Unlock()
	return bytes.Clone(l.buf.Bytes())
}

// count reports the log lines holding s.
func (l *soakLog) count(s string) int {
	return bytes.Count(l.bytes(), []byte(s))
}
