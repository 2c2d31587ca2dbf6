package postgres

import (
	"context"
	"fmt"

	"github.com/lethe-privacy/lethe"
)

var _ lethe.EmbeddingStore = (*Store)(nil)

// Embeddings pages through a collection's embeddings in rid order. The rid
// comes from a sequence, so it grows with each insert; two instances that
// insert at once may commit out of rid order, which is why the engine
// checks every hit against the database rather than trusting its index
// (ADR 0019). The server here has no pgvector, so the embedding is a plain
// bytea column and the search runs in Lethe's own index.
func (s *Store) Embeddings(ctx context.Context, tenant, collection string, afterSeq int64, limit int) ([]lethe.StoredEmbedding, error) {
	db, err := s.db()
	if err != nil {
		return nil, err
	}
	rows, err := db.Query(ctx, `SELECT rid, id, embedding FROM records
		WHERE tenant = $1 AND collection = $2 AND rid > $3 AND embedding IS NOT NULL
		ORDER BY rid LIMIT $4`, tenant, collection, afterSeq, limit)
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
