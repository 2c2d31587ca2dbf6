package httpapi

import (
	"bytes"
	"encoding/json"
	"errors"
	"net/http"
	"sort"
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

// patchSettings merges a partial change: only the keys given change,
// "periods" merges per rule, and a null puts a key (or one rule's period)
// back to the policy's default. The merged settings are checked as a
// whole, like a PUT, and every problem is answered at once.
func (s *Server) patchSettings(w http.ResponseWriter, r *http.Request, p engine.Principal) error {
	tenant, coll := r.PathValue("tenant"), r.PathValue("collection")
	var body struct {
		Enabled      json.RawMessage `json:"enabled"`
		Periods      json.RawMessage `json:"periods"`
		Placeholder  json.RawMessage `json:"placeholder"`
		DropMetadata json.RawMessage `json:"drop_metadata"`
	}
	if err := decode(r, &body); err != nil {
		return err
	}
	patch, err := settingsPatch(body.Enabled, body.Periods, body.Placeholder, body.DropMetadata)
	if err != nil {
		return err
	}
	if _, err := s.eng.PatchSettings(r.Context(), p.Name, tenant, coll, patch); err != nil {
		return err
	}
	return s.getSettings(w, r, p)
}

// settingsPatch reads the parts of a settings PATCH. A nil part is absent;
// the JSON null resets it. Every malformed part is reported.
func settingsPatch(enabled, periods, placeholder, dropMetadata json.RawMessage) (*lethe.SettingsPatch, error) {
	var (
		pt   lethe.SettingsPatch
		errs []error
	)
	if enabled != nil {
		pt.SetEnabled = true
		if !isNull(enabled) {
			var v bool
			if json.Unmarshal(enabled, &v) != nil {
				errs = append(errs, &lethe.FieldError{Field: "enabled", Reason: "want true, false or null"})
			}
			pt.Enabled = &v
		}
	}
	if periods != nil {
		var m map[string]*string
		switch {
		case isNull(periods):
			pt.ResetPeriods = true
		case json.Unmarshal(periods, &m) != nil:
			errs = append(errs, &lethe.FieldError{Field: "periods", Reason: `want an object of rule names to periods such as "30d" (or null), or null`})
		default:
			names := make([]string, 0, len(m))
			for name := range m {
				names = append(names, name)
			}
			sort.Strings(names)
			pt.Periods = make(map[string]*lethe.Duration, len(m))
			for _, name := range names {
				if m[name] == nil {
					pt.Periods[name] = nil
					continue
				}
				d, err := lethe.ParseDuration(*m[name])
				if err != nil {
					errs = append(errs, &lethe.FieldError{Field: "periods." + name, Reason: err.Error()})
					continue
				}
				pt.Periods[name] = &d
			}
		}
	}
	if placeholder != nil {
		pt.SetPlaceholder = true
		if !isNull(placeholder) {
			var v string
			if json.Unmarshal(placeholder, &v) != nil {
				errs = append(errs, &lethe.FieldError{Field: "placeholder", Reason: "want a string or null"})
			}
			pt.Placeholder = &v
		}
	}
	if dropMetadata != nil {
		pt.SetDropMetadata = true
		if !isNull(dropMetadata) && json.Unmarshal(dropMetadata, &pt.DropMetadata) != nil {
			errs = append(errs, &lethe.FieldError{Field: "drop_metadata", Reason: "want a list of metadata keys, or null"})
		}
	}
	if len(errs) > 0 {
		return nil, errors.Join(errs...)
	}
	return &pt, nil
}

func isNull(m json.RawMessage) bool { return bytes.Equal(bytes.TrimSpace(m), []byte("null")) }
