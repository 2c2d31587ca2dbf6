// Package httpapi serves Lethe's HTTP JSON API under /v1 (described by the
// OpenAPI document at /v1/openapi.json), plus /healthz and /readyz;
// /metrics only with a token (Config.MetricsToken), or on a listener of
// its own (Server.MetricsHandler). Handlers are thin: they decode,
// authorize and call the engine; problem.go maps every error to an RFC
// 9457 problem in one place.
package httpapi

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net/http"
	"slices"
	"strings"
	"sync"
	"time"

	"github.com/lethe-privacy/lethe"
	"github.com/lethe-privacy/lethe/engine"
)

// Config configures a Server.
type Config struct {
	Engine *engine.Engine
	Logger *slog.Logger
	// MaxBody bounds request bodies (default 8 MiB).
	MaxBody int64
	// MetricsToken, when set, makes the API serve /metrics to the bearer
	// of this token; without it the API has no /metrics, and the metrics
	// are served by MetricsHandler on a listener of their own.
	MetricsToken string
	// AdminSuperuser gives the admin token every role on every tenant, as
	// before roles existed (lethe serve --admin-superuser). Off, the admin
	// token holds the admin role alone and reads no PII.
	AdminSuperuser bool
	// Limits are the rate limits (zero: none; lethe serve: DefaultLimits).
	Limits Limits
	// WriteTimeout is the http.Server's: streaming answers (export
	// downloads) push the write deadline on by it as they make progress,
	// and an on-demand sweep lifts it while it runs. 0: no deadline is set.
	WriteTimeout time.Duration
	// Transport is how lethe serve listens, as /readyz reports it: "tls",
	// "plain-loopback", or "plain-insecure" (plain HTTP off loopback,
	// --insecure-http). Empty: not reported.
	Transport string
}

// Server is the HTTP API. It implements http.Handler.
type Server struct {
	eng     *engine.Engine
	log     *slog.Logger
	maxBody int64
	mux     *http.ServeMux
	metrics *Metrics
	openAPI []byte
	// superuser: the admin token holds every role (Config.AdminSuperuser).
	superuser bool
	// limits apply Config.Limits; stop and stopped end their sweeps.
	limits        *limiter
	writeTimeout  time.Duration
	transport     string
	stop, stopped chan struct{}
	closeOnce     sync.Once
}

// access is what a route needs: nil for a public route (no token), else
// one of the roles, held by a caller that reaches the path's {tenant}
// (the admin token alone reaches routes without one). The rule itself is
// the engine's (Principal.MayAny); the table only declares.
type access []lethe.Role

var (
	public   access
	admin    = access{lethe.RoleAdmin}
	reader   = access{lethe.RoleReader}
	writer   = access{lethe.RoleWriter}
	requests = access{lethe.RoleRequests}
	auditor  = access{lethe.RoleAuditor}
	// schema is a tenant's description (its packs, collections, fields):
	// no PII, and what every client but a pure auditor builds on.
	schema = access{lethe.RoleAdmin, lethe.RoleReader, lethe.RoleWriter, lethe.RoleRequests}
)

// route is one entry of the routing table. The table is also what the
// OpenAPI test compares the published document with, and what the roles
// test walks with every role.
type route struct {
	method, pattern string
	access          access
	handle          func(s *Server, w http.ResponseWriter, r *http.Request, p engine.Principal) error
}

// routes is the routing table. Resource files with routes of their own add
// them here (requestRoutes in requests.go, logRoutes in logs.go,
// keyRoutes in keys.go, receiptRoutes in receipts.go, dataKeyRoutes in
// datakeys.go, sessionRoutes in sessions.go).
func routes() []route {
	rs := []route{
		{"GET", "/healthz", public, (*Server).healthz},
		{"GET", "/readyz", public, (*Server).readyz},
		{"GET", "/v1/openapi.json", public, (*Server).openapi},
		{"POST", "/v1/tenants", admin, (*Server).createTenant},
		{"GET", "/v1/tenants/{tenant}", schema, (*Server).getTenant},
		{"PATCH", "/v1/tenants/{tenant}", admin, (*Server).patchTenant},
		{"POST", "/v1/tenants/{tenant}/keys", admin, (*Server).createKey},
		{"GET", "/v1/tenants/{tenant}/collections", schema, (*Server).listCollections},
		{"GET", "/v1/tenants/{tenant}/settings/{collection}", admin, (*Server).getSettings},
		{"PUT", "/v1/tenants/{tenant}/settings/{collection}", admin, (*Server).putSettings},
		{"PATCH", "/v1/tenants/{tenant}/settings/{collection}", admin, (*Server).patchSettings},
		{"POST", "/v1/tenants/{tenant}/collections/{collection}/records", writer, (*Server).createRecords},
		{"GET", "/v1/tenants/{tenant}/collections/{collection}/records/{id}", reader, (*Server).getRecord},
		{"PATCH", "/v1/tenants/{tenant}/collections/{collection}/records/{id}", writer, (*Server).patchRecord},
		{"DELETE", "/v1/tenants/{tenant}/collections/{collection}/records/{id}", writer, (*Server).deleteRecord},
		{"POST", "/v1/tenants/{tenant}/collections/{collection}/search", reader, (*Server).searchVectors},
		{"GET", "/v1/tenants/{tenant}/subjects", reader, (*Server).findSubject},
		{"POST", "/v1/tenants/{tenant}/subjects/search", reader, (*Server).searchSubject},
		{"GET", "/v1/tenants/{tenant}/plan", reader, (*Server).plan},
		{"GET", "/v1/tenants/{tenant}/stats/{collection}", reader, (*Server).stats},
		{"POST", "/v1/sweeps", admin, (*Server).sweep},
	}
	rs = append(rs, requestRoutes()...)
	rs = append(rs, logRoutes()...)
	rs = append(rs, keyRoutes()...)
	rs = append(rs, listingRoutes()...)
	rs = append(rs, receiptRoutes()...)
	rs = append(rs, dataKeyRoutes()...)
	rs = append(rs, sessionRoutes()...)
	rs = append(rs, redactRoutes()...)
	return withIdempotency(rs)
}

// New builds the API server.
func New(cfg Config) *Server {
	doc, err := openAPIDocument()
	if err != nil {
		panic("httpapi: embedded OpenAPI document: " + err.Error()) // a build defect, caught by every test
	}
	s := &Server{eng: cfg.Engine, log: cfg.Logger, maxBody: cfg.MaxBody, mux: http.NewServeMux(), openAPI: doc, superuser: cfg.AdminSuperuser,
		limits: newLimiter(cfg.Limits, time.Now), writeTimeout: cfg.WriteTimeout, transport: cfg.Transport}
	if s.log == nil {
		s.log = slog.New(slog.DiscardHandler)
	}
	if s.maxBody <= 0 {
		s.maxBody = 8 << 20
	}
	s.metrics = newMetrics(cfg.Engine)
	s.metrics.reg.MustRegister(s.limits.collectors()...)
	if cfg.Limits.on() {
		s.stop, s.stopped = make(chan struct{}), make(chan struct{})
		go func() { defer close(s.stopped); s.runLimiter() }()
	}
	for _, rt := range routes() {
		s.mux.Handle(rt.method+" "+rt.pattern, s.wrap(rt))
	}
	served := routes()
	if cfg.MetricsToken != "" {
		s.mux.Handle("GET /metrics", s.metricsWithToken(cfg.MetricsToken))
		served = append(served, metricsRoute)
	}
	s.handleOtherMethods(s.mux, served)
	s.mux.HandleFunc("/", func(w http.ResponseWriter, r *http.Request) {
		writeProblem(w, problemFor(errNoRoute, s.log, r))
	})
	return s
}

// errNoRoute answers a path no route has.
var errNoRoute = errors.New("no route")

// methodError answers a known path asked with a method it does not serve.
type methodError struct {
	method string
	allow  []string
}

func (e *methodError) Error() string { return "method " + e.method + " not allowed" }

// handleOtherMethods answers 405 with an Allow header for every path of
// the table asked with a method it does not serve. The handlers are
// registered without a method, so that ServeMux prefers the route's own
// "METHOD /pattern" and hands them only the other methods; a GET route
// answers HEAD too, as ServeMux serves it.
func (s *Server) handleOtherMethods(mux *http.ServeMux, rs []route) {
	allow := map[string][]string{}
	for _, rt := range rs {
		allow[rt.pattern] = append(allow[rt.pattern], rt.method)
		if rt.method == http.MethodGet {
			allow[rt.pattern] = append(allow[rt.pattern], http.MethodHead)
		}
	}
	for pattern, methods := range allow {
		slices.Sort(methods)
		mux.HandleFunc(pattern, func(w http.ResponseWriter, r *http.Request) {
			w.Header().Set("Allow", strings.Join(methods, ", "))
			writeProblem(w, problemFor(&methodError{method: r.Method, allow: methods}, s.log, r))
		})
	}
}

// Metrics returns the server's Prometheus metrics (the scheduler reports
// its sweeps there too).
func (s *Server) Metrics() *Metrics { return s.metrics }

func (s *Server) ServeHTTP(w http.ResponseWriter, r *http.Request) { s.mux.ServeHTTP(w, r) }

// wrap adds body limits, authentication, tenant reach, metrics and error
// mapping around a handler.
func (s *Server) wrap(rt route) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		start := time.Now()
		sw := &statusWriter{ResponseWriter: w}
		defer func() {
			if v := recover(); v != nil {
				s.log.Error("handler panic", "route", rt.pattern, "panic", fmt.Sprint(v))
				if sw.status == 0 {
					writeProblem(sw, Problem{Type: "urn:lethe:problem:internal", Title: "Internal error", Status: 500, Instance: r.URL.Path})
				}
			}
			s.metrics.observe(rt.method+" "+rt.pattern, sw.status, time.Since(start))
		}()
		r.Body = http.MaxBytesReader(sw, r.Body, s.maxBody)
		if err := s.limits.allowAddr(clientIP(r)); err != nil {
			writeProblem(sw, problemFor(err, s.log, r))
			return
		}
		var p engine.Principal
		if rt.access != nil {
			// An address that failed too often is refused before its token
			// is looked at; a key over its rate before its pass is logged.
			err := s.limits.authBlocked(clientIP(r))
			if err == nil {
				p, err = s.authenticate(r)
				if err == nil {
					err = s.limits.allowKey(p.Name)
				}
				// Every authentication is audited (security log); a success
				// that cannot be recorded is not served (fail closed).
				if aerr := s.logAuth(r, rt, p, err); aerr != nil && err == nil {
					err = aerr
				}
			}
			if err == nil {
				err = s.authorize(r, rt, p)
			}
			if err != nil {
				writeProblem(sw, problemFor(err, s.log, r))
				return
			}
			r = r.WithContext(engine.WithCaller(r.Context(), engine.Caller{Actor: p.Name, IP: clientIP(r)}))
		}
		if err := rt.handle(s, sw, r, p); err != nil {
			writeProblem(sw, problemFor(err, s.log, r))
		}
	})
}

func (s *Server) authenticate(r *http.Request) (engine.Principal, error) {
	h := r.Header.Get("Authorization")
	tok, ok := strings.CutPrefix(h, "Bearer ")
	if !ok || tok == "" {
		return engine.Principal{}, lethe.ErrUnauthorized
	}
	p, err := s.eng.Authenticate(r.Context(), strings.TrimSpace(tok))
	if err == nil && p.Admin && s.superuser {
		p = engine.AdminPrincipal(true)
	}
	return p, err
}

// authorize checks the principal against the route (the engine's rule:
// no fallback tenant, no path a key does not reach, no role it lacks) and
// records a refusal in the security log. A refusal that cannot be
// recorded is still a refusal.
func (s *Server) authorize(r *http.Request, rt route, p engine.Principal) error {
	err := p.MayAny(r.PathValue("tenant"), rt.access...)
	if err == nil {
		return nil
	}
	a := engine.AuthAttempt{Actor: p.Name, Tenant: r.PathValue("tenant"), IP: clientIP(r), Route: rt.method + " " + rt.pattern}
	if aerr := s.eng.LogForbidden(r.Context(), p, a, err); aerr != nil {
		s.log.Error("audit: refusal not recorded", "route", a.Route, "err", aerr)
	}
	return err
}

type statusWriter struct {
	http.ResponseWriter
	status int
}

func (w *statusWriter) WriteHeader(code int) {
	if w.status == 0 {
		w.status = code
	}
	w.ResponseWriter.WriteHeader(code)
}

// Unwrap lets http.ResponseController reach the connection (write
// deadlines, flushes).
func (w *statusWriter) Unwrap() http.ResponseWriter { return w.ResponseWriter }

func (w *statusWriter) Write(b []byte) (int, error) {
	if w.status == 0 {
		w.status = http.StatusOK
	}
	return w.ResponseWriter.Write(b)
}

func (s *Server) healthz(w http.ResponseWriter, r *http.Request, _ engine.Principal) error {
	writeJSON(w, http.StatusOK, map[string]string{"status": "ok"})
	return nil
}

// readyz answers 200 when the store answers within a second, and says
// whether the master key service answers.
func (s *Server) readyz(w http.ResponseWriter, r *http.Request, _ engine.Principal) error {
	ctx, cancel := context.WithTimeout(r.Context(), time.Second)
	defer cancel()
	if _, err := s.eng.Store().Meta(ctx, "kek_id"); err != nil && !errors.Is(err, lethe.ErrNotFound) {
		return fmt.Errorf("%w: store: %v", lethe.ErrUnavailable, err)
	}
	body := map[string]string{"status": "ready", "master_key": "ok"}
	// Through a KMS outage the process goes on with the tenant keys it
	// holds (for a bounded time): still ready, and saying so.
	if mk := s.eng.MasterKeyHealth(ctx); !mk.Reachable {
		body["master_key"] = "unreachable"
		body["master_key_since"] = mk.Since.UTC().Format(time.RFC3339)
		body["master_key_note"] = fmt.Sprintf("serving tenant keys cached before the outage, each for at most %s after it was loaded", mk.CacheTTL+mk.OutageGrace)
	}
	// A tenant whose own master key (bring-your-own-key) fails is
	// refused alone; the others are served, so still ready.
	if failing := s.eng.FailingTenantKeys(); len(failing) > 0 {
		body["tenant_master_keys_failing"] = strings.Join(failing, ",")
	}
	if s.transport != "" {
		body["transport"] = s.transport
	}
	writeJSON(w, http.StatusOK, body)
	return nil
}

// Routes lists the served routes as "METHOD /pattern" (for the OpenAPI
// test and the docs).
func Routes() []string {
	var out []string
	for _, rt := range routes() {
		out = append(out, rt.method+" "+rt.pattern)
	}
	return out
}
