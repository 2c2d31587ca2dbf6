package httpapi

import (
	"net/http"
	"time"

	"github.com/lethe-privacy/lethe"
	"github.com/lethe-privacy/lethe/engine"
	"github.com/lethe-privacy/lethe/retention"
)

type settingsJSON struct {
	Enabled      bool                      `json:"enabled"`
	Periods      map[string]lethe.Duration `json:"periods"`
	Placeholder  string                    `json:"placeholder"`
	DropMetadata []string                  `json:"drop_metadata"`
	UpdatedAt    *time.Time                `json:"updated_at,omitempty"`
	Replan       *replanJSON               `json:"replan,omitempty"`
}

type replanJSON struct {
	Running  bool       `json:"running"`
	Scanned  int64      `json:"scanned"`
	Changed  int64      `json:"changed"`
	Started  time.Time  `json:"started"`
	Finished *time.Time `json:"finished,omitempty"`
	Error    string     `json:"error,omitempty"`
}

// getSettings answers the effective settings: the tenant's choices where
// made, the policy's defaults elsewhere, and the progress of re-planning.
func (s *Server) getSettings(w http.ResponseWriter, r *http.Request, _ engine.Principal) error {
	tenant, coll := r.PathValue("tenant"), r.PathValue("collection")
	c, err := s.eng.Collection(r.Context(), tenant, coll)
	if err != nil {
		return err
	}
	st, err := s.eng.Settings(r.Context(), tenant, coll)
	if err != nil {
		return err
	}
	out := settingsJSON{Enabled: retention.Enabled(c, st), Periods: map[string]lethe.Duration{}, Placeholder: st.Placeholder, DropMetadata: st.DropMetadata}
	if out.DropMetadata == nil {
		out.DropMetadata = []string{}
	}
	for _, ru := range c.Rules {
		out.Periods[ru.Name] = retention.Period(ru, st)
	}
	if !st.UpdatedAt.IsZero() {
		out.UpdatedAt = &st.UpdatedAt
	}
	if rs := s.eng.ReplanStatus(tenant, coll); !rs.Started.IsZero() {
		rj := &replanJSON{Running: rs.Running, Scanned: rs.Scanned, Changed: rs.Changed, Started: rs.Started, Error: rs.Err}
		if !rs.Finished.IsZero() {
			rj.Finished = &rs.Finished
		}
		out.Replan = rj
	}
	writeJSON(w, http.StatusOK, out)
	return nil
}

// putSettings replaces the tenant's settings of a collection. Periods are
// checked against the rule's options and maximum (422 naming the allowed
// options); the change is audited and re-plans the collection's records.
func (s *Server) putSettings(w http.ResponseWriter, r *http.Request, p engine.Principal) error {
	tenant, coll := r.PathValue("tenant"), r.PathValue("collection")
	var body struct {
		Enabled      *bool             `json:"enabled"`
		Periods      map[string]string `json:"periods"`
		Placeholder  string            `json:"placeholder"`
		DropMetadata []string          `json:"drop_metadata"`
	}
	if err := decode(r, &body); err != nil {
		return err
	}
	st := &lethe.Settings{Enabled: body.Enabled, Placeholder: body.Placeholder, DropMetadata: body.DropMetadata}
	for name, v := range body.Periods {
		d, err := lethe.ParseDuration(v)
		if err != nil {
			return &lethe.FieldError{Field: "periods." + name, Reason: err.Error()}
		}
		if st.Periods == nil {
			st.Periods = map[string]lethe.Duration{}
		}
		st.Periods[name] = d
	}
	if _, err := s.eng.PutSettings(r.Context(), p.Name, tenant, coll, st); err != nil {
		return err
	}
	return s.getSettings(w, r, p)
}
