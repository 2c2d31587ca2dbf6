package httpapi

import (
	"net/http"
	"time"

	"github.com/lethe-privacy/lethe"
	"github.com/lethe-privacy/lethe/engine"
	"github.com/lethe-privacy/lethe/policy"
	"github.com/lethe-privacy/lethe/retention"
	"github.com/lethe-privacy/lethe/session"
)

type tenantJSON struct {
	ID              string    `json:"id"`
	Packs           []string  `json:"packs"`
	PhoneRegion     string    `json:"phone_region"`
	SessionLifetime string    `json:"session_lifetime"`
	ChatOrigins     []string  `json:"chat_origins"`
	CreatedAt       time.Time `json:"created_at"`
}

func toTenantJSON(t *lethe.Tenant) tenantJSON {
	packs := t.Packs
	if packs == nil {
		packs = []string{}
	}
	life := "0"
	if !t.SessionLifetime.IsZero() {
		life = t.SessionLifetime.String()
	}
	origins := t.ChatOrigins
	if origins == nil {
		origins = []string{}
	}
	return tenantJSON{ID: t.ID, Packs: packs, PhoneRegion: t.PhoneRegion, SessionLifetime: life, ChatOrigins: origins, CreatedAt: t.CreatedAt}
}

func (s *Server) createTenant(w http.ResponseWriter, r *http.Request, p engine.Principal) error {
	var body struct {
		ID          string   `json:"id"`
		Packs       []string `json:"packs"`
		PhoneRegion string   `json:"phone_region"`
	}
	if err := decode(r, &body); err != nil {
		return err
	}
	t, err := s.eng.CreateTenantFrom(r.Context(), p.Name, engine.TenantSpec{ID: body.ID, Packs: body.Packs, PhoneRegion: body.PhoneRegion})
	if err != nil {
		return err
	}
	w.Header().Set("Location", "/v1/tenants/"+t.ID)
	writeJSON(w, http.StatusCreated, toTenantJSON(t))
	return nil
}

func (s *Server) getTenant(w http.ResponseWriter, r *http.Request, _ engine.Principal) error {
	t, err := s.eng.Tenant(r.Context(), r.PathValue("tenant"))
	if err != nil {
		return err
	}
	writeJSON(w, http.StatusOK, toTenantJSON(t))
	return nil
}

// patchTenant changes what a tenant may change about itself: its phone
// region and its chat settings (session lifetime, chat origins). Stored
// numbers are not rehashed (see engine.SetPhoneRegion). The lifetime is
// checked before anything is stored.
func (s *Server) patchTenant(w http.ResponseWriter, r *http.Request, p engine.Principal) error {
	var body struct {
		PhoneRegion     *string   `json:"phone_region"`
		SessionLifetime *string   `json:"session_lifetime"`
		ChatOrigins     *[]string `json:"chat_origins"`
		// MasterKey wraps the tenant's keys with a key of its own
		// (engine.SetTenantMasterKey); write-only, never shown.
		MasterKey *string `json:"master_key"`
	}
	if err := decode(r, &body); err != nil {
		return err
	}
	if body.MasterKey != nil {
		if _, err := s.eng.SetTenantMasterKey(r.Context(), p.Name, r.PathValue("tenant"), *body.MasterKey); err != nil {
			return err
		}
	}
	var chat engine.ChatChange
	if body.SessionLifetime != nil {
		life, err := session.ParseLifetime(*body.SessionLifetime)
		if err != nil {
			return err
		}
		chat.Lifetime = &life
	}
	chat.Origins = body.ChatOrigins
	if body.PhoneRegion == nil && chat.Lifetime == nil && chat.Origins == nil {
		return s.getTenant(w, r, p)
	}
	var t *lethe.Tenant
	var err error
	if body.PhoneRegion != nil {
		if t, err = s.eng.SetPhoneRegion(r.Context(), p.Name, r.PathValue("tenant"), *body.PhoneRegion); err != nil {
			return err
		}
	}
	if chat.Lifetime != nil || chat.Origins != nil {
		if t, err = s.eng.SetChat(r.Context(), p.Name, r.PathValue("tenant"), chat); err != nil {
			return err
		}
	}
	writeJSON(w, http.StatusOK, toTenantJSON(t))
	return nil
}

type fieldJSON struct {
	Name     string `json:"name"`
	Type     string `json:"type"`
	PII      bool   `json:"pii"`
	Subject  string `json:"subject,omitempty"`
	Link     string `json:"link,omitempty"`
	Personal bool   `json:"personal,omitempty"`
	Unique   bool   `json:"unique,omitempty"`
	Required bool   `json:"required,omitempty"`
	// RedactOnWrite: the text is stored redacted (ADR 0025).
	RedactOnWrite string      `json:"redact_on_write,omitempty"`
	Anonymize     string      `json:"anonymize"`
	Description   string      `json:"description,omitempty"`
	Items         []fieldJSON `json:"items,omitempty"`
}

type periodJSON struct {
	Default lethe.Duration   `json:"default"`
	Options []lethe.Duration `json:"options"`
	Max     *lethe.Duration  `json:"max,omitempty"`
}

type ruleJSON struct {
	Name   string            `json:"name"`
	Action lethe.Action      `json:"action"`
	Basis  string            `json:"basis"`
	Period periodJSON        `json:"period"`
	When   *policy.Condition `json:"when,omitempty"`
	Reason string            `json:"reason,omitempty"`
}

type collectionJSON struct {
	Name        string      `json:"name"`
	Title       string      `json:"title,omitempty"`
	Description string      `json:"description,omitempty"`
	Pack        string      `json:"pack"`
	Switchable  bool        `json:"switchable"`
	Enabled     bool        `json:"enabled"`
	Kind        policy.Kind `json:"kind,omitempty"`
	Dimension   int         `json:"dimension,omitempty"`
	SamePerson  []string    `json:"same_person,omitempty"`
	Fields      []fieldJSON `json:"fields"`
	Rules       []ruleJSON  `json:"rules"`
}

func toFieldsJSON(fs []*policy.Field) []fieldJSON {
	out := make([]fieldJSON, 0, len(fs))
	for _, f := range fs {
		out = append(out, fieldJSON{Name: f.Name, Type: string(f.Type), PII: f.IsPII(), Subject: f.Subject, Link: f.Link, Personal: f.IsPersonal() && !f.IsPII(), Unique: f.Unique,
			Required: f.Required, RedactOnWrite: f.RedactOnWrite, Anonymize: string(f.Anonymize), Description: f.Description, Items: toFieldsJSON(f.Items)})
	}
	return out
}

func toRulesJSON(rs []*policy.Rule) []ruleJSON {
	out := make([]ruleJSON, 0, len(rs))
	for _, ru := range rs {
		pj := periodJSON{Default: ru.Period.Default, Options: ru.Period.Options}
		if pj.Options == nil {
			pj.Options = []lethe.Duration{}
		}
		if !ru.Period.Max.IsZero() {
			m := ru.Period.Max
			pj.Max = &m
		}
		out = append(out, ruleJSON{Name: ru.Name, Action: ru.Action, Basis: ru.Basis, Period: pj, When: ru.When, Reason: ru.Reason})
	}
	return out
}

// listCollections answers the schema a client (and the console) builds
// forms and requests from.
func (s *Server) listCollections(w http.ResponseWriter, r *http.Request, _ engine.Principal) error {
	tenant := r.PathValue("tenant")
	cs, err := s.eng.Collections(r.Context(), tenant)
	if err != nil {
		return err
	}
	out := make([]collectionJSON, 0, len(cs))
	for _, c := range cs {
		st, err := s.eng.Settings(r.Context(), tenant, c.Name)
		if err != nil {
			return err
		}
		out = append(out, collectionJSON{Name: c.Name, Title: c.Title, Description: c.Description, Pack: c.Pack,
			Switchable: c.Switchable, Enabled: retention.Enabled(c, st), Kind: c.Kind, Dimension: c.Dimension, SamePerson: c.SamePerson, Fields: toFieldsJSON(c.Fields), Rules: toRulesJSON(c.Rules)})
	}
	writeJSON(w, http.StatusOK, map[string]any{"collections": out})
	return nil
}
