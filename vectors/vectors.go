// Package vectors provides the embedding format and exact nearest-neighbour
// search for collections of kind vectors. Embeddings are plain float32
// (they are not PII by themselves); the chunk payload is sealed elsewhere.
package vectors

import (
	"encoding/binary"
	"errors"
	"fmt"
	"math"
)

// ErrDimension reports an embedding whose length is not the collection's.
var ErrDimension = errors.New("vectors: wrong dimension")

// Encode returns v as a little-endian float32 blob, the stored form on
// SQLite and PostgreSQL alike.
func Encode(v []float32) []byte {
	b := make([]byte, 4*len(v))
	for i, f := range v {
		binary.LittleEndian.PutUint32(b[4*i:], math.Float32bits(f))
	}
	return b
}

// Decode parses a blob written by Encode and checks its dimension.
func Decode(b []byte, dim int) ([]float32, error) {
	if len(b) != 4*dim {
		return nil, fmt.Errorf("%w: %d bytes for dimension %d", ErrDimension, len(b), dim)
	}
	v := make([]float32, dim)
	for i := range v {
		v[i] = math.Float32frombits(binary.LittleEndian.Uint32(b[4*i:]))
	}
	return v, nil
}

// Normalize scales v to unit length in place so that the dot product is the
// cosine similarity. A zero or non-finite vector is refused.
func Normalize(v []float32) error {
	var s float64
	for _, f := range v {
		s += float64(f) * float64(f)
	}
	if s == 0 || math.IsNaN(s) || math.IsInf(s, 0) {
		return errors.New("vectors: embedding must be finite and non-zero")
	}
	n := float32(1 / math.Sqrt(s))
	for i := range v {
		v[i] *= n
	}
	return nil
}

// dotGeneric is the portable inner product, unrolled by four so the
// compiler keeps four independent accumulators.
func dotGeneric(a, b []float32) float32 {
	b = b[:len(a)]
	var s0, s1, s2, s3 float32
	i := 0
	for ; i+4 <= len(a); i += 4 {
		s0 += a[i] * b[i]
		s1 += a[i+1] * b[i+1]
		s2 += a[i+2] * b[i+2]
		s3 += a[i+3] * b[i+3]
	}
	for ; i < len(a); i++ {
		s0 += a[i] * b[i]
	}
	return s0 + s1 + s2 + s3
}

// Hit is one search result: the record id and its cosine similarity.
type Hit struct {
	ID    string
	Score float32
}

// Exact is a brute-force index over normalized vectors: every vector is
// compared with the query. It is the reference that approximate indexes are
// measured against (NewExact: float rows only), and the index of small
// collections (NewExactScan: int8 codes first, then the float rows of the
// best candidates, see sq8.go).
type Exact struct {
	dim  int
	ids  []string
	vecs [][]float32
	pos  map[string]int
	sq   *sq8 // nil: the float scan alone
}

// NewExact returns an empty index for vectors of dimension dim that scores
// every float row: the same as NewExactScan with ScanConfig.Float.
func NewExact(dim int) *Exact { return NewExactScan(dim, ScanConfig{Float: true}) }

// NewExactScan returns an empty index for vectors of dimension dim that
// scans as cfg says; the zero ScanConfig is the quantized scan.
func NewExactScan(dim int, cfg ScanConfig) *Exact {
	x := &Exact{dim: dim, pos: map[string]int{}}
	if !cfg.Float {
		x.sq = &sq8{oversample: cfg.Oversample, workers: cfg.Workers}
		if x.sq.oversample <= 0 {
			x.sq.oversample = DefaultOversample
		}
		if x.sq.workers <= 0 {
			x.sq.workers = DefaultWorkers
		}
	}
	return x
}

// Add inserts or replaces id's vector, normalizing a copy.
func (x *Exact) Add(id string, v []float32) error {
	if len(v) != x.dim {
		return fmt.Errorf("%w: %d, want %d", ErrDimension, len(v), x.dim)
	}
	c := append([]float32(nil), v...)
	if err := Normalize(c); err != nil {
		return err
	}
	i, ok := x.pos[id]
	if ok {
		x.vecs[i] = c
	} else {
		i = len(x.ids)
		x.pos[id] = i
		x.ids = append(x.ids, id)
		x.vecs = append(x.vecs, c)
	}
	if x.sq != nil {
		x.sq.set(i, x.dim, c)
	}
	return nil
}

// Delete removes id; an erased record must never be found again. The last
// slot moves into the freed one, its codes with it.
func (x *Exact) Delete(id string) {
	i, ok := x.pos[id]
	if !ok {
		return
	}
	last := len(x.ids) - 1
	x.ids[i], x.vecs[i] = x.ids[last], x.vecs[last]
	x.pos[x.ids[i]] = i
	x.ids, x.vecs = x.ids[:last], x.vecs[:last]
	delete(x.pos, id)
	if x.sq != nil {
		x.sq.move(i, x.dim)
	}
}

// Len is the number of vectors held.
func (x *Exact) Len() int { return len(x.ids) }

// Search returns the k vectors most similar to q, best first.
func (x *Exact) Search(q []float32, k int) ([]Hit, error) { return x.SearchFunc(q, k, nil) }

// SearchFunc is Search restricted to the ids keep accepts (nil keeps all).
func (x *Exact) SearchFunc(q []float32, k int, keep func(id string) bool) ([]Hit, error) {
	if len(q) != x.dim {
		return nil, fmt.Errorf("%w: %d, want %d", ErrDimension, len(q), x.dim)
	}
	c := append([]float32(nil), q...)
	if err := Normalize(c); err != nil {
		return nil, err
	}
	if k <= 0 {
		return nil, nil
	}
	if x.sq != nil {
		return x.searchSQ8(c, k, keep), nil
	}
	return x.searchFloat(c, k, keep), nil
}

// searchFloat scores every float row against the normalized query c. It
// keeps the best k in a bounded heap instead of sorting every score: at
// 100k vectors the sort alone costs as much as the dot products.
func (x *Exact) searchFloat(c []float32, k int, keep func(id string) bool) []Hit {
	var top maxHeap = make([]cand, 0, k+1) // distance 1-score, worst on top
	for i, v := range x.vecs {
		d := 1 - Dot(c, v)
		if len(top) == k && d >= top[0].d {
			continue
		}
		if keep != nil && !keep(x.ids[i]) {
			continue
		}
		top.push(cand{d: d, slot: uint32(i)})
		if len(top) > k {
			top.pop()
		}
	}
	return x.hits(top)
}

// hits empties a heap of float distances into hits, best first.
func (x *Exact) hits(top maxHeap) []Hit {
	hits := make([]Hit, len(top))
	for i := len(top) - 1; i >= 0; i-- {
		c := top.pop()
		hits[i] = Hit{ID: x.ids[c.slot], Score: 1 - c.d}
	}
	return hits
}
