package httpapi

import (
	"fmt"
	"maps"
	"net/http"
	"net/url"
	"slices"
	"strconv"
	"time"

	"github.com/lethe-privacy/lethe"
	"github.com/lethe-privacy/lethe/engine"
)

// listingRoutes are the paged listings. Each answers {"<items>": [...],
// "next": "..."}; next is an opaque cursor, passed back as ?next= for the
// following page, and absent on the last page.
func listingRoutes() []route {
	return []route{
		{"GET", "/v1/tenants", admin, (*Server).listTenants},
		{"GET", "/v1/tenants/{tenant}/collections/{collection}/records", reader, (*Server).listRecords},
		{"GET", "/v1/tenants/{tenant}/requests", requests, (*Server).listRequests},
	}
}

// listQuery reads a listing's query parameters. Unknown ones are refused:
// a misspelt filter (create_from) would otherwise list everything.
type listQuery struct {
	v   url.Values
	err error
}

func newListQuery(r *http.Request, known ...string) *listQuery {
	q := &listQuery{v: r.URL.Query()}
	allowed := map[string]bool{"limit": true, "next": true}
	for _, k := range known {
		allowed[k] = true
	}
	for _, k := range slices.Sorted(maps.Keys(q.v)) {
		vs := q.v[k]
		switch {
		case !allowed[k]:
			q.fail(k, "unknown query parameter")
		case len(vs) > 1:
			q.fail(k, "give it once")
		}
	}
	return q
}

func (q *listQuery) fail(field, reason string) {
	if q.err == nil {
		q.err = &lethe.FieldError{Field: field, Reason: reason}
	}
}

func (q *listQuery) str(name string) string { return q.v.Get(name) }

// limit parses ?limit=; the engine checks its range.
func (q *listQuery) limit() int {
	s := q.v.Get("limit")
	if s == "" {
		return 0
	}
	n, err := strconv.Atoi(s)
	if err != nil || n < 1 || n > engine.MaxPageLimit {
		q.fail("limit", fmt.Sprintf("want an integer from 1 to %d", engine.MaxPageLimit))
	}
	return n
}

// time parses an RFC 3339 bound; zero when absent.
func (q *listQuery) time(name string) time.Time {
	s := q.v.Get(name)
	if s == "" {
		return time.Time{}
	}
	t, err := time.Parse(time.RFC3339Nano, s)
	if err != nil {
		q.fail(name, fmt.Sprintf("want an RFC 3339 timestamp like 2026-01-02T15:04:05Z, got %q", s))
	}
	return t
}

// writePage answers one page: items under name, and next unless last.
func writePage(w http.ResponseWriter, name string, items any, next string) {
	body := map[string]any{name: items}
	if next != "" {
		body["next"] = next
	}
	writeJSON(w, http.StatusOK, body)
}

// listTenants pages through every tenant (admin).
func (s *Server) listTenants(w http.ResponseWriter, r *http.Request, _ engine.Principal) error {
	q := newListQuery(r)
	limit := q.limit()
	if q.err != nil {
		return q.err
	}
	page, err := s.eng.ListTenants(r.Context(), limit, q.str("next"))
	if err != nil {
		return err
	}
	out := make([]tenantJSON, len(page.Items))
	for i, t := range page.Items {
		out[i] = toTenantJSON(t)
	}
	writePage(w, "tenants", out, page.Next)
	return nil
}

// listRecords pages through a collection in id order, records as GET
// returns them (PII decrypted; each page is one audited read).
func (s *Server) listRecords(w http.ResponseWriter, r *http.Request, _ engine.Principal) error {
	q := newListQuery(r, "origin", "state", "created_from", "created_to", "updated_from", "updated_to")
	f := engine.RecordFilter{
		Origin:      q.str("origin"),
		State:       lethe.State(q.str("state")),
		CreatedFrom: q.time("created_from"),
		CreatedTo:   q.time("created_to"),
		UpdatedFrom: q.time("updated_from"),
		UpdatedTo:   q.time("updated_to"),
		Limit:       q.limit(),
		Next:        q.str("next"),
	}
	if q.err != nil {
		return q.err
	}
	page, err := s.eng.ListRecords(r.Context(), r.PathValue("tenant"), r.PathValue("collection"), f)
	if err != nil {
		return err
	}
	out := make([]recordJSON, len(page.Items))
	for i, d := range page.Items {
		out[i] = toRecordJSON(d)
	}
	writePage(w, "records", out, page.Next)
	return nil
}

// listRequests pages through a tenant's request jobs in submission order.
func (s *Server) listRequests(w http.ResponseWriter, r *http.Request, _ engine.Principal) error {
	q := newListQuery(r, "state", "type")
	f := engine.RequestFilter{
		State: lethe.RequestState(q.str("state")),
		Type:  lethe.RequestType(q.str("type")),
		Limit: q.limit(),
		Next:  q.str("next"),
	}
	if q.err != nil {
		return q.err
	}
	page, err := s.eng.ListRequests(r.Context(), r.PathValue("tenant"), f)
	if err != nil {
		return err
	}
	now := s.eng.Now()
	out := make([]requestJSON, len(page.Items))
	for i, j := range page.Items {
		out[i] = toRequestJSON(j, now)
	}
	writePage(w, "requests", out, page.Next)
	return nil
}
