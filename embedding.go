package lethe

import "context"

// StoredEmbedding is one record's search vector as a store reads it back
// to build an in-memory index.
type StoredEmbedding struct {
	// Seq orders a collection's embeddings by when their record was
	// first stored; an index that has read up to Seq asks for what came
	// after.
	Seq    int64
	ID     string
	Vector []byte // the vectors package's float32 encoding
}

// EmbeddingStore is implemented by the stores that hold vectors
// collections (SQLite and PostgreSQL).
type EmbeddingStore interface {
	// Embeddings pages through a collection's records that carry an
	// embedding, by Seq, starting after afterSeq (0 for the start).
	Embeddings(ctx context.Context, tenant, collection string, afterSeq int64, limit int) ([]StoredEmbedding, error)
}
