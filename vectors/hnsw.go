package vectors

import (
	"fmt"
	"math"
	"math/rand/v2"
	"slices"
	"sync"
)

// HNSWConfig tunes an HNSW graph. The zero value of a field takes its
// default, chosen on 384-dimension embeddings (see BENCHMARKS.md).
type HNSWConfig struct {
	// M is the number of links a node gets on the upper layers; layer 0
	// allows 2*M, as in the paper, because most of the search happens there.
	M int
	// EfConstruction is the candidate list of an insertion: larger builds
	// slower and finds better neighbours.
	EfConstruction int
	// EfSearch is the default candidate list of a query (Search with ef 0).
	EfSearch int
	// Seed makes the layer draws, and so the whole graph, reproducible:
	// the same inserts in the same order give the same graph.
	Seed uint64
	// RepairFraction is the share of tombstones at which Delete repairs the
	// graph (0.1 when zero).
	RepairFraction float64
}

func (c HNSWConfig) withDefaults() HNSWConfig {
	if c.M <= 0 {
		c.M = 16
	}
	if c.EfConstruction <= 0 {
		c.EfConstruction = 200
	}
	if c.EfSearch <= 0 {
		c.EfSearch = 800
	}
	if c.RepairFraction <= 0 {
		c.RepairFraction = 0.1
	}
	return c
}

// HNSW is a hierarchical navigable small world graph (Malkov and Yashunin,
// 2016) over normalized vectors, with cosine similarity as the score.
//
// Deletion marks a node dead (a tombstone): it is never returned again, but
// queries still walk through it so the graph stays connected. When the dead
// exceed RepairFraction of the nodes, every live node that links to a dead
// one is relinked to the dead one's live neighbours and the dead slots are
// wiped (vector zeroed) and reused. Walking through the dead keeps deletes
// O(1) on the request path; the repair keeps a graph with many deletes from
// decaying into one that routes through nothing.
//
// All methods are safe for concurrent use; searches run in parallel with
// each other, writes exclusively.
type HNSW struct {
	cfg  HNSWConfig
	dim  int
	ml   float64
	rng  *rand.Rand
	pool sync.Pool // *visited

	mu       sync.RWMutex
	vecs     []float32    // slot*dim .. slot*dim+dim
	ids      []string     // slot -> id; "" for a free slot
	links    [][][]uint32 // slot -> layer -> neighbour slots
	dead     []bool
	pos      map[string]uint32
	free     []uint32
	ndead    int
	entry    int64 // -1 when empty
	maxLevel int
}

// NewHNSW returns an empty graph for vectors of dimension dim.
func NewHNSW(dim int, cfg HNSWConfig) *HNSW {
	cfg = cfg.withDefaults()
	return &HNSW{
		cfg:   cfg,
		dim:   dim,
		ml:    1 / math.Log(float64(cfg.M)),
		rng:   rand.New(rand.NewPCG(cfg.Seed, cfg.Seed^0x9e3779b97f4a7c15)),
		pos:   map[string]uint32{},
		entry: -1,
	}
}

// Len is the number of live vectors.
func (h *HNSW) Len() int {
	h.mu.RLock()
	defer h.mu.RUnlock()
	return len(h.pos)
}

// Dim is the dimension the graph was made for.
func (h *HNSW) Dim() int { return h.dim }

func (h *HNSW) vec(s uint32) []float32 {
	o := int(s) * h.dim
	return h.vecs[o : o+h.dim : o+h.dim]
}

func (h *HNSW) maxLinks(layer int) int {
	if layer == 0 {
		return 2 * h.cfg.M
	}
	return h.cfg.M
}

// Add inserts id's vector (a normalized copy), replacing an earlier one.
func (h *HNSW) Add(id string, v []float32) error {
	if len(v) != h.dim {
		return fmt.Errorf("%w: %d, want %d", ErrDimension, len(v), h.dim)
	}
	c := append([]float32(nil), v...)
	if err := Normalize(c); err != nil {
		return err
	}
	h.mu.Lock()
	defer h.mu.Unlock()
	if _, ok := h.pos[id]; ok {
		h.deleteLocked(id)
	}
	level := int(-math.Log(1-h.rng.Float64()) * h.ml)
	var s uint32
	if n := len(h.free); n > 0 {
		s = h.free[n-1]
		h.free = h.free[:n-1]
		copy(h.vec(s), c)
		h.ids[s] = id
	} else {
		s = uint32(len(h.ids))
		h.vecs = append(h.vecs, c...)
		h.ids = append(h.ids, id)
		h.links = append(h.links, nil)
		h.dead = append(h.dead, false)
	}
	h.links[s] = make([][]uint32, level+1)
	h.pos[id] = s
	h.insert(s, level)
	return nil
}

// insert links slot s into every layer up to level.
func (h *HNSW) insert(s uint32, level int) {
	if h.entry < 0 {
		h.entry, h.maxLevel = int64(s), level
		return
	}
	q := h.vec(s)
	ep := cand{slot: uint32(h.entry)}
	ep.d = 1 - Dot(q, h.vec(ep.slot))
	for l := h.maxLevel; l > level; l-- {
		ep = h.greedy(q, ep, l)
	}
	vis := h.visitor()
	defer h.pool.Put(vis)
	eps := []cand{ep}
	for l := min(level, h.maxLevel); l >= 0; l-- {
		found := h.searchLayer(q, eps, h.cfg.EfConstruction, l, vis, h.live)
		if len(found) == 0 {
			continue
		}
		nb := h.selectNeighbours(q, found, h.cfg.M)
		h.links[s][l] = nb
		for _, n := range nb {
			h.link(n, s, l)
		}
		eps = found
	}
	if level > h.maxLevel {
		h.entry, h.maxLevel = int64(s), level
	}
}

// link adds to to from's list on layer l, pruning the list back to its
// bound with the same heuristic an insertion uses.
func (h *HNSW) link(from, to uint32, l int) {
	ls := append(h.links[from][l], to)
	if len(ls) <= h.maxLinks(l) {
		h.links[from][l] = ls
		return
	}
	base := h.vec(from)
	cs := make([]cand, len(ls))
	for i, n := range ls {
		cs[i] = cand{d: 1 - Dot(base, h.vec(n)), slot: n}
	}
	sortCands(cs)
	h.links[from][l] = h.selectNeighbours(base, cs, h.maxLinks(l))
}

func sortCands(cs []cand) {
	slices.SortFunc(cs, func(a, b cand) int {
		switch {
		case a.d < b.d:
			return -1
		case a.d > b.d:
			return 1
		}
		return int(a.slot) - int(b.slot)
	})
}

// selectNeighbours is the paper's heuristic (algorithm 4): a candidate is
// kept only if it is closer to the new node than to every neighbour kept
// so far, which spreads links in different directions instead of into one
// tight cluster. Candidates it prunes fill the remaining places, closest
// first: in high dimensions the heuristic prunes little that helps, and a
// full list raises recall. cs must be sorted by distance.
func (h *HNSW) selectNeighbours(q []float32, cs []cand, m int) []uint32 {
	out := make([]uint32, 0, m)
	var pruned []uint32
	for _, c := range cs {
		if len(out) >= m {
			break
		}
		good := true
		v := h.vec(c.slot)
		for _, r := range out {
			if 1-Dot(v, h.vec(r)) < c.d {
				good = false
				break
			}
		}
		if good {
			out = append(out, c.slot)
		} else {
			pruned = append(pruned, c.slot)
		}
	}
	for _, p := range pruned {
		if len(out) >= m {
			break
		}
		out = append(out, p)
	}
	return out
}

// greedy walks layer l towards q one best neighbour at a time.
func (h *HNSW) greedy(q []float32, ep cand, l int) cand {
	for changed := true; changed; {
		changed = false
		for _, n := range h.links[ep.slot][l] {
			if d := 1 - Dot(q, h.vec(n)); d < ep.d {
				ep, changed = cand{d: d, slot: n}, true
			}
		}
	}
	return ep
}

func (h *HNSW) live(s uint32) bool { return !h.dead[s] }

// searchLayer is the paper's algorithm 2 on layer l. Every node is walked,
// but only those accept keeps can enter the result, so dead and filtered
// nodes still route the search. It returns up to ef results sorted by
// distance.
func (h *HNSW) searchLayer(q []float32, eps []cand, ef, l int, vis *visited, accept func(uint32) bool) []cand {
	vis.reset(len(h.ids))
	var cands minHeap = make([]cand, 0, ef)
	var res maxHeap = make([]cand, 0, ef+1)
	for _, e := range eps {
		if vis.seen(e.slot) {
			continue
		}
		cands.push(e)
		if accept(e.slot) {
			res.push(e)
			if len(res) > ef {
				res.pop()
			}
		}
	}
	for len(cands) > 0 {
		c := cands.pop()
		if len(res) >= ef && c.d > res[0].d {
			break
		}
		for _, n := range h.links[c.slot][l] {
			if vis.seen(n) {
				continue
			}
			d := 1 - Dot(q, h.vec(n))
			if len(res) < ef || d < res[0].d {
				cands.push(cand{d: d, slot: n})
				if accept(n) {
					res.push(cand{d: d, slot: n})
					if len(res) > ef {
						res.pop()
					}
				}
			}
		}
	}
	out := make([]cand, len(res))
	for i := len(res) - 1; i >= 0; i-- {
		out[i] = res.pop()
	}
	return out
}

// Search returns the k live vectors most similar to q, best first, looking
// at ef candidates (the configured EfSearch when ef <= 0; never fewer than k).
func (h *HNSW) Search(q []float32, k, ef int) ([]Hit, error) {
	return h.SearchFunc(q, k, ef, nil)
}

// SearchFunc is Search restricted to the ids keep accepts (nil keeps all).
// A filter that rejects most ids makes the walk long and the recall low;
// callers with a narrow filter do better with an exact scan of their set.
func (h *HNSW) SearchFunc(q []float32, k, ef int, keep func(id string) bool) ([]Hit, error) {
	if len(q) != h.dim {
		return nil, fmt.Errorf("%w: %d, want %d", ErrDimension, len(q), h.dim)
	}
	c := append([]float32(nil), q...)
	if err := Normalize(c); err != nil {
		return nil, err
	}
	if k <= 0 {
		return nil, nil
	}
	if ef <= 0 {
		ef = h.cfg.EfSearch
	}
	ef = max(ef, k)
	h.mu.RLock()
	defer h.mu.RUnlock()
	if h.entry < 0 {
		return nil, nil
	}
	ep := cand{slot: uint32(h.entry)}
	ep.d = 1 - Dot(c, h.vec(ep.slot))
	for l := h.maxLevel; l > 0; l-- {
		ep = h.greedy(c, ep, l)
	}
	accept := h.live
	if keep != nil {
		accept = func(s uint32) bool { return !h.dead[s] && keep(h.ids[s]) }
	}
	vis := h.visitor()
	found := h.searchLayer(c, []cand{ep}, ef, 0, vis, accept)
	h.pool.Put(vis)
	if len(found) > k {
		found = found[:k]
	}
	hits := make([]Hit, len(found))
	for i, f := range found {
		hits[i] = Hit{ID: h.ids[f.slot], Score: 1 - f.d}
	}
	return hits, nil
}

// Delete removes id: from this call on no search returns it.
func (h *HNSW) Delete(id string) {
	h.mu.Lock()
	defer h.mu.Unlock()
	h.deleteLocked(id)
}

func (h *HNSW) deleteLocked(id string) {
	s, ok := h.pos[id]
	if !ok {
		return
	}
	delete(h.pos, id)
	h.dead[s] = true
	h.ndead++
	if len(h.pos) == 0 {
		h.reset()
		return
	}
	if float64(h.ndead) >= h.cfg.RepairFraction*float64(len(h.ids)-len(h.free)) {
		h.repair()
	}
	if h.entry == int64(s) {
		h.newEntry()
	}
}

// reset empties the graph, wiping every vector.
func (h *HNSW) reset() {
	clear(h.vecs)
	h.vecs, h.ids, h.links, h.dead, h.free = nil, nil, nil, nil, nil
	h.ndead, h.entry, h.maxLevel = 0, -1, 0
}

// newEntry makes the highest live node the entry point.
func (h *HNSW) newEntry() {
	h.entry, h.maxLevel = -1, 0
	for s, ls := range h.links {
		if ls == nil || h.dead[s] {
			continue
		}
		if h.entry < 0 || len(ls)-1 > h.maxLevel {
			h.entry, h.maxLevel = int64(s), len(ls)-1
		}
	}
}

// Repair relinks the live nodes around every tombstone and frees the dead
// slots, wiping their vectors. Delete calls it by itself past
// RepairFraction; callers may call it after a large erasure so that the
// erased vectors leave memory at once.
func (h *HNSW) Repair() {
	h.mu.Lock()
	defer h.mu.Unlock()
	if h.ndead > 0 {
		h.repair()
		h.newEntry()
	}
}

// repair gives each live node that links to a dead one, on each layer, the
// live neighbours of its dead neighbours as candidates and keeps the
// closest, up to the layer's bound. Candidates are ranked by distance only
// (not the insertion heuristic): the heuristic costs a distance per kept
// neighbour per candidate, which at 100k nodes turns a second into a minute.
func (h *HNSW) repair() {
	seen := map[uint32]bool{}
	for s, ls := range h.links {
		if ls == nil || h.dead[s] {
			continue
		}
		base := h.vec(uint32(s))
		for l, nb := range ls {
			if !slices.ContainsFunc(nb, func(n uint32) bool { return h.dead[n] }) {
				continue
			}
			clear(seen)
			seen[uint32(s)] = true
			var keep []uint32
			add := func(n uint32) {
				if !h.dead[n] && !seen[n] {
					seen[n] = true
					keep = append(keep, n)
				}
			}
			for _, n := range nb {
				if !h.dead[n] {
					add(n)
					continue
				}
				for _, nn := range h.links[n][l] {
					add(nn)
				}
			}
			if len(keep) > h.maxLinks(l) {
				cs := make([]cand, len(keep))
				for i, n := range keep {
					cs[i] = cand{d: 1 - Dot(base, h.vec(n)), slot: n}
				}
				sortCands(cs)
				keep = keep[:0]
				for _, c := range cs[:h.maxLinks(l)] {
					keep = append(keep, c.slot)
				}
			}
			ls[l] = keep
		}
	}
	for s := range h.links {
		if !h.dead[s] {
			continue
		}
		clear(h.vec(uint32(s)))
		h.ids[s], h.links[s], h.dead[s] = "", nil, false
		h.free = append(h.free, uint32(s))
	}
	h.ndead = 0
}

// visited marks nodes seen in one search with a generation number, so a
// search clears nothing: it bumps the generation.
type visited struct {
	gen   uint32
	marks []uint32
}

func (h *HNSW) visitor() *visited {
	if v, ok := h.pool.Get().(*visited); ok {
		return v
	}
	return &visited{}
}

func (v *visited) reset(n int) {
	if len(v.marks) < n {
		v.marks = make([]uint32, n+n/4)
		v.gen = 0
	}
	v.gen++
	if v.gen == 0 {
		clear(v.marks)
		v.gen = 1
	}
}

// seen marks s and reports whether it was already marked.
func (v *visited) seen(s uint32) bool {
	if v.marks[s] == v.gen {
		return true
	}
	v.marks[s] = v.gen
	return false
}
