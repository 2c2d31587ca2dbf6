package httpapi

import (
	"fmt"
	"net/http"
	"strings"
	"time"

	"github.com/lethe-privacy/lethe"
	"github.com/lethe-privacy/lethe/engine"
)

// findSubject answers everything held about one subject:
// GET /v1/tenants/{t}/subjects?email=...&phone=... (any identifier kind the
// tenant's collections index).
func (s *Server) findSubject(w http.ResponseWriter, r *http.Request, _ engine.Principal) error {
	ids := map[string]string{}
	for k, vs := range r.URL.Query() {
		if len(vs) != 1 {
			return &lethe.FieldError{Field: k, Reason: "give each identifier once"}
		}
		ids[k] = vs[0]
	}
	return s.answerSubject(w, r, ids)
}

// searchSubject is findSubject with the identifiers in the body, so that
// no personal data travels in a URL (ASVS 14.2.1): proxies and access
// logs keep URLs, and Lethe cannot vouch for those in front of it.
func (s *Server) searchSubject(w http.ResponseWriter, r *http.Request, _ engine.Principal) error {
	var body struct {
		Identifiers map[string]string `json:"identifiers"`
	}
	if err := decode(r, &body); err != nil {
		return err
	}
	return s.answerSubject(w, r, body.Identifiers)
}

// answerSubject looks the identifiers up and writes the records found.
func (s *Server) answerSubject(w http.ResponseWriter, r *http.Request, ids map[string]string) error {
	docs, err := s.eng.FindSubject(r.Context(), r.PathValue("tenant"), ids)
	if err != nil {
		return err
	}
	out := make([]recordJSON, len(docs))
	for i, d := range docs {
		out[i] = toRecordJSON(d)
	}
	writeJSON(w, http.StatusOK, map[string]any{"records": out, "count": len(out)})
	return nil
}

// parseUntil reads a point in time: RFC 3339, or a duration from now
// ("30d").
func parseUntil(v string, now time.Time) (time.Time, error) {
	if v == "" {
		return now, nil
	}
	if t, err := time.Parse(time.RFC3339Nano, v); err == nil {
		return t.UTC(), nil
	}
	d, err := lethe.ParseDuration(v)
	if err != nil {
		return time.Time{}, &lethe.FieldError{Field: "until", Reason: "want an RFC 3339 time or a duration from now such as 30d"}
	}
	return d.After(now), nil
}

// plan is the sweeper's dry run: what will be deleted or anonymized up to
// ?until=, per collection and day.
func (s *Server) plan(w http.ResponseWriter, r *http.Request, _ engine.Principal) error {
	until, err := parseUntil(r.URL.Query().Get("until"), s.eng.Now())
	if err != nil {
		return err
	}
	buckets, err := s.eng.PlanSummary(r.Context(), r.PathValue("tenant"), until)
	if err != nil {
		return err
	}
	type bucket struct {
		Collection string       `json:"collection"`
		Action     lethe.Action `json:"action"`
		Day        string       `json:"day"`
		Count      int64        `json:"count"`
	}
	out := make([]bucket, len(buckets))
	var total int64
	for i, b := range buckets {
		out[i] = bucket(b)
		total += b.Count
	}
	writeJSON(w, http.StatusOK, map[string]any{"until": until, "total": total, "buckets": out})
	return nil
}

// stats counts a collection's records by a plain field, optionally per
// day: ?group_by=intent&per=day.
func (s *Server) stats(w http.ResponseWriter, r *http.Request, _ engine.Principal) error {
	q := r.URL.Query()
	per := q.Get("per")
	if per != "" && per != "day" {
		return &lethe.FieldError{Field: "per", Reason: fmt.Sprintf("want \"day\" or nothing, got %q", per)}
	}
	rows, err := s.eng.Stats(r.Context(), r.PathValue("tenant"), r.PathValue("collection"), strings.TrimSpace(q.Get("group_by")), per == "day")
	if err != nil {
		return err
	}
	type row struct {
		Value any    `json:"value"`
		Day   string `json:"day,omitempty"`
		Count int64  `json:"count"`
	}
	out := make([]row, len(rows))
	for i, x := range rows {
		out[i] = row(x)
	}
	writeJSON(w, http.StatusOK, map[string]any{"collection": r.PathValue("collection"), "group_by": q.Get("group_by"), "per": per, "rows": out})
	return nil
}

type sweepCountJSON struct {
	Tenant     string       `json:"tenant"`
	Collection string       `json:"collection"`
	Action     lethe.Action `json:"action"`
	Count      int64        `json:"count"`
}

// residualJSON is one row of a sweep's residual scan.
type residualJSON struct {
	Tenant     string `json:"tenant"`
	Collection string `json:"collection"`
	Type       string `json:"type"`
	Count      int64  `json:"count"`
}

// SweepJSON is a sweep's result as the API and the CLI print it.
type SweepJSON struct {
	Started    time.Time        `json:"started"`
	Finished   time.Time        `json:"finished"`
	Batches    int              `json:"batches"`
	Deleted    int64            `json:"deleted"`
	Anonymized int64            `json:"anonymized"`
	Replanned  int64            `json:"replanned"`
	Counts     []sweepCountJSON `json:"counts"`
	// ResidualPII counts the personal data found in text anonymization
	// kept, by tenant, collection and type; left out when none.
	ResidualPII []residualJSON `json:"residual_pii,omitempty"`
	// Busy: another instance on the same database is sweeping; this sweep
	// did nothing.
	Busy bool `json:"busy,omitempty"`
}

// ToSweepJSON converts a sweep result.
func ToSweepJSON(res *engine.SweepResult) SweepJSON {
	out := SweepJSON{Started: res.Started, Finished: res.Finished, Batches: res.Batches, Deleted: res.Deleted,
		Anonymized: res.Anonymized, Replanned: res.Replanned, Counts: make([]sweepCountJSON, len(res.Counts)), Busy: res.Busy}
	for i, c := range res.Counts {
		out.Counts[i] = sweepCountJSON(c)
	}
	for _, rc := range res.Residual {
		out.ResidualPII = append(out.ResidualPII, residualJSON{Tenant: rc.Tenant, Collection: rc.Collection, Type: string(rc.Type), Count: rc.Count})
	}
	return out
}

// sweep runs a sweep now and answers when it is done.
func (s *Server) sweep(w http.ResponseWriter, r *http.Request, _ engine.Principal) error {
	restore := s.liftWriteDeadline(w)
	res, err := s.eng.Sweep(r.Context())
	restore()
	s.metrics.ObserveSweep(res, err)
	if err != nil {
		return err
	}
	writeJSON(w, http.StatusOK, ToSweepJSON(res))
	return nil
}
