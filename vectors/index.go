package vectors

import (
	"fmt"
	"sync"
)

// DefaultExactMax is the collection size up to which Index scans every
// vector. Measured here on random 384-dimension vectors (BENCHMARKS.md,
// "Vector search"): at 100k the quantized scan answers in 5-7 ms (median)
// with recall@10 1.000, while the graph needs a candidate list of 6400 to
// reach recall@10 0.95 and is then several times slower. Real embeddings
// have far fewer effective dimensions and the graph wins on them sooner,
// but a store must not trade exactness for nothing, so the default is
// high.
const DefaultExactMax = 200_000

// Index answers nearest-neighbour queries over one collection: an exact
// scan while it holds at most ExactMax vectors (by default the quantized
// scan, int8 codes and then a float rerank of the best candidates), an
// HNSW graph beyond. It
// moves to the graph once, when an Add crosses the threshold, and stays
// there (a collection that shrank back keeps its graph, whose deletes are
// exact anyway).
type Index struct {
	dim      int
	exactMax int
	cfg      HNSWConfig

	mu    sync.RWMutex
	exact *Exact // nil once the graph took over
	graph *HNSW
}

// NewIndex returns an empty index for vectors of dimension dim; exactMax
// <= 0 means DefaultExactMax. Its exact range uses the quantized scan.
func NewIndex(dim, exactMax int, cfg HNSWConfig) *Index {
	return NewIndexScan(dim, exactMax, cfg, ScanConfig{})
}

// NewIndexScan is NewIndex with the exact range's scan chosen by scan
// (ScanConfig.Float for the float scan alone).
func NewIndexScan(dim, exactMax int, cfg HNSWConfig, scan ScanConfig) *Index {
	if exactMax <= 0 {
		exactMax = DefaultExactMax
	}
	return &Index{dim: dim, exactMax: exactMax, cfg: cfg, exact: NewExactScan(dim, scan)}
}

// Dim is the dimension the index was made for.
func (x *Index) Dim() int { return x.dim }

// Graph reports whether the index has moved to its HNSW graph.
func (x *Index) Graph() bool {
	x.mu.RLock()
	defer x.mu.RUnlock()
	return x.graph != nil
}

// Len is the number of vectors held.
func (x *Index) Len() int {
	x.mu.RLock()
	defer x.mu.RUnlock()
	if x.graph != nil {
		return x.graph.Len()
	}
	return x.exact.Len()
}

// Add inserts or replaces id's vector.
func (x *Index) Add(id string, v []float32) error {
	x.mu.Lock()
	defer x.mu.Unlock()
	if x.graph != nil {
		return x.graph.Add(id, v)
	}
	if err := x.exact.Add(id, v); err != nil {
		return err
	}
	if x.exact.Len() <= x.exactMax {
		return nil
	}
	g := NewHNSW(x.dim, x.cfg)
	for i, id := range x.exact.ids {
		if err := g.Add(id, x.exact.vecs[i]); err != nil {
			return fmt.Errorf("vectors: build graph: %w", err)
		}
	}
	x.graph, x.exact = g, nil
	return nil
}

// Delete removes id; no search returns it afterwards.
func (x *Index) Delete(id string) {
	x.mu.Lock()
	defer x.mu.Unlock()
	if x.graph != nil {
		x.graph.Delete(id)
		return
	}
	x.exact.Delete(id)
}

// Search returns the k vectors most similar to q that keep accepts (nil
// keeps all), best first; ef is the graph's candidate list (0: its
// default) and means nothing to the exact scan.
func (x *Index) Search(q []float32, k, ef int, keep func(id string) bool) ([]Hit, error) {
	x.mu.RLock()
	defer x.mu.RUnlock()
	if x.graph != nil {
		return x.graph.SearchFunc(q, k, ef, keep)
	}
	return x.exact.SearchFunc(q, k, keep)
}
