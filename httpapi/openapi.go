package httpapi

import (
	"embed"
	"encoding/json"
	"fmt"
	"io/fs"
	"net/http"
	"sort"

	"github.com/lethe-privacy/lethe/engine"
)

// The published API description is written by hand: openapi/base.json
// holds the document, and each resource file may add an
// openapi/<resource>.json with more "paths" and "components.schemas".
// They are merged once at start; TestOpenAPI_MatchesRoutes holds the result
// to the routing table.
//
//go:embed openapi/*.json
var openAPIFiles embed.FS

// openAPIDocument merges the embedded parts into one document.
func openAPIDocument() ([]byte, error) {
	base, err := openAPIFiles.ReadFile("openapi/base.json")
	if err != nil {
		return nil, err
	}
	var doc map[string]any
	if err := json.Unmarshal(base, &doc); err != nil {
		return nil, fmt.Errorf("openapi/base.json: %w", err)
	}
	paths := doc["paths"].(map[string]any)
	schemas := doc["components"].(map[string]any)["schemas"].(map[string]any)
	parts, _ := fs.Glob(openAPIFiles, "openapi/*.json")
	sort.Strings(parts)
	for _, name := range parts {
		if name == "openapi/base.json" {
			continue
		}
		b, _ := openAPIFiles.ReadFile(name)
		var part struct {
			Paths      map[string]map[string]any `json:"paths"`
			Components struct {
				Schemas map[string]any `json:"schemas"`
			} `json:"components"`
		}
		if err := json.Unmarshal(b, &part); err != nil {
			return nil, fmt.Errorf("%s: %w", name, err)
		}
		for p, ops := range part.Paths {
			existing, _ := paths[p].(map[string]any)
			if existing == nil {
				existing = map[string]any{}
				paths[p] = existing
			}
			for m, op := range ops {
				if _, dup := existing[m]; dup {
					return nil, fmt.Errorf("%s: %s %s defined twice", name, m, p)
				}
				existing[m] = op
			}
		}
		for k, v := range part.Components.Schemas {
			if _, dup := schemas[k]; dup {
				return nil, fmt.Errorf("%s: schema %s defined twice", name, k)
			}
			schemas[k] = v
		}
	}
	addIdempotencyKey(doc)
	addTooManyRequests(doc)
	return json.MarshalIndent(doc, "", "  ")
}

func (s *Server) openapi(w http.ResponseWriter, r *http.Request, _ engine.Principal) error {
	w.Header().Set("Content-Type", "application/json")
	w.Write(s.openAPI)
	return nil
}
