package httpapi

import (
	_ "embed"
	"net/http"

	"github.com/lethe-privacy/lethe/engine"
)

// openAPIDoc is the published API description. It is written by hand and
// held to the routing table by TestOpenAPI_MatchesRoutes.
//
//go:embed openapi.json
var openAPIDoc []byte

func (s *Server) openapi(w http.ResponseWriter, r *http.Request, _ engine.Principal) error {
	w.Header().Set("Content-Type", "application/json")
	w.Write(openAPIDoc)
	return nil
}
