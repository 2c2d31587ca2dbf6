package httpapi

import (
	"fmt"
	"net/http"
	"time"

	"github.com/lethe-privacy/lethe"
	"github.com/lethe-privacy/lethe/engine"
)

type planJSON struct {
	Action lethe.Action `json:"action"`
	Rule   string       `json:"rule"`
	DueAt  time.Time    `json:"due_at"`
}

type recordJSON struct {
	ID         string         `json:"id"`
	Collection string         `json:"collection"`
	Origin     string         `json:"origin,omitempty"`
	CreatedAt  time.Time      `json:"created_at"`
	UpdatedAt  time.Time      `json:"updated_at"`
	State      lethe.State    `json:"state"`
	Fields     map[string]any `json:"fields"`
	// Redacted: the types found in each field redacted on write.
	Redacted map[string][]string `json:"redacted,omitempty"`
	Plan     *planJSON           `json:"plan,omitempty"`
}

func toRecordJSON(d *engine.Doc) recordJSON {
	rj := recordJSON{ID: d.ID, Collection: d.Collection, Origin: d.Origin, CreatedAt: d.CreatedAt, UpdatedAt: d.UpdatedAt, State: d.State, Fields: d.Fields, Redacted: d.Redacted}
	if rj.Fields == nil {
		rj.Fields = map[string]any{}
	}
	if d.Plan.Planned() {
		rj.Plan = &planJSON{Action: d.Plan.Action, Rule: d.Plan.Rule, DueAt: d.Plan.DueAt}
	}
	return rj
}

// recordIn is one record as a client sends it.
type recordIn struct {
	ID        string         `json:"id"`
	Origin    string         `json:"origin"`
	CreatedAt any            `json:"created_at"` // RFC 3339 in any form, or Unix seconds
	Fields    map[string]any `json:"fields"`
}

// toNew converts a record; prefix names it inside a batch ("records[3].").
func (ri recordIn) toNew(prefix string) (engine.NewRecord, error) {
	nr := engine.NewRecord{ID: ri.ID, Origin: ri.Origin, Fields: ri.Fields}
	if ri.CreatedAt != nil {
		t, err := engine.ParseTimestamp(ri.CreatedAt)
		if err != nil {
			return nr, &lethe.FieldError{Field: prefix + "created_at", Reason: err.Error()}
		}
		nr.CreatedAt = t
	}
	return nr, nil
}

// maxBatch bounds the records of one batch create.
const maxBatch = 10000

// createRecords takes one record, answered with the record, or
// {"records": [...]} for a batch that is stored all or nothing, answered
// with each record's id, state and plan (the records themselves with
// ?echo=true).
func (s *Server) createRecords(w http.ResponseWriter, r *http.Request, _ engine.Principal) error {
	// Announced before the body is read, so that a group commit about
	// to run waits for this create rather than leave it the next one.
	ctx, abandon := s.eng.AnnouncePut(r.Context())
	defer abandon()
	r = r.WithContext(ctx)
	tenant, coll := r.PathValue("tenant"), r.PathValue("collection")
	echo, err := echoParam(r)
	if err != nil {
		return err
	}
	var body struct {
		recordIn
		Records *[]recordIn `json:"records"`
	}
	if err := decode(r, &body); err != nil {
		return err
	}
	batch := body.Records != nil
	var in []engine.NewRecord
	if batch {
		if body.ID != "" || body.Origin != "" || body.CreatedAt != nil || body.Fields != nil {
			return &lethe.FieldError{Field: "records", Reason: "send either one record or {\"records\": [...]}, not both"}
		}
		if len(*body.Records) == 0 || len(*body.Records) > maxBatch {
			return &lethe.FieldError{Field: "records", Reason: fmt.Sprintf("want 1 to %d records", maxBatch)}
		}
		for i, ri := range *body.Records {
			nr, err := ri.toNew(fmt.Sprintf("records[%d].", i))
			if err != nil {
				return err
			}
			in = append(in, nr)
		}
	} else {
		nr, err := body.recordIn.toNew("")
		if err != nil {
			return err
		}
		in = []engine.NewRecord{nr}
	}
	// An answer kept for a retry (Idempotency-Key) lives for 24 hours,
	// beyond any erasure in between: it must hold no personal data.
	kept := r.Header.Get(idempotencyHeader) != ""
	if kept && echo {
		return &lethe.FieldError{Field: "echo", Reason: "echo=true cannot be combined with an Idempotency-Key: an answer kept for a retry holds no personal data"}
	}
	docs, err := s.eng.Put(r.Context(), tenant, coll, in)
	if err != nil {
		return err
	}
	if !batch {
		w.Header().Set("Location", fmt.Sprintf("/v1/tenants/%s/collections/%s/records/%s", tenant, coll, docs[0].ID))
		if kept {
			writeJSON(w, http.StatusCreated, toCreatedJSON(docs[0]))
			return nil
		}
		writeJSON(w, http.StatusCreated, toRecordJSON(docs[0]))
		return nil
	}
	if echo {
		out := make([]recordJSON, len(docs))
		for i, d := range docs {
			out[i] = toRecordJSON(d)
		}
		writeJSON(w, http.StatusCreated, map[string]any{"records": out})
		return nil
	}
	out := make([]createdJSON, len(docs))
	for i, d := range docs {
		out[i] = toCreatedJSON(d)
	}
	writeJSON(w, http.StatusCreated, map[string]any{"records": out})
	return nil
}

func toCreatedJSON(d *engine.Doc) createdJSON {
	out := createdJSON{ID: d.ID, State: d.State}
	if d.Plan.Planned() {
		out.Plan = &planJSON{Action: d.Plan.Action, Rule: d.Plan.Rule, DueAt: d.Plan.DueAt}
	}
	return out
}

// createdJSON is one record of a batch as the answer names it: its id,
// state and plan. The fields are not sent back: a batch of thousands
// would cross the wire again only to be thrown away, personal data
// included. ?echo=true sends the records.
type createdJSON struct {
	ID    string      `json:"id"`
	State lethe.State `json:"state"`
	Plan  *planJSON   `json:"plan,omitempty"`
}

// echoParam reads ?echo=true|false (default false).
func echoParam(r *http.Request) (bool, error) {
	switch v := r.URL.Query().Get("echo"); v {
	case "", "false":
		return false, nil
	case "true":
		return true, nil
	default:
		return false, &lethe.FieldError{Field: "echo", Reason: fmt.Sprintf("want true or false, got %q", v)}
	}
}

func refOf(r *http.Request) lethe.RecordRef {
	return lethe.RecordRef{Tenant: r.PathValue("tenant"), Collection: r.PathValue("collection"), ID: r.PathValue("id")}
}

func (s *Server) getRecord(w http.ResponseWriter, r *http.Request, _ engine.Principal) error {
	d, err := s.eng.Get(r.Context(), refOf(r))
	if err != nil {
		return err
	}
	writeJSON(w, http.StatusOK, toRecordJSON(d))
	return nil
}

// patchRecord merges {"fields": {...}} into the record; null removes a
// field. A changed basis (shipped_at, say) re-plans the record.
func (s *Server) patchRecord(w http.ResponseWriter, r *http.Request, _ engine.Principal) error {
	var body struct {
		Fields map[string]any `json:"fields"`
	}
	if err := decode(r, &body); err != nil {
		return err
	}
	if body.Fields == nil {
		return &lethe.FieldError{Field: "fields", Reason: "send {\"fields\": {...}} with the fields to change"}
	}
	d, err := s.eng.Patch(r.Context(), refOf(r), body.Fields)
	if err != nil {
		return err
	}
	writeJSON(w, http.StatusOK, toRecordJSON(d))
	return nil
}

func (s *Server) deleteRecord(w http.ResponseWriter, r *http.Request, p engine.Principal) error {
	if err := s.eng.Delete(r.Context(), p.Name, refOf(r)); err != nil {
		return err
	}
	w.WriteHeader(http.StatusNoContent)
	return nil
}
