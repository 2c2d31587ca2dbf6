package httpapi

import (
	"context"
	"net/http"
	"strconv"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/collectors"
	"github.com/prometheus/client_golang/prometheus/promhttp"

	"github.com/lethe-privacy/lethe/audit"
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

// auditCounters export the audit appenders' work, per appender: entries
// per commit is how well concurrent entries share a transaction, the
// first thing to look at when audited reads slow down.
func auditCounters(eng *engine.Engine) []prometheus.Collector {
	var cs []prometheus.Collector
	for _, mode := range []string{"durable", "lazy"} {
		stats := func() audit.Stats {
			durable, lazy := eng.AuditStats()
			if mode == "lazy" {
				return lazy
			}
			return durable
		}
		labels := prometheus.Labels{"mode": mode}
		cs = append(cs,
			prometheus.NewCounterFunc(prometheus.CounterOpts{
				Name: "lethe_audit_commits_total", ConstLabels: labels,
				Help: "Transactions the audit appenders ran, by mode (durable: flushed before answering; lazy: read and authentication entries, ADR 0007).",
			}, func() float64 { return float64(stats().Commits) }),
			prometheus.NewCounterFunc(prometheus.CounterOpts{
				Name: "lethe_audit_entries_total", ConstLabels: labels,
				Help: "Audit entries committed, by mode.",
			}, func() float64 { return float64(stats().Entries) }),
		)
	}
	return cs
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
	}
}
