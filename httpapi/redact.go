package httpapi

import (
	"net/http"

	"github.com/lethe-privacy/lethe"
	"github.com/lethe-privacy/lethe/engine"
	"github.com/lethe-privacy/lethe/redact"
)

// redactRoutes redact ad-hoc text with the tenant's phone region and keys.
// Readers and writers may: the caller sends the text and gets it back
// without its personal data, so nothing stored is revealed, and nothing
// is stored.
func redactRoutes() []route {
	return []route{
		{"POST", "/v1/tenants/{tenant}/redact", access{lethe.RoleReader, lethe.RoleWriter}, (*Server).redact},
	}
}

// redactJSON is the answer of POST .../redact: the redacted text and what
// was found where in the text sent, never the values.
type redactJSON struct {
	Text     string           `json:"text"`
	Findings []redact.Finding `json:"findings"`
}

func (s *Server) redact(w http.ResponseWriter, r *http.Request, _ engine.Principal) error {
	var body struct {
		Text     *string `json:"text"`
		Operator string  `json:"operator"`
	}
	if err := decode(r, &body); err != nil {
		return err
	}
	if body.Text == nil {
		return &lethe.FieldError{Field: "text", Reason: "text is required"}
	}
	out, fs, err := s.eng.Redact(r.Context(), r.PathValue("tenant"), *body.Text, body.Operator)
	if err != nil {
		return err
	}
	if fs == nil {
		fs = []redact.Finding{}
	}
	writeJSON(w, http.StatusOK, redactJSON{Text: out, Findings: fs})
	return nil
}
