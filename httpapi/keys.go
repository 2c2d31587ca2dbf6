package httpapi

import (
	"net/http"
	"time"

	"github.com/lethe-privacy/lethe/engine"
)

// keyRoutes lists and revokes a tenant's API keys; creation is in the
// base table (POST /v1/tenants/{tenant}/keys). All are the admin's: a
// tenant key cannot mint, list or revoke keys.
func keyRoutes() []route {
	return []route{
		{"GET", "/v1/tenants/{tenant}/keys", adminOnly, (*Server).listKeys},
		{"DELETE", "/v1/tenants/{tenant}/keys/{prefix}", adminOnly, (*Server).revokeKey},
	}
}

type keyJSON struct {
	Prefix    string    `json:"prefix"`
	CreatedAt time.Time `json:"created_at"`
	Revoked   bool      `json:"revoked"`
}

func (s *Server) listKeys(w http.ResponseWriter, r *http.Request, _ engine.Principal) error {
	ks, err := s.eng.APIKeys(r.Context(), r.PathValue("tenant"))
	if err != nil {
		return err
	}
	out := make([]keyJSON, len(ks))
	for i, k := range ks {
		out[i] = keyJSON(k)
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
