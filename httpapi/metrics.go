package httpapi

import (
	"context"
	"net/http"
	"strconv"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/collectors"
	"github.com/prometheus/client_golang/prometheus/promhttp"

	"github.com/lethe-privacy/lethe/engine"
)

// Metrics are the server's Prometheus metrics, on a registry of their own
// (no global state).
type Metrics struct {
	reg      *prometheus.Registry
	requests *prometheus.CounterVec
	latency  *prometheus.HistogramVec
	swept    *prometheus.CounterVec
	sweeps   *prometheus.CounterVec
	residual *prometheus.CounterVec
}

func newMetrics(eng *engine.Engine) *Metrics {
	m := &Metrics{reg: prometheus.NewRegistry()}
	m.requests = prometheus.NewCounterVec(prometheus.CounterOpts{
		Name: "lethe_http_requests_total", Help: "HTTP requests by route and status code.",
	}, []string{"route", "code"})
	m.latency = prometheus.NewHistogramVec(prometheus.HistogramOpts{
		Name: "lethe_http_request_duration_seconds", Help: "HTTP request latency by route.",
		Buckets: []float64{.0005, .001, .0025, .005, .01, .025, .05, .1, .25, .5, 1, 2.5},
	}, []string{"route"})
	m.swept = prometheus.NewCounterVec(prometheus.CounterOpts{
		Name: "lethe_sweep_records_total", Help: "Records acted on by the sweeper, by action.",
	}, []string{"action"})
	m.sweeps = prometheus.NewCounterVec(prometheus.CounterOpts{
		Name: "lethe_sweeps_total", Help: "Sweeps run, by result.",
	}, []string{"result"})
	m.residual = prometheus.NewCounterVec(prometheus.CounterOpts{
		Name: "lethe_residual_pii_total", Help: "Personal data the residual scan found in text that anonymization kept, by entity type.",
	}, []string{"type"})
	m.reg.MustRegister(m.residual)
	lag := func() (int64, time.Duration) {
		ctx, cancel := context.WithTimeout(context.Background(), 2*time.Second)
		defer cancel()
		n, d, err := eng.Lag(ctx)
		if err != nil {
			return -1, -1
		}
		return n, d
	}
	m.reg.MustRegister(auditCounters(eng)...)
	m.reg.MustRegister(rewrapGauges(eng)...)
	m.reg.MustRegister(m.requests, m.latency, m.swept, m.sweeps,
		collectors.NewGoCollector(), collectors.NewProcessCollector(collectors.ProcessCollectorOpts{}),
		prometheus.NewGaugeFunc(prometheus.GaugeOpts{
			Name: "lethe_sweep_lag_seconds", Help: "How long the oldest overdue record has outlived its due time (0 when none is overdue; -1 when the store did not answer).",
		}, func() float64 { _, d := lag(); return d.Seconds() }),
		prometheus.NewGaugeFunc(prometheus.GaugeOpts{
			Name: "lethe_overdue_records", Help: "Records whose retention action is due now and not yet done.",
		}, func() float64 { n, _ := lag(); return float64(n) }),
	)
	return m
}

// auditCounters export the audit trail's work per group commit: entries
// per commit is how well concurrent entries share a transaction, the
// first thing to look at when audited reads slow down; reads per lazy
// entry is how many reads of one caller share an entry.
func auditCounters(eng *engine.Engine) []prometheus.Collector {
	counter := func(name, help, mode string, v func(engine.AuditStats) int64) prometheus.Collector {
		opts := prometheus.CounterOpts{Name: name, Help: help}
		if mode != "" {
			opts.ConstLabels = prometheus.Labels{"mode": mode}
		}
		return prometheus.NewCounterFunc(opts, func() float64 { return float64(v(eng.AuditStats())) })
	}
	const (
		commits = "Transactions the audit trail ran, by mode (durable: flushed before answering; lazy: read and authentication entries, ADR 0007)."
		entries = "Audit entries committed, by mode."
	)
	return []prometheus.Collector{
		counter("lethe_audit_commits_total", commits, "durable", func(s engine.AuditStats) int64 { return s.Durable.Commits }),
		counter("lethe_audit_commits_total", commits, "lazy", func(s engine.AuditStats) int64 { return s.Lazy.Commits }),
		counter("lethe_audit_entries_total", entries, "durable", func(s engine.AuditStats) int64 { return s.Durable.Items }),
		counter("lethe_audit_entries_total", entries, "lazy", func(s engine.AuditStats) int64 { return s.LazyEntries }),
		counter("lethe_audit_lazy_items_total",
			"Reads of decrypted PII and authentication passes the lazy commits logged; a caller's reads in one commit share an entry (ADR 0009).",
			"", func(s engine.AuditStats) int64 { return s.Lazy.Items }),
	}
}

// rewrapGauges export what the running key rewraps still have to move,
// so that a rotation's progress can be watched (and alerted on when it
// stalls) without a call to the status routes.
func rewrapGauges(eng *engine.Engine) []prometheus.Collector {
	const help = "Wrapped keys (scope master) or sealed values (scope tenant) the key rewraps running in this process still have to move to the new key version."
	gauge := func(scope string, v func() float64) prometheus.Collector {
		return prometheus.NewGaugeFunc(prometheus.GaugeOpts{Name: "lethe_key_rewrap_remaining", Help: help,
			ConstLabels: prometheus.Labels{"scope": scope}}, v)
	}
	return []prometheus.Collector{
		gauge("master", func() float64 { m, _ := eng.RewrapRemaining(); return float64(m) }),
		gauge("tenant", func() float64 { _, t := eng.RewrapRemaining(); return float64(t) }),
	}
}

func (m *Metrics) handler() http.Handler {
	return promhttp.HandlerFor(m.reg, promhttp.HandlerOpts{Registry: m.reg})
}

func (m *Metrics) observe(route string, code int, d time.Duration) {
	if code == 0 {
		code = http.StatusOK
	}
	m.requests.WithLabelValues(route, strconv.Itoa(code)).Inc()
	m.latency.WithLabelValues(route).Observe(d.Seconds())
}

// ObserveSweep records a sweep's outcome.
func (m *Metrics) ObserveSweep(res *engine.SweepResult, err error) {
	if err != nil {
		m.sweeps.WithLabelValues("error").Inc()
	} else {
		m.sweeps.WithLabelValues("ok").Inc()
	}
	if res != nil {
		m.swept.WithLabelValues("delete").Add(float64(res.Deleted))
		m.swept.WithLabelValues("anonymize").Add(float64(res.Anonymized))
		for _, rc := range res.Residual {
			m.residual.WithLabelValues(string(rc.Type)).Add(float64(rc.Count))
		}
	}
}
