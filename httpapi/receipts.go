package httpapi

import (
	"net/http"

	"github.com/lethe-privacy/lethe"
	"github.com/lethe-privacy/lethe/engine"
)

// receiptRoutes publishes the keys request receipts are signed with. The
// route is public: a receipt's recipient (a data subject, a regulator)
// holds no token, and public keys are no secret.
func receiptRoutes() []route {
	return []route{
		{"GET", "/v1/receipt-keys", public, (*Server).receiptKeys},
	}
}

// receiptKeys answers the JWKS of one tenant's receipt signing keys. It
// takes ?tenant= rather than listing every tenant's keys, and answers an
// unknown tenant with the same empty set as a tenant that has signed no
// receipt yet: the route cannot be used to enumerate tenants.
func (s *Server) receiptKeys(w http.ResponseWriter, r *http.Request, _ engine.Principal) error {
	tenant := r.URL.Query().Get("tenant")
	if tenant == "" {
		return &lethe.FieldError{Field: "tenant", Reason: "name the tenant whose receipt keys to list (?tenant=ID, the tenant a receipt names)"}
	}
	set, err := s.eng.ReceiptKeys(r.Context(), tenant)
	if err != nil {
		return err
	}
	writeJSON(w, http.StatusOK, set)
	return nil
}
