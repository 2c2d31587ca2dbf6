package httpapi

import (
	"encoding/base64"
	"errors"
	"net"
	"net/http"
	"strings"
	"time"

	"github.com/lethe-privacy/lethe"
	"github.com/lethe-privacy/lethe/audit"
	"github.com/lethe-privacy/lethe/engine"
)

// logRoutes are the audit log routes. API key revocation belongs with the
// tenant routes; it waits for a store method that marks a key revoked.
func logRoutes() []route {
	return []route{
		{"GET", "/v1/tenants/{tenant}/logs/{log}", auditor, (*Server).getLog},
	}
}

// logEntryJSON is one audit entry as the API shows it.
type logEntryJSON struct {
	Seq   int64          `json:"seq"`
	Time  time.Time      `json:"time"`
	Actor string         `json:"actor"`
	Event string         `json:"event"`
	Data  map[string]any `json:"data"`
	Hash  string         `json:"hash"`
}

// getLog answers a page of a tenant's runtime, manager or security log,
// sealed parts opened; next_after_seq is the cursor of the next page.
func (s *Server) getLog(w http.ResponseWriter, r *http.Request, _ engine.Principal) error {
	log, err := audit.ParseLog(r.PathValue("log"))
	if err != nil {
		return err
	}
	q, err := audit.ParseQuery(r.PathValue("tenant"), log, r.URL.Query())
	if err != nil {
		return err
	}
	entries, next, err := s.eng.AuditLog(r.Context(), q)
	if err != nil {
		return err
	}
	out := make([]logEntryJSON, len(entries))
	for i, e := range entries {
		out[i] = logEntryJSON{Seq: e.Seq, Time: e.Time, Actor: e.Actor, Event: e.Event, Data: e.Data, Hash: base64.StdEncoding.EncodeToString(e.Hash)}
	}
	body := map[string]any{"entries": out, "next_after_seq": nil}
	if next > 0 {
		body["next_after_seq"] = next
	}
	writeJSON(w, http.StatusOK, body)
	return nil
}

// logAuth records an authentication attempt. Failures other than a wrong
// or missing credential (the store is down) are not attempts to record.
func (s *Server) logAuth(r *http.Request, rt route, p engine.Principal, authErr error) error {
	a := engine.AuthAttempt{OK: authErr == nil, IP: clientIP(r), Route: rt.method + " " + rt.pattern}
	switch {
	case authErr == nil:
		a.Actor, a.Tenant = p.Name, p.Tenant
	case errors.Is(authErr, lethe.ErrUnauthorized):
		if !s.limits.authFailed(a.IP) {
			return nil // counted in its window's auth.failure.summary
		}
		a.Actor = claimedActor(r)
	default:
		return nil
	}
	err := s.eng.LogAuth(r.Context(), a)
	if err != nil {
		s.log.Error("audit: authentication not recorded", "route", a.Route, "err", err)
	}
	return err
}

// clientIP is the connection's address. Proxy headers (X-Forwarded-For,
// Forwarded) are not trusted: any client can send them.
func clientIP(r *http.Request) string {
	host, _, err := net.SplitHostPort(r.RemoteAddr)
	if err != nil {
		return r.RemoteAddr
	}
	return host
}

// claimedActor names what a rejected token claimed to be without keeping
// any secret: the public prefix of an API key when it looks like one,
// else "unknown".
func claimedActor(r *http.Request) string {
	tok, ok := strings.CutPrefix(r.Header.Get("Authorization"), "Bearer ")
	if !ok {
		return "unknown"
	}
	rest, ok := strings.CutPrefix(strings.TrimSpace(tok), "lk_")
	if !ok {
		return "unknown"
	}
	prefix, _, _ := strings.Cut(rest, "_")
	if len(prefix) != 12 || strings.Trim(prefix, "abcdefghijklmnopqrstuvwxyz234567") != "" {
		return "key:?"
	}
	return "key:" + prefix
}
