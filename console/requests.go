package console

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"sort"

	"github.com/lethe-privacy/lethe"
	"github.com/lethe-privacy/lethe/engine"
)

// countRow is one line of a request's tally.
type countRow struct {
	Collection, Action string
	N                  int64
}

// requestView is a request as the pages show it: state, progress, the
// tally, and the receipt with the result of checking its signature.
type requestView struct {
	Job       *lethe.Request
	Counts    []countRow
	Receipt   string // indented JSON
	Verified  bool
	VerifyErr string
	Warnings  []string
	Export    bool // a finished export that can be downloaded
}

func (h *Handler) viewRequest(ctx context.Context, job *lethe.Request) *requestView {
	rv := &requestView{Job: job}
	var res struct {
		Counts map[string]map[string]int64 `json:"counts"`
	}
	if len(job.Result) > 0 {
		_ = json.Unmarshal(job.Result, &res) // a tally that does not parse shows as none
	}
	if len(job.Receipt) > 0 {
		var buf bytes.Buffer
		if json.Indent(&buf, job.Receipt, "", "  ") == nil {
			rv.Receipt = buf.String()
		}
		rc, err := h.eng.VerifyReceipt(ctx, job.Receipt)
		switch {
		case err != nil:
			rv.VerifyErr = err.Error()
		case rc.Tenant != job.Tenant || rc.RequestID != job.ID:
			rv.VerifyErr = "the receipt belongs to another request"
		default:
			rv.Verified = true
			res.Counts = rc.Counts
			rv.Warnings = rc.Warnings
		}
	}
	for coll, byAction := range res.Counts {
		for a, n := range byAction {
			rv.Counts = append(rv.Counts, countRow{Collection: coll, Action: a, N: n})
		}
	}
	sort.Slice(rv.Counts, func(i, j int) bool {
		if rv.Counts[i].Collection != rv.Counts[j].Collection {
			return rv.Counts[i].Collection < rv.Counts[j].Collection
		}
		return rv.Counts[i].Action < rv.Counts[j].Action
	})
	rv.Export = !job.DryRun && job.State == lethe.RequestDone && job.ExportChunks > 0 &&
		(job.Type == lethe.RequestExport || job.Type == lethe.RequestExportThenAnonymize)
	return rv
}

func (h *Handler) requests(w http.ResponseWriter, r *http.Request, v *viewer) {
	tenant, err := h.tenantFor(r, v)
	if err != nil {
		h.fail(w, r, err)
		return
	}
	p, err := h.eng.ListRequests(r.Context(), tenant, engine.RequestFilter{State: lethe.RequestState(r.URL.Query().Get("state")),
		Limit: 50, Next: r.URL.Query().Get("next")})
	if err != nil {
		h.fail(w, r, err)
		return
	}
	h.render(w, r, http.StatusOK, "requests", v, map[string]any{"Tenant": tenant, "Items": p.Items, "Next": p.Next, "State": r.URL.Query().Get("state"),
		"States": []lethe.RequestState{lethe.RequestPending, lethe.RequestRunning, lethe.RequestDone, lethe.RequestFailed}})
}

func (h *Handler) request(w http.ResponseWriter, r *http.Request, v *viewer) {
	tenant, err := h.tenantFor(r, v)
	if err != nil {
		h.fail(w, r, err)
		return
	}
	job, err := h.eng.Request(r.Context(), tenant, r.PathValue("id"))
	if err != nil {
		h.fail(w, r, err)
		return
	}
	h.render(w, r, http.StatusOK, "request", v, map[string]any{"Tenant": tenant, "R": h.viewRequest(r.Context(), job), "CanDownload": v.canWrite()})
}

// download streams a finished export. The engine writes the download to
// the security log before the first byte (fail closed).
func (h *Handler) download(w http.ResponseWriter, r *http.Request, v *viewer) {
	tenant, err := h.tenantFor(r, v)
	if err != nil {
		h.fail(w, r, err)
		return
	}
	x, err := h.eng.OpenExport(r.Context(), "console:"+v.User.Name, tenant, r.PathValue("id"), r.URL.Query().Get("format"))
	if err != nil {
		h.fail(w, r, err)
		return
	}
	w.Header().Set("Content-Type", x.ContentType)
	w.Header().Set("Content-Disposition", fmt.Sprintf("attachment; filename=%q", x.Filename))
	if err := x.WriteTo(r.Context(), w); err != nil {
		h.log.Error("console: export download", "tenant", tenant, "err", err)
	}
}
