package httpapi

import (
	"crypto/sha256"
	"crypto/subtle"
	"net/http"
	"strings"

	"github.com/lethe-privacy/lethe"
	"github.com/lethe-privacy/lethe/engine"
)

// metricsRoute is /metrics as the 405 answers and the security log name
// it; it is not in the routing table, which is the API the OpenAPI
// document describes.
var metricsRoute = route{method: "GET", pattern: "/metrics"}

// MetricsHandler serves the Prometheus metrics at /metrics, without a
// token, for a listener of its own ("serve --metrics-addr", loopback by
// default): who can reach that listener is the access control. Other
// paths answer 404 and other methods 405, as problems, like the API.
//
// The metrics name no tenant and no PII, but they tell request rates,
// routes and record counts, so the API listener serves them only to the
// bearer of Config.MetricsToken.
func (s *Server) MetricsHandler() http.Handler {
	mux := http.NewServeMux()
	mux.Handle("GET /metrics", s.metrics.handler())
	s.handleOtherMethods(mux, []route{metricsRoute})
	mux.HandleFunc("/", func(w http.ResponseWriter, r *http.Request) {
		writeProblem(w, problemFor(errNoRoute, s.log, r))
	})
	return mux
}

// metricsWithToken serves the metrics to the bearer of token only. The
// token is compared as SHA-256 digests in constant time, so that neither
// its bytes nor its length leak through the answer's timing. A failure is
// recorded in the security log as any other; a success is not, since a
// scraper would add an entry every few seconds for a read of no PII.
func (s *Server) metricsWithToken(token string) http.Handler {
	want := sha256.Sum256([]byte(token))
	next := s.metrics.handler()
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		// The same limits as every other route: an address over its rate,
		// or one that failed too often, is refused before the comparison,
		// so that the token cannot be guessed at the server's full speed.
		if err := s.limits.allowAddr(clientIP(r)); err != nil {
			writeProblem(w, problemFor(err, s.log, r))
			return
		}
		if err := s.limits.authBlocked(clientIP(r)); err != nil {
			writeProblem(w, problemFor(err, s.log, r))
			return
		}
		tok, ok := strings.CutPrefix(r.Header.Get("Authorization"), "Bearer ")
		got := sha256.Sum256([]byte(strings.TrimSpace(tok)))
		if !ok || subtle.ConstantTimeCompare(got[:], want[:]) != 1 {
			s.logAuth(r, metricsRoute, engine.Principal{}, lethe.ErrUnauthorized)
			writeProblem(w, problemFor(lethe.ErrUnauthorized, s.log, r))
			return
		}
		next.ServeHTTP(w, r)
	})
}
