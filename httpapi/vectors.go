package httpapi

import (
	"net/http"

	"github.com/lethe-privacy/lethe/engine"
)

// searchHitJSON is one nearest chunk: its similarity and the record with
// its payload decrypted.
type searchHitJSON struct {
	Score  float32    `json:"score"`
	Record recordJSON `json:"record"`
}

// searchVectors answers POST .../collections/{collection}/search
// {"vector": [...], "k": 10, "filter": {...}} with the k nearest chunks.
// It needs the reader role: the answer holds decrypted payload, and the
// engine writes the read to the manager log. A vector of another
// dimension than the collection's is a 422 naming "vector".
func (s *Server) searchVectors(w http.ResponseWriter, r *http.Request, _ engine.Principal) error {
	var body struct {
		Vector []float32      `json:"vector"`
		K      int            `json:"k"`
		Filter map[string]any `json:"filter"`
	}
	if err := decode(r, &body); err != nil {
		return err
	}
	hits, err := s.eng.Search(r.Context(), engine.SearchQuery{Tenant: r.PathValue("tenant"), Collection: r.PathValue("collection"),
		Vector: body.Vector, K: body.K, Filter: body.Filter})
	if err != nil {
		return err
	}
	out := make([]searchHitJSON, len(hits))
	for i, h := range hits {
		out[i] = searchHitJSON{Score: h.Score, Record: toRecordJSON(h.Doc)}
	}
	writeJSON(w, http.StatusOK, map[string]any{"hits": out, "count": len(out)})
	return nil
}
