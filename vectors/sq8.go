package vectors

import (
	"math"
	"slices"
	"sync"
)

// The quantized scan (ADR 0019, decision 2). At 100k vectors of 384
// dimensions the float rows are 154 MB, and one exact query streams all of
// them from memory: that, not the arithmetic, bounds the float scan. Each
// row is therefore also kept as 384 int8 codes (a quarter of the bytes),
// a first pass ranks every row by its codes and keeps R = k x oversample
// candidates, and the float rows of those alone are scored exactly. The
// answer's scores are the float scan's, only the candidate list is
// approximate, and the oversample makes a miss rare (BENCHMARKS.md).

// DefaultOversample is the candidates per answer the code pass keeps for
// the exact rerank. Chosen by measurement (BENCHMARKS.md, "Vector search",
// quantized scan): on random and clustered 384-dimension vectors recall@10
// is 0.98 with no margin and 1.000 from 4 on, and rescoring 160 float rows
// (160 dot products of ~26 ns) is lost in the code pass's milliseconds, so
// a generous margin is nearly free.
const DefaultOversample = 16

// DefaultWorkers is how many goroutines share the code pass of one query.
// Two, the cores of the machine it was measured on: the median drops when
// the other core is free (6.20 to 5.28 ms at 100k clustered vectors), and
// the split costs about 3 % more CPU when it is not.
const DefaultWorkers = 2

// parallelMin is the work (rows x dimension) below which one goroutine
// does the code pass: starting and joining another costs microseconds,
// which a pass of under 2^20 codes (a few thousand rows) does not repay.
// Chosen by that reasoning, not measured at the boundary.
const parallelMin = 1 << 20

// ScanConfig chooses how an Exact index scans. The zero value is the
// quantized scan with its defaults.
type ScanConfig struct {
	// Float keeps no codes and scores every float row: the reference the
	// quantized scan is measured against, and the fallback for data whose
	// codes would rank poorly.
	Float bool
	// Oversample is the candidates per answer the code pass keeps; 0
	// means DefaultOversample.
	Oversample int
	// Workers is the goroutines of one query's code pass; 0 means
	// DefaultWorkers. A search with a keep function uses one, so that
	// keep need not be safe for concurrent use.
	Workers int
}

// sq8 holds one code row per vector, in the same slots as Exact's ids.
//
// The scale is per vector (v ~ scale x code): a row's codes then depend on
// that row alone, so an insert, replace or delete touches its own row and
// never re-encodes the others, and there is no training set whose drift
// would call for it. A per-dimension scale would fit each dimension's own
// range better, but normalized embeddings have similar ranges in every
// dimension, and the rerank absorbs what is left.
//
// A row's codes are in [-127, 127] and stored biased by 128 as bytes in
// [1, 255]; the query's codes are in [-64, 64]. That is what lets the
// kernel use VPMADDUBSW (unsigned x signed bytes, 32 a step) without ever
// saturating, about three times fewer instructions than widening both
// sides to int16 first. The bias adds 128 x sum(query codes) to every
// row's product, the same for all rows, and is taken off before scaling.
// The query loses one bit; the rerank makes up for it (recall figures in
// BENCHMARKS.md).
type sq8 struct {
	oversample, workers int
	codes               []uint8   // len(ids) x dim, biased, contiguous for the scan
	scales              []float32 // one per slot
}

const (
	rowLevels   = 127 // row codes in [-rowLevels, rowLevels]
	queryLevels = 64  // query codes in [-queryLevels, queryLevels]
	rowBias     = 128
)

// quantize writes v's codes into dst (len(dst) == len(v)), each within
// [-levels, levels], and returns the scale: v[i] ~ scale x dst[i].
func quantize(dst []int8, v []float32, levels int) float32 {
	var m float32
	for _, f := range v {
		m = max(m, float32(math.Abs(float64(f))))
	}
	if m == 0 {
		clear(dst)
		return 0
	}
	l := float64(levels)
	inv := float32(l) / m
	for i, f := range v {
		dst[i] = int8(min(l, max(-l, math.Round(float64(f*inv)))))
	}
	return m / float32(levels)
}

// set encodes v into slot i, appending a row when i is the next slot.
func (s *sq8) set(i, dim int, v []float32) {
	if n := len(s.scales); i == n {
		s.codes = slices.Grow(s.codes, dim)[:(n+1)*dim]
		s.scales = append(s.scales, 0)
	}
	c := make([]int8, dim)
	s.scales[i] = quantize(c, v, rowLevels)
	row := s.codes[i*dim : (i+1)*dim]
	for j, x := range c {
		row[j] = uint8(int(x) + rowBias)
	}
}

// move copies the last row into slot i and drops the last, as Exact.Delete
// does with its ids.
func (s *sq8) move(i, dim int) {
	last := len(s.scales) - 1
	copy(s.codes[i*dim:(i+1)*dim], s.codes[last*dim:])
	s.scales[i] = s.scales[last]
	s.codes, s.scales = s.codes[:last*dim], s.scales[:last]
}

// coarse ranks rows lo..hi by their codes against the query codes cq,
// whose product with a stored row is too large by bias, and keeps the
// best r that keep accepts, worst on top. The ranking key is the row's
// scale times the unbiased integer dot product; the query's own scale is
// the same for every row and left out.
func (x *Exact) coarse(cq []int8, bias int32, lo, hi, r int, keep func(id string) bool) maxHeap {
	top := make(maxHeap, 0, r+1)
	dim, codes, scales := x.dim, x.sq.codes, x.sq.scales
	for i := lo; i < hi; i++ {
		d := -scales[i] * float32(dotU8I8(codes[i*dim:(i+1)*dim], cq)-bias)
		if len(top) == r && d >= top[0].d {
			continue
		}
		if keep != nil && !keep(x.ids[i]) {
			continue
		}
		top.push(cand{d: d, slot: uint32(i)})
		if len(top) > r {
			top.pop()
		}
	}
	return top
}

// queryCodes quantizes a normalized query and returns its codes and the
// bias the rows' stored form adds to each product.
func queryCodes(c []float32) ([]int8, int32) {
	cq := make([]int8, len(c))
	quantize(cq, c, queryLevels)
	var sum int32
	for _, x := range cq {
		sum += int32(x)
	}
	return cq, rowBias * sum
}

// searchSQ8 is the two-pass search of a normalized query c.
func (x *Exact) searchSQ8(c []float32, k int, keep func(id string) bool) []Hit {
	n := len(x.ids)
	r := k * x.sq.oversample
	if r >= n { // every row would be rescored anyway
		return x.searchFloat(c, k, keep)
	}
	cq, bias := queryCodes(c)
	workers := x.sq.workers
	if keep != nil || n*x.dim < parallelMin {
		workers = 1
	}
	var cands []cand
	if workers == 1 {
		cands = x.coarse(cq, bias, 0, n, r, keep)
	} else {
		// Each part keeps its own best r, so their union holds the
		// overall best r whatever the scheduling: the answer does not
		// depend on which goroutine finished first.
		parts := make([]maxHeap, workers)
		var wg sync.WaitGroup
		for w := range workers {
			lo, hi := n*w/workers, n*(w+1)/workers
			wg.Go(func() { parts[w] = x.coarse(cq, bias, lo, hi, r, nil) })
		}
		wg.Wait()
		for _, p := range parts {
			cands = append(cands, p...)
		}
	}
	top := make(maxHeap, 0, k+1)
	for _, cd := range cands {
		d := 1 - Dot(c, x.vecs[cd.slot])
		if len(top) == k && d >= top[0].d {
			continue
		}
		top.push(cand{d: d, slot: cd.slot})
		if len(top) > k {
			top.pop()
		}
	}
	return x.hits(top)
}

// dotU8I8Generic is the portable integer inner product, the fallback and
// the reference the assembly is tested against.
func dotU8I8Generic(u []uint8, s []int8) int32 {
	s = s[:len(u)]
	var s0, s1, s2, s3 int32
	i := 0
	for ; i+4 <= len(u); i += 4 {
		s0 += int32(u[i]) * int32(s[i])
		s1 += int32(u[i+1]) * int32(s[i+1])
		s2 += int32(u[i+2]) * int32(s[i+2])
		s3 += int32(u[i+3]) * int32(s[i+3])
	}
	for ; i < len(u); i++ {
		s0 += int32(u[i]) * int32(s[i])
	}
	return s0 + s1 + s2 + s3
}
