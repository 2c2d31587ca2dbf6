package main

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net/http"
	"time"

	"github.com/spf13/cobra"

	"github.com/lethe-privacy/lethe/console"
	"github.com/lethe-privacy/lethe/httpapi"
)

func serveCmd(env envFunc) *cobra.Command {
	var (
		df         dataFlags
		addr       string
		interval   time.Duration
		maxBody    int64
		ckpt       time.Duration
		mf         metricsFlags
		lim        serveLimits
		tf         tlsFlags
		adminSuper bool
		bs         backupSchedule
	)
	cmd := &cobra.Command{
		Use:   "serve",
		Short: "Serve the HTTP API and run the sweeper on a schedule",
		Long: `Serve the HTTP API under /v1 (OpenAPI at /v1/openapi.json) and the web
console under /console/ (users from "lethe users add"), and run the sweeper
every --sweep-interval.

With no flags, serve creates ./lethe-data with a SQLite database and a
master key file (mode 0600: back it up, the data cannot be read without it)
and listens on 127.0.0.1:8080. The admin token comes from LETHE_ADMIN_TOKEN;
without it, one is generated on the first start and printed once. The
admin token holds the admin role alone (tenants, keys, settings, sweeps):
it reads no PII and no logs. --admin-superuser (LETHE_ADMIN_SUPERUSER=1)
gives it every role on every tenant instead, as before roles existed; the
start then logs a warning and records the choice in the runtime log.

With --database-url (or LETHE_DATABASE_URL) the data lives in PostgreSQL
instead, and several instances may serve one database: they take turns
sweeping, and each request job is worked on by one of them. The master key
file stays local (--master-key-file, default DATA/master.key) and every
instance needs a copy; it is created only for a database that holds no
Lethe data yet. The URL's password is never printed.

Prometheus metrics are served at /metrics on a listener of their own,
--metrics-addr (default 127.0.0.1:9464, loopback; "off" for none), not on
the API port; with --metrics-token (or LETHE_METRICS_TOKEN) the API port
serves them too, to the bearer of that token. /healthz, /readyz and
/v1/openapi.json are public.

TLS: --tls-cert and --tls-key serve the API (and the metrics listener)
over TLS 1.2 or 1.3 with forward-secret AEAD suites only, and send HSTS;
SIGHUP reloads both files without dropping open connections (a bad file
keeps the previous certificate). --tls-self-signed creates a self-signed
certificate in the data folder on the first start and logs its SHA-256
fingerprint. Without TLS, plain HTTP is served on a loopback address only;
--insecure-http allows any address (behind a TLS-terminating proxy), and
/readyz then reports "transport": "plain-insecure".

Every file serve creates is mode 0600 and the data folder 0700, whatever
the umask; a data folder or database files that other users may read are
made owner-only at the start, with one warning naming them.

--backup-every 24h takes an encrypted backup of the SQLite data folder
into --backups that often, and then deletes the backups older than
--backup-max-age (60d); see "lethe backup --help". The first start after
"lethe backup restore" deletes or anonymizes again, from the erasure
journal, everything erased since the backup, before the port is opened.

A wrong or missing master key stops the start before anything is written
and before the port is opened.`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			log := slog.New(slog.NewTextHandler(cmd.ErrOrStderr(), nil))
			if adminSuper {
				log.Warn("the admin token is a superuser: it reads the PII and the logs of every tenant (--admin-superuser); give tenant keys the roles they need instead")
			}
			return serve(cmd.Context(), log, cmd, &df, &mf, &tf, &bs, addr, interval, ckpt, maxBody, &lim, env("LETHE_ADMIN_TOKEN"), adminSuper)
		},
	}
	df.register(cmd, env)
	mf.register(cmd, env)
	cmd.Flags().StringVar(&addr, "addr", env.or("LETHE_ADDR", "127.0.0.1:8080"), "listen address HOST:PORT [$LETHE_ADDR]")
	cmd.Flags().Var(intervalVar(&interval, time.Minute), "sweep-interval", "how often the sweeper runs: 30s, 1m, 1h30m, 1d (0 turns the schedule off)")
	cmd.Flags().Int64Var(&maxBody, "max-body", 8<<20, "largest request body in bytes")
	cmd.Flags().BoolVar(&adminSuper, "admin-superuser", env("LETHE_ADMIN_SUPERUSER") == "1", "give the admin token every role on every tenant, PII reads included [$LETHE_ADMIN_SUPERUSER=1]")
	cmd.Flags().Var(intervalVar(&ckpt, time.Hour), "audit-checkpoint-interval", "how often each audit chain's head is checkpointed (0 turns it off; sweeps checkpoint too)")
	lim.register(cmd.Flags())
	tf.register(cmd.Flags(), env)
	bs.register(cmd.Flags(), env)
	return cmd
}

func serve(ctx context.Context, log *slog.Logger, cmd *cobra.Command, df *dataFlags, mf *metricsFlags, tf *tlsFlags, bs *backupSchedule, addr string, interval, ckpt time.Duration, maxBody int64, lim *serveLimits, adminToken string, superuser bool) error {
	if interval < 0 {
		return fmt.Errorf("%w: --sweep-interval must not be negative", errUsage)
	}
	if ckpt < 0 {
		return fmt.Errorf("%w: --audit-checkpoint-interval must not be negative", errUsage)
	}
	if err := bs.check(df); err != nil {
		return err
	}
	metricsToken, err := mf.apiToken()
	if err != nil {
		return err
	}
	limits, err := lim.limits()
	if err != nil {
		return err
	}
	tr, err := tf.setup(log, df.dir, addr, mf.addr)
	if err != nil {
		return err
	}
	o, err := df.open(ctx, true, log)
	if err != nil {
		return err
	}
	defer o.Close()
	defer startRequestRunner(ctx, o, log)() // stopped before the store closes
	// A rewrap a crash or a stop interrupted goes on in the background.
	if err := o.eng.ResumeRewraps(ctx); err != nil {
		return err
	}
	tok, err := o.eng.EnsureAdminToken(ctx, adminToken)
	if err != nil {
		return err
	}
	if tok != "" {
		fmt.Fprintf(cmd.ErrOrStderr(), "\nAdmin token (shown once; set LETHE_ADMIN_TOKEN to choose your own):\n\n    %s\n\n", tok)
	}
	api := httpapi.New(httpapi.Config{Engine: o.eng, Logger: log, MaxBody: maxBody, MetricsToken: metricsToken, AdminSuperuser: superuser,
		Limits: limits, WriteTimeout: lim.write, Transport: tr.mode})
	defer api.Close() // its failure summaries are written before the store closes
	con, err := console.New(ctx, console.Config{Engine: o.eng, Logger: log, SweepInterval: interval})
	if err != nil {
		return err
	}
	root := http.NewServeMux()
	root.Handle(console.Prefix, con)
	root.Handle("/", api)
	ln, err := tr.listen(addr)
	if err != nil {
		return fmt.Errorf("listen: %w", err)
	}
	mln, err := listenMetrics(log, tr, mf.addr, api.MetricsHandler())
	if err != nil {
		ln.Close()
		return err
	}
	defer mln.shutdown()
	srv := lim.server(tr.handler(root))
	// The server's own complaints (TLS handshakes that fail, accept
	// errors) go to the same log as everything else.
	srv.ErrorLog = slog.NewLogLogger(log.Handler(), slog.LevelWarn)
	defer tr.reloadOnHangup(log)()
	// Fail closed: a server whose start cannot be audited does not serve.
	if err := o.eng.LogServer(ctx, "server.start", map[string]any{"addr": ln.Addr().String(), "admin_superuser": superuser}); err != nil {
		ln.Close()
		return err
	}
	sweepCtx, stopSweeps := context.WithCancel(ctx)
	ckptDone := every(sweepCtx, ckpt, func(ctx context.Context) {
		if _, err := o.eng.CheckpointAudit(ctx); err != nil && ctx.Err() == nil {
			log.Error("audit checkpoint failed", "err", err)
		}
	})
	sweeperDone := every(sweepCtx, interval, func(ctx context.Context) {
		res, err := o.eng.Sweep(ctx)
		api.Metrics().ObserveSweep(res, err)
		switch {
		case err != nil && ctx.Err() == nil:
			log.Error("sweep failed", "err", err)
		case err == nil && res.Deleted+res.Anonymized > 0:
			log.Info("sweep", "deleted", res.Deleted, "anonymized", res.Anonymized, "took", res.Finished.Sub(res.Started))
		}
	})
	backupsDone := every(sweepCtx, bs.every, func(ctx context.Context) {
		bs.run(ctx, o, df.dbPath(), time.Now, log)
	})
	log.Info("lethe serving", "addr", ln.Addr().String(), "metrics_addr", mln.addr(), "transport", tr.mode, "data", df.where(), "sweep_interval", interval)
	mln.serve(log)
	errc := make(chan error, 1)
	go func() { errc <- srv.Serve(ln) }()
	select {
	case err = <-errc:
	case <-ctx.Done():
		log.Info("shutting down")
		shutCtx, cancel := context.WithTimeout(context.Background(), 15*time.Second)
		err = srv.Shutdown(shutCtx)
		cancel()
	}
	stopSweeps()
	<-sweeperDone
	<-ckptDone
	<-backupsDone
	api.Close()
	if errors.Is(err, http.ErrServerClosed) {
		err = nil
	}
	if aerr := o.eng.LogServer(context.Background(), "server.stop", nil); aerr != nil {
		log.Error("audit: server stop not recorded", "err", aerr)
		err = errors.Join(err, aerr)
	}
	return err
}

// every runs fn every interval until ctx ends, in a goroutine of its own;
// the channel it returns closes when that goroutine is done (at once when
// interval is 0: the work is switched off).
func every(ctx context.Context, interval time.Duration, fn func(context.Context)) <-chan struct{} {
	done := make(chan struct{})
	go func() {
		defer close(done)
		if interval == 0 {
			return
		}
		t := time.NewTicker(interval)
		defer t.Stop()
		for {
			select {
			case <-ctx.Done():
				return
			case <-t.C:
				fn(ctx)
			}
		}
	}()
	return done
}
