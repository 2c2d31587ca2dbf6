package console

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"strings"
	"time"

	"github.com/lethe-privacy/lethe"
	"github.com/lethe-privacy/lethe/engine"
)

// previewWait bounds how long the subject page waits for a dry run to
// finish before it shows the run's progress instead of its counts.
const previewWait = 10 * time.Second

// requestTypes are the requests a console user may start for a subject,
// in the order the form offers them.
var requestTypes = []lethe.RequestType{lethe.RequestExport, lethe.RequestErase, lethe.RequestAnonymize, lethe.RequestExportThenAnonymize}

// subjectPage is the subject page's data. The identifier is only ever
// posted, never put in a URL, so it stays out of access logs and history.
type subjectPage struct {
	Tenant  string
	Kinds   []string
	Kind    string
	Value   string
	Type    lethe.RequestType
	Types   []lethe.RequestType
	Found   []*engine.Doc
	Looked  bool
	Preview *requestView
	Error   string
	CanRun  bool
}

func (h *Handler) subjects(w http.ResponseWriter, r *http.Request, v *viewer) {
	tenant, err := h.tenantFor(r, v)
	if err != nil {
		h.fail(w, r, err)
		return
	}
	kinds, err := h.eng.SubjectKinds(r.Context(), tenant)
	if err != nil {
		h.fail(w, r, err)
		return
	}
	p := &subjectPage{Tenant: tenant, Kinds: kinds, Types: requestTypes, CanRun: v.canWrite(), Type: lethe.RequestExport}
	if r.Method != http.MethodPost {
		h.render(w, r, http.StatusOK, "subjects", v, p)
		return
	}
	p.Kind, p.Value = r.PostFormValue("kind"), strings.TrimSpace(r.PostFormValue("value"))
	if t := lethe.RequestType(r.PostFormValue("type")); t != "" {
		p.Type = t
	}
	ids := map[string]string{p.Kind: p.Value}
	status := http.StatusOK
	op := r.PostFormValue("op")
	if (op == "preview" || op == "run") && !v.canWrite() {
		h.render(w, r, http.StatusForbidden, "error", v, map[string]any{"Message": h.tr(r, "Your role (%s) may not start requests.", word(language(r.Context()), v.User.Role))})
		return
	}
	switch op {
	case "run":
		// Only what was previewed runs: the type or person changed after
		// the dry run needs a dry run of its own first.
		if r.PostFormValue("previewed") != p.previewKey() {
			p.Error = fmt.Sprintf("%s: %s", lethe.ErrInvalid, h.tr(r, "preview this request (dry run) before running it"))
			status = http.StatusBadRequest
			break
		}
		job, _, err := h.eng.SubmitRequest(r.Context(), "console:"+v.User.Name, tenant, engine.RequestInput{Type: p.Type, Subject: ids})
		if err == nil {
			http.Redirect(w, r, fmt.Sprintf("%st/%s/requests/%s", Prefix, tenant, job.ID), http.StatusSeeOther)
			return
		}
		status, p.Error = statusOf(err), err.Error()
	case "preview":
		job, _, err := h.eng.SubmitRequest(r.Context(), "console:"+v.User.Name, tenant, engine.RequestInput{Type: p.Type, Subject: ids, DryRun: true})
		if err == nil {
			job, err = h.waitRequest(r.Context(), tenant, job.ID)
		}
		if err != nil {
			status, p.Error = statusOf(err), err.Error()
			break
		}
		p.Preview = h.viewRequest(r.Context(), job)
	}
	if p.Error == "" {
		// The lookup is a read of the records found: the engine logs it.
		p.Found, err = h.eng.FindSubject(r.Context(), tenant, ids)
		if err != nil {
			status, p.Error = statusOf(err), err.Error()
		}
		p.Looked = err == nil
	}
	if status == http.StatusInternalServerError {
		h.fail(w, r, errors.New(p.Error))
		return
	}
	h.render(w, r, status, "subjects", v, p)
}

// previewKey names what a dry run was made for; the run button carries it.
func (p *subjectPage) previewKey() string {
	return string(p.Type) + "|" + p.Kind + "|" + p.Value
}

// PreviewKey is previewKey for the template.
func (p *subjectPage) PreviewKey() string { return p.previewKey() }

// waitRequest polls a job until it is no longer active or previewWait
// has passed; the runner works on it meanwhile.
func (h *Handler) waitRequest(ctx context.Context, tenant, id string) (*lethe.Request, error) {
	deadline := time.Now().Add(previewWait)
	for {
		job, err := h.eng.Request(ctx, tenant, id)
		if err != nil || !job.Active() || time.Now().After(deadline) {
			return job, err
		}
		select {
		case <-ctx.Done():
			return nil, ctx.Err()
		case <-time.After(50 * time.Millisecond):
		}
	}
}
