package httpapi

import (
	"encoding/json"
	"fmt"
	"net/http"
	"strconv"
	"time"

	"github.com/lethe-privacy/lethe"
	"github.com/lethe-privacy/lethe/engine"
)

// requestRoutes are the data-subject and data-origin request routes.
func requestRoutes() []route {
	return []route{
		{"POST", "/v1/tenants/{tenant}/requests", requests, (*Server).createRequest},
		{"GET", "/v1/tenants/{tenant}/requests/{id}", requests, (*Server).getRequest},
		{"GET", "/v1/tenants/{tenant}/requests/{id}/items", requests, (*Server).requestItems},
		{"GET", "/v1/tenants/{tenant}/requests/{id}/receipt", requests, (*Server).requestReceipt},
		{"GET", "/v1/tenants/{tenant}/requests/{id}/export", requests, (*Server).requestExport},
		{"GET", "/v1/tenants/{tenant}/origins", requests, (*Server).origins},
	}
}

// requestIn is a request as a client sends it. The scope is one of
// "subject" (identifier kind → value), "origin", or "scope": "tenant".
type requestIn struct {
	Type    lethe.RequestType `json:"type"`
	Subject map[string]string `json:"subject"`
	Origin  string            `json:"origin"`
	Scope   string            `json:"scope"`
	DryRun  bool              `json:"dry_run"`
}

type requestJSON struct {
	ID         string                      `json:"id"`
	Tenant     string                      `json:"tenant"`
	Type       lethe.RequestType           `json:"type"`
	Scope      lethe.RequestScope          `json:"scope"`
	DryRun     bool                        `json:"dry_run"`
	State      lethe.RequestState          `json:"state"`
	Phase      string                      `json:"phase,omitempty"`
	Progress   progressJSON                `json:"progress"`
	Counts     map[string]map[string]int64 `json:"counts"`
	Error      string                      `json:"error,omitempty"`
	Export     *exportJSON                 `json:"export,omitempty"`
	Receipt    json.RawMessage             `json:"receipt,omitempty"`
	CreatedAt  time.Time                   `json:"created_at"`
	UpdatedAt  time.Time                   `json:"updated_at"`
	FinishedAt *time.Time                  `json:"finished_at,omitempty"`
}

type progressJSON struct {
	Processed int64 `json:"processed"`
	Total     int64 `json:"total"`
}

type exportJSON struct {
	Available bool      `json:"available"`
	ExpiresAt time.Time `json:"expires_at"`
	URL       string    `json:"url"`
}

func toRequestJSON(j *lethe.Request, now time.Time) requestJSON {
	out := requestJSON{ID: j.ID, Tenant: j.Tenant, Type: j.Type, Scope: j.Scope, DryRun: j.DryRun, State: j.State, Phase: j.Phase,
		Progress: progressJSON{j.Processed, j.Total}, Counts: engine.RequestCounts(j), Error: j.Error,
		CreatedAt: j.CreatedAt, UpdatedAt: j.UpdatedAt}
	if len(j.Receipt) > 0 {
		out.Receipt = j.Receipt
	}
	if !j.FinishedAt.IsZero() {
		f := j.FinishedAt
		out.FinishedAt = &f
	}
	if !j.ExportExpiresAt.IsZero() {
		out.Export = &exportJSON{
			Available: j.ExportChunks > 0 && j.ExportExpiresAt.After(now) && (j.State == lethe.RequestDone || j.Phase == "apply"),
			ExpiresAt: j.ExportExpiresAt,
			URL:       "/v1/tenants/" + j.Tenant + "/requests/" + j.ID + "/export?format=zip",
		}
	}
	return out
}

// createRequest answers 201 with a new job, or 200 with the identical job
// still pending or running.
func (s *Server) createRequest(w http.ResponseWriter, r *http.Request, p engine.Principal) error {
	var in requestIn
	if err := decode(r, &in); err != nil {
		return err
	}
	ri := engine.RequestInput{Type: in.Type, Subject: in.Subject, Origin: in.Origin, DryRun: in.DryRun}
	switch in.Scope {
	case "":
	case "tenant":
		ri.Tenant = true
	default:
		return &lethe.FieldError{Field: "scope", Reason: `the only named scope is "tenant"; give "subject" or "origin" otherwise`}
	}
	tenant := r.PathValue("tenant")
	job, created, err := s.eng.SubmitRequest(r.Context(), p.Name, tenant, ri)
	if err != nil {
		return err
	}
	status := http.StatusOK
	if created {
		status = http.StatusCreated
		w.Header().Set("Location", "/v1/tenants/"+tenant+"/requests/"+job.ID)
	}
	writeJSON(w, status, toRequestJSON(job, s.eng.Now()))
	return nil
}

func (s *Server) getRequest(w http.ResponseWriter, r *http.Request, _ engine.Principal) error {
	job, err := s.eng.Request(r.Context(), r.PathValue("tenant"), r.PathValue("id"))
	if err != nil {
		return err
	}
	writeJSON(w, http.StatusOK, toRequestJSON(job, s.eng.Now()))
	return nil
}

type itemJSON struct {
	Seq        int64        `json:"seq"`
	Collection string       `json:"collection"`
	ID         string       `json:"id"`
	Action     lethe.Action `json:"action"`
	Fields     []string     `json:"fields,omitempty"`
	Reason     string       `json:"reason,omitempty"`
	Until      *time.Time   `json:"until,omitempty"`
}

// requestItems lists what a job did, or in a dry run would do, per record:
// ?action=hold lists the held records, ?after=SEQ pages on.
func (s *Server) requestItems(w http.ResponseWriter, r *http.Request, _ engine.Principal) error {
	q := r.URL.Query()
	var after int64
	if v := q.Get("after"); v != "" {
		n, err := strconv.ParseInt(v, 10, 64)
		if err != nil || n < 0 {
			return &lethe.FieldError{Field: "after", Reason: "want a non-negative integer (the last seq seen)"}
		}
		after = n
	}
	limit := 1000
	if v := q.Get("limit"); v != "" {
		n, err := strconv.Atoi(v)
		if err != nil || n < 1 || n > 10000 {
			return &lethe.FieldError{Field: "limit", Reason: "want an integer from 1 to 10000"}
		}
		limit = n
	}
	action := lethe.Action(q.Get("action"))
	switch action {
	case "", lethe.ActionDelete, lethe.ActionAnonymize, lethe.ActionHold, lethe.ActionRedact:
	default:
		return &lethe.FieldError{Field: "action", Reason: "want delete, anonymize, hold or redact"}
	}
	items, err := s.eng.RequestItems(r.Context(), r.PathValue("tenant"), r.PathValue("id"), action, after, limit)
	if err != nil {
		return err
	}
	out := make([]itemJSON, len(items))
	for i, it := range items {
		out[i] = itemJSON{Seq: it.Seq, Collection: it.Collection, ID: it.RecordID, Action: it.Action, Fields: it.Fields, Reason: it.Reason}
		if !it.Until.IsZero() {
			u := it.Until
			out[i].Until = &u
		}
	}
	writeJSON(w, http.StatusOK, map[string]any{"items": out, "count": len(out)})
	return nil
}

// requestReceipt answers the signed receipt as a file, to be kept and
// checked later with "lethe request verify".
func (s *Server) requestReceipt(w http.ResponseWriter, r *http.Request, _ engine.Principal) error {
	job, err := s.eng.Request(r.Context(), r.PathValue("tenant"), r.PathValue("id"))
	if err != nil {
		return err
	}
	if len(job.Receipt) == 0 {
		return fmt.Errorf("request %s is %s: %w: a receipt exists once it is done", job.ID, job.State, lethe.ErrNotFound)
	}
	w.Header().Set("Content-Type", "application/json")
	w.Header().Set("Cache-Control", "no-store")
	w.Header().Set("Content-Disposition", `attachment; filename="receipt-`+job.ID+`.json"`)
	w.Write(job.Receipt)
	return nil
}

// requestExport streams an export (?format=json|zip); the download is
// recorded in the tenant's security log first.
func (s *Server) requestExport(w http.ResponseWriter, r *http.Request, p engine.Principal) error {
	x, err := s.eng.OpenExport(r.Context(), p.Name, r.PathValue("tenant"), r.PathValue("id"), r.URL.Query().Get("format"))
	if err != nil {
		return err
	}
	w.Header().Set("Content-Type", x.ContentType)
	w.Header().Set("Cache-Control", "no-store")
	w.Header().Set("Content-Disposition", `attachment; filename="`+x.Filename+`"`)
	if err := x.WriteTo(r.Context(), s.streaming(w)); err != nil {
		// Headers are out: the truncated body is all a client can notice.
		s.log.Error("export download broke off", "request", r.PathValue("id"), "err", err)
	}
	return nil
}

type originJSON struct {
	Origin     string     `json:"origin"`
	Collection string     `json:"collection"`
	Rule       string     `json:"rule"`
	Reason     string     `json:"reason,omitempty"`
	Active     bool       `json:"active"`
	Since      *time.Time `json:"since,omitempty"`
	Records    int64      `json:"records"`
}

// origins reports which origin protection rules are active and since when
// (X1).
func (s *Server) origins(w http.ResponseWriter, r *http.Request, _ engine.Principal) error {
	rules, err := s.eng.Origins(r.Context(), r.PathValue("tenant"))
	if err != nil {
		return err
	}
	out := make([]originJSON, len(rules))
	for i, o := range rules {
		out[i] = originJSON{Origin: o.Origin, Collection: o.Collection, Rule: o.Rule, Reason: o.Reason, Active: o.Active, Records: o.Records}
		if o.Active {
			since := o.Since
			out[i].Since = &since
		}
	}
	writeJSON(w, http.StatusOK, map[string]any{"origins": out})
	return nil
}
