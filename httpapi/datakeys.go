package httpapi

import (
	"net/http"

	"github.com/lethe-privacy/lethe/engine"
)

// dataKeyRoutes are the encryption-key routes: a tenant's data key
// versions and their rotation, and the master key's versions (admin token
// alone: it is not any tenant's).
func dataKeyRoutes() []route {
	return []route{
		{"GET", "/v1/tenants/{tenant}/data-keys", admin, (*Server).dataKeyStatus},
		{"POST", "/v1/tenants/{tenant}/data-keys/rotate", admin, (*Server).rotateDataKey},
		{"GET", "/v1/master-key", admin, (*Server).masterKeyStatus},
	}
}

// dataKeyStatus answers the tenant's data key versions with what each
// still seals, and the last rewrap's progress.
func (s *Server) dataKeyStatus(w http.ResponseWriter, r *http.Request, _ engine.Principal) error {
	st, err := s.eng.TenantKeyStatus(r.Context(), r.PathValue("tenant"))
	if err != nil {
		return err
	}
	writeJSON(w, http.StatusOK, st)
	return nil
}

// rotateDataKey creates a new data key version, which new writes use at
// once, and starts the rewrap of the older values in the background;
// 202 with the status, whose rewrap part shows the progress.
func (s *Server) rotateDataKey(w http.ResponseWriter, r *http.Request, p engine.Principal) error {
	tenant := r.PathValue("tenant")
	if _, err := s.eng.RotateTenantKey(r.Context(), p.Name, tenant); err != nil {
		return err
	}
	s.eng.RewrapInBackground(tenant)
	job, err := s.eng.RewrapStatus(r.Context(), engine.ScopeTenant, tenant)
	if err != nil {
		return err
	}
	writeJSON(w, http.StatusAccepted, map[string]any{"tenant": tenant, "rewrap": job})
	return nil
}

// masterKeyStatus answers the master key's versions with how many wrapped
// keys each wraps, and the last master rewrap's progress.
func (s *Server) masterKeyStatus(w http.ResponseWriter, r *http.Request, _ engine.Principal) error {
	st, err := s.eng.MasterKeyStatus(r.Context())
	if err != nil {
		return err
	}
	writeJSON(w, http.StatusOK, st)
	return nil
}
