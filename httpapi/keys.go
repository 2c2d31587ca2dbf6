package httpapi

import (
	"bytes"
	"net/http"
	"time"

	"github.com/lethe-privacy/lethe"
	"github.com/lethe-privacy/lethe/engine"
)

// keyRoutes lists and revokes a tenant's API keys; creation is in the
// base table (POST /v1/tenants/{tenant}/keys). All need the admin role: the
// admin token, or a tenant key holding admin, within its tenant.
func keyRoutes() []route {
	return []route{
		{"GET", "/v1/tenants/{tenant}/keys", admin, (*Server).listKeys},
		{"DELETE", "/v1/tenants/{tenant}/keys/{prefix}", admin, (*Server).revokeKey},
	}
}

type keyJSON struct {
	Prefix    string       `json:"prefix"`
	CreatedAt time.Time    `json:"created_at"`
	Revoked   bool         `json:"revoked"`
	Roles     []lethe.Role `json:"roles"`
}

// createKey makes a key with the roles of the body ({"roles": [...]}; no
// body or no list: reader, writer, requests). A caller grants only what
// Principal.MayGrant allows.
func (s *Server) createKey(w http.ResponseWriter, r *http.Request, p engine.Principal) error {
	var body struct {
		Roles []string `json:"roles"`
	}
	if err := decodeOptional(r, &body); err != nil {
		return err
	}
	roles := lethe.DefaultKeyRoles()
	if body.Roles != nil {
		var err error
		if roles, err = lethe.ParseRoles(body.Roles); err != nil {
			return err
		}
	}
	if err := p.MayGrant(roles); err != nil {
		return err
	}
	key, err := s.eng.CreateAPIKey(r.Context(), p.Name, r.PathValue("tenant"), roleNames(roles))
	if err != nil {
		return err
	}
	writeJSON(w, http.StatusCreated, map[string]any{"key": key, "tenant": r.PathValue("tenant"), "roles": roles})
	return nil
}

// decodeOptional is decode for a body that may be left out entirely
// (curl -X POST with no data): an empty body leaves v as it is.
func decodeOptional(r *http.Request, v any) error {
	body, err := readBody(r)
	if err != nil || len(bytes.TrimSpace(body)) == 0 {
		return err
	}
	return decodeBody(body, v)
}

func roleNames(rs []lethe.Role) []string {
	out := make([]string, len(rs))
	for i, r := range rs {
		out[i] = string(r)
	}
	return out
}

func (s *Server) listKeys(w http.ResponseWriter, r *http.Request, _ engine.Principal) error {
	ks, err := s.eng.APIKeys(r.Context(), r.PathValue("tenant"))
	if err != nil {
		return err
	}
	out := make([]keyJSON, len(ks))
	for i, k := range ks {
		out[i] = keyJSON{Prefix: k.Prefix, CreatedAt: k.CreatedAt, Revoked: k.Revoked, Roles: k.Roles}
		if out[i].Roles == nil {
			out[i].Roles = []lethe.Role{}
		}
	}
	writeJSON(w, http.StatusOK, map[string]any{"keys": out})
	return nil
}

func (s *Server) revokeKey(w http.ResponseWriter, r *http.Request, p engine.Principal) error {
	if err := s.eng.RevokeAPIKey(r.Context(), p.Name, r.PathValue("tenant"), r.PathValue("prefix")); err != nil {
		return err
	}
	w.WriteHeader(http.StatusNoContent)
	return nil
}
