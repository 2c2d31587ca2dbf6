package console

import (
	"fmt"
	"net/http"
	"strings"

	"github.com/lethe-privacy/lethe"
	"github.com/lethe-privacy/lethe/engine"
	"github.com/lethe-privacy/lethe/policy"
	"github.com/lethe-privacy/lethe/retention"
)

// ruleRow is one retention rule on the settings form: its period is a
// choice among the allowed ones, never a free field.
type ruleRow struct {
	Name, Action, Basis, Reason string
	Default                     string
	Options                     []string
	Chosen                      string // "" for the default
	Condition                   string
}

// settingsForm is what the settings page shows of a collection.
type settingsForm struct {
	Tenant       string
	C            *policy.Collection
	Switchable   bool
	Enabled      string // "", "on", "off"
	Rules        []ruleRow
	Placeholder  bool // the collection uses a placeholder
	PlaceText    string
	DropKeys     bool // the collection has a drop_keys field
	DropMetadata string
	Preview      *engine.SettingsPreview
	Replan       engine.ReplanStatus
	Error        string
	Saved        bool
	CanEdit      bool
}

// settingsIndex lists the tenant's collections, each linking to its form.
func (h *Handler) settingsIndex(w http.ResponseWriter, r *http.Request, v *viewer) {
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
	h.render(w, r, http.StatusOK, "settings_index", v, map[string]any{"Tenant": tenant, "Collections": cs})
}

func (h *Handler) settingsPage(w http.ResponseWriter, r *http.Request, v *viewer) {
	f, err := h.settingsForm(r, v)
	if err != nil {
		h.fail(w, r, err)
		return
	}
	f.Saved = r.URL.Query().Get("saved") == "1"
	h.render(w, r, http.StatusOK, "settings", v, f)
}

func (h *Handler) settingsForm(r *http.Request, v *viewer) (*settingsForm, error) {
	tenant, err := h.tenantFor(r, v)
	if err != nil {
		return nil, err
	}
	c, err := h.eng.Collection(r.Context(), tenant, r.PathValue("collection"))
	if err != nil {
		return nil, err
	}
	s, err := h.eng.Settings(r.Context(), tenant, c.Name)
	if err != nil {
		return nil, err
	}
	return newSettingsForm(tenant, c, s, v.canWrite(), h.eng.ReplanStatus(tenant, c.Name)), nil
}

func newSettingsForm(tenant string, c *policy.Collection, s *lethe.Settings, canEdit bool, rs engine.ReplanStatus) *settingsForm {
	f := &settingsForm{Tenant: tenant, C: c, Switchable: c.Switchable, CanEdit: canEdit, Replan: rs,
		Placeholder: uses(c.Fields, policy.OpPlaceholder), DropKeys: uses(c.Fields, policy.OpDropKeys)}
	if s.Enabled != nil {
		f.Enabled = map[bool]string{true: "on", false: "off"}[*s.Enabled]
	}
	f.PlaceText = s.Placeholder
	f.DropMetadata = strings.Join(s.DropMetadata, ", ")
	for _, rule := range c.Rules {
		name := retention.RuleName(rule)
		row := ruleRow{Name: name, Action: string(rule.Action), Basis: rule.Basis, Reason: rule.Reason, Default: rule.Period.Default.String()}
		for _, d := range retention.AllowedPeriods(rule) {
			row.Options = append(row.Options, d.String())
		}
		if d, ok := s.Periods[name]; ok {
			row.Chosen = d.String()
		}
		if rule.When != nil && len(rule.When.Origin) > 0 {
			row.Condition = "origin " + strings.Join(rule.When.Origin, ", ")
		}
		f.Rules = append(f.Rules, row)
	}
	return f
}

// patchFromForm reads the settings form into a patch of everything the
// form shows; a period outside the rule's options is refused here
// already, with the same words as the engine's validation.
func patchFromForm(r *http.Request, f *settingsForm) (*lethe.SettingsPatch, error) {
	p := &lethe.SettingsPatch{}
	if f.Switchable {
		p.SetEnabled = true
		switch r.PostFormValue("enabled") {
		case "on":
			p.Enabled = ptr(true)
		case "off":
			p.Enabled = ptr(false)
		case "":
		default:
			return nil, fmt.Errorf("%w: enabled must be on, off or the default", lethe.ErrInvalid)
		}
	}
	p.Periods = map[string]*lethe.Duration{}
	for _, row := range f.Rules {
		val := r.PostFormValue("period." + row.Name)
		if val == "" {
			p.Periods[row.Name] = nil
			continue
		}
		ok := false
		for _, o := range row.Options {
			ok = ok || o == val
		}
		if !ok {
			return nil, fmt.Errorf("%w: period %q is not one of the choices of rule %s", lethe.ErrInvalid, val, row.Name)
		}
		d, err := lethe.ParseDuration(val)
		if err != nil {
			return nil, fmt.Errorf("%w: %v", lethe.ErrInvalid, err)
		}
		p.Periods[row.Name] = &d
	}
	if f.Placeholder {
		p.SetPlaceholder = true
		if t := strings.TrimSpace(r.PostFormValue("placeholder")); t != "" {
			p.Placeholder = &t
		}
	}
	if f.DropKeys {
		p.SetDropMetadata = true
		for _, k := range strings.Split(r.PostFormValue("drop_metadata"), ",") {
			if k = strings.TrimSpace(k); k != "" {
				p.DropMetadata = append(p.DropMetadata, k)
			}
		}
	}
	return p, nil
}

// saveSettings previews the change (the button "Preview", and always
// first: the page shows how many records it re-plans) or, from the
// preview page, stores it.
func (h *Handler) saveSettings(w http.ResponseWriter, r *http.Request, v *viewer) {
	f, err := h.settingsForm(r, v)
	if err != nil {
		h.fail(w, r, err)
		return
	}
	p, err := patchFromForm(r, f)
	if err == nil {
		if r.PostFormValue("confirm") == "1" {
			if _, err = h.eng.PatchSettings(r.Context(), "console:"+v.User.Name, f.Tenant, f.C.Name, p); err == nil {
				http.Redirect(w, r, fmt.Sprintf("%st/%s/settings/%s?saved=1", Prefix, f.Tenant, f.C.Name), http.StatusSeeOther)
				return
			}
		} else {
			f.Preview, err = h.eng.PreviewSettings(r.Context(), f.Tenant, f.C.Name, p)
		}
	}
	status := http.StatusOK
	if err != nil {
		status, f.Error = statusOf(err), err.Error()
		if status == http.StatusInternalServerError {
			h.fail(w, r, err)
			return
		}
	}
	// Show the form with what was submitted, so that saving stores what
	// was previewed.
	sub := f
	if p != nil {
		sub = newSettingsForm(f.Tenant, f.C, p.Apply(&lethe.Settings{}), f.CanEdit, f.Replan)
		sub.Preview, sub.Error = f.Preview, f.Error
	}
	h.render(w, r, status, "settings", v, sub)
}

// uses reports whether a field (or an item field) is anonymized by op.
func uses(fields []*policy.Field, op policy.Operator) bool {
	for _, f := range fields {
		if f.Anonymize == op || uses(f.Items, op) {
			return true
		}
	}
	return false
}

func ptr[T any](v T) *T { return &v }
