package engine

import (
	"context"
	"errors"
	"fmt"
	"math"
	"reflect"
	"sync"

	"github.com/lethe-privacy/lethe"
	"github.com/lethe-privacy/lethe/policy"
	"github.com/lethe-privacy/lethe/vectors"
)

// Vector search (ADR 0019). A vectors collection's embeddings are plain
// (they are the search index) and live in the record's row; the payload is
// sealed like any PII field. Each tenant's collection gets an in-memory
// index, built at its first search from the stored embeddings and kept in
// step by this engine's own writes. The index only proposes: every hit is
// read back from the store before it is answered, so a record erased by a
// request, a sweep or another instance is never returned, even before its
// index entry is gone.

// MaxSearchK bounds one search's answer: each hit is a read of decrypted
// payload, logged in the manager log.
const MaxSearchK = 100

// SearchQuery is one nearest-neighbour query.
type SearchQuery struct {
	Tenant, Collection string
	Vector             []float32
	K                  int // 1..MaxSearchK; 0 means 10
	// Filter keeps only records whose plain fields equal these values;
	// sealed fields cannot be filtered on (the store cannot read them).
	Filter map[string]any
}

// SearchHit is one answer: the record with its payload decrypted, and its
// cosine similarity to the query.
type SearchHit struct {
	Doc   *Doc
	Score float32
}

// vectorIndexes holds the in-memory indexes of one engine.
type vectorIndexes struct {
	src      lethe.EmbeddingStore // nil when the store holds none
	exactMax int
	cfg      vectors.HNSWConfig

	mu sync.Mutex
	m  map[settingsKey]*vectorIndex
}

// vectorIndex is one collection's index and how far it has read the store.
type vectorIndex struct {
	idx *vectors.Index
	// mu orders loads from the store; seq is the highest Seq read.
	mu  sync.Mutex
	seq int64
}

// index returns the collection's index, reading what the store holds
// beyond what it has read already (all of it the first time). Reading
// only past seq keeps a search cheap when nothing changed, and picks up
// chunks another instance stored.
func (e *Engine) index(ctx context.Context, tenant string, c *policy.Collection) (*vectors.Index, error) {
	es := e.vecs.src
	if es == nil {
		return nil, fmt.Errorf("%w: this store holds no vectors collections", lethe.ErrInvalid)
	}
	v := &e.vecs
	v.mu.Lock()
	if v.m == nil {
		v.m = map[settingsKey]*vectorIndex{}
	}
	key := settingsKey{tenant, c.Name}
	vi := v.m[key]
	if vi == nil {
		vi = &vectorIndex{idx: vectors.NewIndex(c.Dimension, v.exactMax, v.cfg)}
		v.m[key] = vi
	}
	v.mu.Unlock()
	vi.mu.Lock()
	defer vi.mu.Unlock()
	for {
		page, err := es.Embeddings(ctx, tenant, c.Name, vi.seq, 1000)
		if err != nil {
			return nil, err
		}
		for _, s := range page {
			vec, err := vectors.Decode(s.Vector, c.Dimension)
			if err != nil {
				return nil, fmt.Errorf("record %s/%s: %w", c.Name, s.ID, err)
			}
			if err := vi.idx.Add(s.ID, vec); err != nil {
				return nil, fmt.Errorf("record %s/%s: %w", c.Name, s.ID, err)
			}
			vi.seq = s.Seq
		}
		if len(page) < 1000 {
			return vi.idx, nil
		}
	}
}

// loaded returns a collection's index when a search built it already;
// writes before any search have nothing to keep in step.
func (e *Engine) loaded(tenant, collection string) *vectors.Index {
	e.vecs.mu.Lock()
	defer e.vecs.mu.Unlock()
	if vi := e.vecs.m[settingsKey{tenant, collection}]; vi != nil {
		return vi.idx
	}
	return nil
}

// indexed keeps loaded indexes in step with records just written: each
// record is added with its embedding, or removed when it has none (an
// anonymized one).
func (e *Engine) indexed(recs []*lethe.Record) {
	for _, r := range recs {
		idx := e.loaded(r.Tenant, r.Collection)
		if idx == nil {
			continue
		}
		v, err := vectors.Decode(r.Embedding, idx.Dim())
		if r.Embedding == nil || err != nil || idx.Add(r.ID, v) != nil {
			idx.Delete(r.ID)
		}
	}
}

// unindexed removes deleted records from loaded indexes.
func (e *Engine) unindexed(refs []lethe.RecordRef) {
	for _, ref := range refs {
		if idx := e.loaded(ref.Tenant, ref.Collection); idx != nil {
			idx.Delete(ref.ID)
		}
	}
}

// embeddingOf checks the embedding field of a vectors collection's record
// and returns it encoded; nil for other collections. present tells a patch
// that does not touch the field from one that removes it.
func embeddingOf(c *policy.Collection, fields map[string]any) ([]byte, error) {
	if !c.IsVectors() {
		return nil, nil
	}
	v, ok := fields[policy.EmbeddingField].([]float32)
	if !ok {
		return nil, &lethe.FieldError{Field: "fields." + policy.EmbeddingField, Reason: fmt.Sprintf("required: %d numbers", c.Dimension)}
	}
	if err := checkVector(v, c.Dimension); err != nil {
		return nil, &lethe.FieldError{Field: "fields." + policy.EmbeddingField, Reason: err.Error()}
	}
	return vectors.Encode(v), nil
}

func checkVector(v []float32, dim int) error {
	if len(v) != dim {
		return fmt.Errorf("want %d numbers (the collection's dimension), got %d", dim, len(v))
	}
	c := append([]float32(nil), v...)
	if vectors.Normalize(c) != nil {
		return errors.New("want a non-zero vector")
	}
	return nil
}

// vectorValue reads a JSON list of numbers as float32; the dimension is
// checked by embeddingOf, which knows the collection.
func vectorValue(v any) ([]float32, string) {
	list, ok := v.([]any)
	if !ok {
		return nil, "want a list of numbers, got " + jsonKind(v)
	}
	out := make([]float32, len(list))
	for i, x := range list {
		n, ok, reason := numberOf(x)
		if !ok || (reason != "" && reason != reasonBeyondExact) {
			return nil, fmt.Sprintf("item %d: want a number, got %s", i, jsonKind(x))
		}
		f := n.f
		if n.isInt {
			f = float64(n.i)
		}
		if math.IsNaN(f) || math.Abs(f) > math.MaxFloat32 {
			return nil, fmt.Sprintf("item %d: out of float32 range", i)
		}
		out[i] = float32(f)
	}
	return out, ""
}

// Search returns the records of a vectors collection nearest to a query
// vector, payload decrypted; one manager-log entry records the read.
func (e *Engine) Search(ctx context.Context, q SearchQuery) ([]SearchHit, error) {
	_, c, err := e.collection(ctx, q.Tenant, q.Collection)
	if err != nil {
		return nil, err
	}
	if !c.IsVectors() {
		return nil, &lethe.FieldError{Field: "collection", Reason: fmt.Sprintf("%s is not a vectors collection", c.Name)}
	}
	if err := checkVector(q.Vector, c.Dimension); err != nil {
		return nil, &lethe.FieldError{Field: "vector", Reason: err.Error()}
	}
	k := q.K
	if k == 0 {
		k = 10
	}
	if k < 1 || k > MaxSearchK {
		return nil, &lethe.FieldError{Field: "k", Reason: fmt.Sprintf("want 1 to %d", MaxSearchK)}
	}
	filter, err := searchFilter(c, q.Filter)
	if err != nil {
		return nil, err
	}
	idx, err := e.index(ctx, q.Tenant, c)
	if err != nil {
		return nil, err
	}
	read := e.startRead()
	defer read.abandon()
	var recs []*lethe.Record
	var scores []float32
	seen := map[string]bool{}
	// Without a filter k candidates are enough unless some were erased
	// meanwhile; with one, the candidate list grows until k match or the
	// index has nothing more to give.
	for want := k; ; want *= 4 {
		hits, err := idx.Search(q.Vector, want, 0, nil)
		if err != nil {
			return nil, err
		}
		for _, h := range hits {
			if seen[h.ID] {
				continue
			}
			seen[h.ID] = true
			r, err := e.store.Record(ctx, lethe.RecordRef{Tenant: q.Tenant, Collection: c.Name, ID: h.ID})
			if errors.Is(err, lethe.ErrNotFound) || (err == nil && r.Embedding == nil) {
				idx.Delete(h.ID) // erased elsewhere: never an answer
				continue
			}
			if err != nil {
				return nil, err
			}
			if !filter(r) {
				continue
			}
			recs, scores = append(recs, r), append(scores, h.Score)
			if len(recs) == k {
				break
			}
		}
		if len(recs) == k || len(hits) < want {
			break
		}
	}
	out := make([]SearchHit, len(recs))
	for i, r := range recs {
		d, err := e.doc(ctx, r)
		if err != nil {
			return nil, err
		}
		delete(d.Fields, policy.EmbeddingField) // the caller has a vector; the answer is the payload
		out[i] = SearchHit{Doc: d, Score: scores[i]}
	}
	if err := e.logRead(ctx, &read, q.Tenant, "vectors.search", recs, map[string]any{"collection": c.Name}); err != nil {
		return nil, err
	}
	return out, nil
}

// searchFilter checks a filter against the collection: plain top-level
// fields only, values of the field's type, compared as stored.
func searchFilter(c *policy.Collection, in map[string]any) (func(*lethe.Record) bool, error) {
	if len(in) == 0 {
		return func(*lethe.Record) bool { return true }, nil
	}
	var p problems
	for name := range in {
		f := c.Field(name)
		switch {
		case f == nil:
			p.add("filter."+name, "no such field")
		case f.IsPII() || f.Type == policy.TypeVector:
			p.add("filter."+name, "a sealed field cannot be filtered on; filter on plain fields")
		}
	}
	if err := p.err(); err != nil {
		return nil, err
	}
	want, err := checkFields(c, in, "filter.")
	if err != nil {
		return nil, err
	}
	return func(r *lethe.Record) bool {
		for k, v := range want {
			if !reflect.DeepEqual(r.Plain[k], v) {
				return false
			}
		}
		return true
	}, nil
}
