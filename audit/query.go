package audit

import (
	"fmt"
	"net/url"
	"strconv"
	"time"

	"github.com/lethe-privacy/lethe"
)

// MaxLimit bounds one page of log entries.
const MaxLimit = 1000

// DefaultLimit is a page's size when the caller names none.
const DefaultLimit = 100

// ParseLog checks a log name.
func ParseLog(s string) (lethe.Log, error) {
	switch l := lethe.Log(s); l {
	case lethe.LogRuntime, lethe.LogManager, lethe.LogSecurity:
		return l, nil
	}
	return "", &lethe.FieldError{Field: "log", Reason: fmt.Sprintf("unknown log %q; want runtime, manager or security", s)}
}

// Sealed reports whether a log's entries carry sealed data: the runtime
// and manager logs seal their PII with the tenant's data key; the security
// log stays in the clear so that patterns can be seen (C4).
func Sealed(log lethe.Log) bool { return log == lethe.LogRuntime || log == lethe.LogManager }

// ParseQuery reads a log query from URL parameters: from and to (RFC 3339;
// from inclusive, to exclusive), actor, event, after_seq and limit (1 to
// MaxLimit, DefaultLimit when absent).
func ParseQuery(tenant string, log lethe.Log, v url.Values) (lethe.AuditQuery, error) {
	q := lethe.AuditQuery{Tenant: tenant, Log: log, Actor: v.Get("actor"), Event: v.Get("event"), Limit: DefaultLimit}
	for _, p := range []struct {
		name string
		dst  *time.Time
	}{{"from", &q.From}, {"to", &q.To}} {
		if s := v.Get(p.name); s != "" {
			t, err := time.Parse(time.RFC3339Nano, s)
			if err != nil {
				return q, &lethe.FieldError{Field: p.name, Reason: fmt.Sprintf("want an RFC 3339 time such as 2026-01-02T15:04:05Z, got %q", s)}
			}
			*p.dst = t.UTC()
		}
	}
	if !q.From.IsZero() && !q.To.IsZero() && !q.To.After(q.From) {
		return q, &lethe.FieldError{Field: "to", Reason: "must lie after from"}
	}
	if s := v.Get("after_seq"); s != "" {
		n, err := strconv.ParseInt(s, 10, 64)
		if err != nil || n < 0 {
			return q, &lethe.FieldError{Field: "after_seq", Reason: "want a whole number >= 0"}
		}
		q.AfterSeq = n
	}
	if s := v.Get("limit"); s != "" {
		n, err := strconv.Atoi(s)
		if err != nil || n < 1 || n > MaxLimit {
			return q, &lethe.FieldError{Field: "limit", Reason: fmt.Sprintf("want 1 to %d", MaxLimit)}
		}
		q.Limit = n
	}
	return q, nil
}
