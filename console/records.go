package console

import (
	"fmt"
	"net/http"
	"net/url"
	"time"

	"github.com/lethe-privacy/lethe"
	"github.com/lethe-privacy/lethe/engine"
	"github.com/lethe-privacy/lethe/policy"
)

// recordsPageSize is how many records one page of the browser shows.
const recordsPageSize = 50

// records browses a collection: plain fields, the names of the sealed
// ones, state and plan. Nothing is decrypted here (engine.BrowseRecords),
// so browsing is no read of personal data.
func (h *Handler) records(w http.ResponseWriter, r *http.Request, v *viewer) {
	tenant, err := h.tenantFor(r, v)
	if err != nil {
		h.fail(w, r, err)
		return
	}
	cs, err := h.eng.Collections(r.Context(), tenant)
	if err != nil {
		h.fail(w, r, err)
		return
	}
	q := r.URL.Query()
	data := map[string]any{"Tenant": tenant, "Collections": cs, "Q": q}
	coll := q.Get("collection")
	if coll == "" && len(cs) > 0 {
		coll = cs[0].Name
	}
	data["Collection"] = coll
	f := engine.RecordFilter{Origin: q.Get("origin"), State: lethe.State(q.Get("state")), Limit: recordsPageSize, Next: q.Get("next")}
	if d := q.Get("from"); d != "" {
		if f.CreatedFrom, err = time.Parse(time.DateOnly, d); err != nil {
			h.fail(w, r, fmt.Errorf("%w: from: want a day as YYYY-MM-DD", lethe.ErrInvalid))
			return
		}
	}
	if d := q.Get("to"); d != "" {
		if f.CreatedTo, err = time.Parse(time.DateOnly, d); err != nil {
			h.fail(w, r, fmt.Errorf("%w: to: want a day as YYYY-MM-DD", lethe.ErrInvalid))
			return
		}
		f.CreatedTo = f.CreatedTo.Add(24 * time.Hour) // the whole day
	}
	p, err := h.eng.BrowseRecords(r.Context(), tenant, coll, f)
	if err != nil {
		h.fail(w, r, err)
		return
	}
	data["Items"] = p.Items
	if p.Next != "" {
		nq := url.Values{}
		for k, vs := range q {
			nq[k] = vs
		}
		nq.Set("collection", coll)
		nq.Set("next", p.Next)
		data["NextQuery"] = nq.Encode()
	}
	h.render(w, r, http.StatusOK, "records", v, data)
}

// fieldRow is one field of the record page: plain values always, PII
// values only after the explicit "show personal data" (a POST).
type fieldRow struct {
	Name, Description string
	PII               bool
	Present           bool
	Value             any
}

// record shows one record: plain fields, its plan and history. On POST
// (the button, with the CSRF token) it opens the PII through the engine's
// audited read, so that every view of decrypted data is a manager-log
// entry naming the console user (C4); a GET never decrypts.
func (h *Handler) record(w http.ResponseWriter, r *http.Request, v *viewer) {
	tenant, err := h.tenantFor(r, v)
	if err != nil {
		h.fail(w, r, err)
		return
	}
	c, err := h.eng.Collection(r.Context(), tenant, r.PathValue("collection"))
	if err != nil {
		h.fail(w, r, err)
		return
	}
	id := r.PathValue("id")
	reveal := r.Method == http.MethodPost
	var doc *engine.Doc
	var sealed map[string]bool
	if reveal {
		doc, err = h.eng.Get(r.Context(), lethe.RecordRef{Tenant: tenant, Collection: c.Name, ID: id})
	} else {
		var pd *engine.PlainDoc
		pd, err = h.eng.PlainRecord(r.Context(), lethe.RecordRef{Tenant: tenant, Collection: c.Name, ID: id})
		if pd != nil {
			doc = &pd.Doc
			sealed = map[string]bool{}
			for _, n := range pd.Sealed {
				sealed[n] = true
			}
		}
	}
	if err != nil {
		h.fail(w, r, err)
		return
	}
	rows := make([]fieldRow, 0, len(c.Fields))
	for _, f := range c.Fields {
		row := fieldRow{Name: f.Name, Description: f.Description, PII: isSealed(f)}
		val, ok := doc.Fields[f.Name]
		row.Present = ok || sealed[f.Name]
		if ok {
			row.Value = val
		}
		rows = append(rows, row)
	}
	// The history lists the reads of the record from the manager log,
	// this one included when the button was pressed.
	hist, err := h.eng.RecordHistory(r.Context(), lethe.RecordRef{Tenant: tenant, Collection: c.Name, ID: id}, doc.CreatedAt, historyShown)
	if err != nil {
		h.fail(w, r, err)
		return
	}
	h.render(w, r, http.StatusOK, "record", v, map[string]any{"Tenant": tenant, "C": c, "Doc": doc, "Fields": rows, "Revealed": reveal, "History": hist})
}

// historyShown is how many log entries the record page lists.
const historyShown = 20

// isSealed reports whether the engine seals the field (PII or a subject
// identifier that is not a personal plain field).
func isSealed(f *policy.Field) bool { return f.IsPII() }
