package sqlite

import (
	"context"
	"fmt"

	"github.com/lethe-privacy/lethe"
)

var _ lethe.EmbeddingStore = (*Store)(nil)

// Embeddings pages through a collection's embeddings in rid order. The rid
// is the record's integer key: it grows with each insert, which is the
// order the index is built and refreshed in.
func (s *Store) Embeddings(ctx context.Context, tenant, collection string, afterSeq int64, limit int) ([]lethe.StoredEmbedding, error) {
	rows, err := s.query(ctx, `SELECT rid, id, embedding FROM records
		WHERE tenant = ? AND collection = ? AND rid > ? AND embedding IS NOT NULL
		ORDER BY rid LIMIT ?`, tenant, collection, afterSeq, limit)
	if err != nil {
		return nil, fmt.Errorf("embeddings %s/%s: %w", tenant, collection, mapErr(err))
	}
	defer rows.Close()
	var out []lethe.StoredEmbedding
	for rows.Next() {
		var e lethe.StoredEmbedding
		if err := rows.Scan(&e.Seq, &e.ID, &e.Vector); err != nil {
			return nil, fmt.Errorf("embeddings %s/%s: %w", tenant, collection, mapErr(err))
		}
		out = append(out, e)
	}
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("embeddings %s/%s: %w", tenant, collection, mapErr(err))
	}
	return out, nil
}
