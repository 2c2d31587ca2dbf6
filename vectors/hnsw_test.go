package vectors

import (
	"errors"
	"math/rand/v2"
	"slices"
	"strconv"
	"testing"
)

// randomVectors draws n vectors uniform in [-1, 1]^dim: the hardest case
// for a graph index, because no vector has a neighbour much closer than the
// rest, and the one the figures are stated for.
func randomVectors(seed uint64, n, dim int) [][]float32 {
	r := rand.New(rand.NewPCG(seed, seed+1))
	vs := make([][]float32, n)
	for i := range vs {
		v := make([]float32, dim)
		for j := range v {
			v[j] = r.Float32()*2 - 1
		}
		vs[i] = v
	}
	return vs
}

// recallAt returns the share of the exact top k that the graph also finds.
func recallAt(t testing.TB, h *HNSW, x *Exact, qs [][]float32, k, ef int) float64 {
	t.Helper()
	found := 0
	for _, q := range qs {
		want, err := x.Search(q, k)
		if err != nil {
			t.Fatal(err)
		}
		got, err := h.Search(q, k, ef)
		if err != nil {
			t.Fatal(err)
		}
		ids := map[string]bool{}
		for _, g := range got {
			ids[g.ID] = true
		}
		for _, w := range want {
			if ids[w.ID] {
				found++
			}
		}
	}
	return float64(found) / float64(k*len(qs))
}

func build(t testing.TB, cfg HNSWConfig, vs [][]float32) (*HNSW, *Exact) {
	t.Helper()
	h, x := NewHNSW(len(vs[0]), cfg), NewExact(len(vs[0]))
	for i, v := range vs {
		id := strconv.Itoa(i)
		if err := h.Add(id, v); err != nil {
			t.Fatal(err)
		}
		if err := x.Add(id, v); err != nil {
			t.Fatal(err)
		}
	}
	return h, x
}

// TestHNSW_RecallAt10OnRandom384 is the recall figure at 10k
// vectors (BenchmarkHNSW_100k gives it at 100k).
func TestHNSW_RecallAt10OnRandom384(t *testing.T) {
	n := 10000
	if testing.Short() {
		n = 3000
	}
	h, x := build(t, HNSWConfig{Seed: 1}, randomVectors(1, n, 384))
	qs := randomVectors(99, 100, 384)
	if r := recallAt(t, h, x, qs, 10, 0); r < 0.95 {
		t.Fatalf("recall@10 = %.3f at n=%d, want >= 0.95", r, n)
	} else {
		t.Logf("recall@10 = %.3f at n=%d", r, n)
	}
	// A tiny candidate list must do worse: the figure above measures the
	// search, not a graph that happens to hold few enough nodes to scan.
	if r := recallAt(t, h, x, qs, 10, 10); r > 0.9 {
		t.Fatalf("recall@10 with ef=10 = %.3f: the test cannot tell a good search from a bad one", r)
	}
}

// TestHNSW_SameSeedSameGraph: the layer draws come from the seed alone, so
// two builds answer every query identically; another seed builds another
// graph.
func TestHNSW_SameSeedSameGraph(t *testing.T) {
	vs := randomVectors(2, 1500, 32)
	a, _ := build(t, HNSWConfig{Seed: 7}, vs)
	b, _ := build(t, HNSWConfig{Seed: 7}, vs)
	c, _ := build(t, HNSWConfig{Seed: 8}, vs)
	if !slices.EqualFunc(a.links, b.links, func(x, y [][]uint32) bool {
		return slices.EqualFunc(x, y, slices.Equal[[]uint32])
	}) {
		t.Fatal("same seed, same inserts: different links")
	}
	if slices.EqualFunc(a.links, c.links, func(x, y [][]uint32) bool {
		return slices.EqualFunc(x, y, slices.Equal[[]uint32])
	}) {
		t.Fatal("another seed built the same graph")
	}
	for _, q := range randomVectors(3, 20, 32) {
		ha, _ := a.Search(q, 10, 50)
		hb, _ := b.Search(q, 10, 50)
		if !slices.Equal(ha, hb) {
			t.Fatalf("same seed, different answers: %v vs %v", ha, hb)
		}
	}
}

// TestHNSW_DeletedNeverReturnedAndGraphStaysGood deletes a third of the
// vectors (several repairs run), checks that none of them comes back at any
// candidate list size, that recall over the survivors holds, and that
// freed slots are wiped and reused.
func TestHNSW_DeletedNeverReturnedAndGraphStaysGood(t *testing.T) {
	vs := randomVectors(4, 3000, 64)
	h, x := build(t, HNSWConfig{Seed: 1}, vs)
	deleted := map[string]bool{}
	for i := 0; i < len(vs); i += 3 {
		id := strconv.Itoa(i)
		h.Delete(id)
		x.Delete(id)
		deleted[id] = true
	}
	h.Delete("no such id") // a no-op
	if h.Len() != x.Len() || h.Len() != len(vs)-len(deleted) {
		t.Fatalf("Len = %d, exact %d", h.Len(), x.Len())
	}
	for i := 0; i < len(vs); i += 3 {
		for _, ef := range []int{10, 500} {
			hits, err := h.Search(vs[i], 20, ef)
			if err != nil {
				t.Fatal(err)
			}
			for _, hit := range hits {
				if deleted[hit.ID] {
					t.Fatalf("deleted %s returned for its own vector", hit.ID)
				}
			}
		}
	}
	if r := recallAt(t, h, x, randomVectors(5, 50, 64), 10, 200); r < 0.95 {
		t.Fatalf("recall@10 after deleting a third = %.3f", r)
	}
	h.Repair()
	if len(h.free) != len(deleted) || h.ndead != 0 {
		t.Fatalf("after Repair: %d free slots, %d dead; want %d, 0", len(h.free), h.ndead, len(deleted))
	}
	for _, s := range h.free {
		if slices.ContainsFunc(h.vec(s), func(f float32) bool { return f != 0 }) {
			t.Fatalf("freed slot %d still holds its vector", s)
		}
	}
	for s, ls := range h.links {
		for _, nb := range ls {
			for _, n := range nb {
				if h.ids[n] == "" {
					t.Fatalf("slot %d links to freed slot %d", s, n)
				}
			}
		}
	}
	slots := len(h.ids)
	for i, v := range randomVectors(6, len(deleted), 64) {
		if err := h.Add("new"+strconv.Itoa(i), v); err != nil {
			t.Fatal(err)
		}
		hits, _ := h.Search(v, 1, 100)
		if len(hits) != 1 || hits[0].ID != "new"+strconv.Itoa(i) {
			t.Fatalf("new vector %d not found first: %v", i, hits)
		}
	}
	if len(h.ids) != slots {
		t.Fatalf("slots grew from %d to %d: freed slots not reused", slots, len(h.ids))
	}
}

func TestHNSW_ReplaceFilterEmptyAndErrors(t *testing.T) {
	h := NewHNSW(4, HNSWConfig{Seed: 1})
	if hits, err := h.Search([]float32{1, 0, 0, 0}, 3, 0); err != nil || len(hits) != 0 {
		t.Fatalf("empty graph: %v, %v", hits, err)
	}
	for i, v := range [][]float32{{1, 0, 0, 0}, {0, 1, 0, 0}, {0, 0, 1, 0}, {0, 0, 0, 1}} {
		if err := h.Add(strconv.Itoa(i), v); err != nil {
			t.Fatal(err)
		}
	}
	// Replacing "0" moves it: its old direction finds something else.
	if err := h.Add("0", []float32{0, 0.1, 0, 1}); err != nil {
		t.Fatal(err)
	}
	if hits, _ := h.Search([]float32{0, 0, 0, 1}, 2, 0); len(hits) != 2 || hits[0].ID != "3" || hits[1].ID != "0" {
		t.Fatalf("after replace: %v", hits)
	}
	if h.Len() != 4 {
		t.Fatalf("Len after replace = %d", h.Len())
	}
	odd := func(id string) bool { return id == "1" || id == "3" }
	hits, _ := h.SearchFunc([]float32{0, 0, 0, 1}, 4, 0, odd)
	if len(hits) != 2 || hits[0].ID != "3" || hits[1].ID != "1" {
		t.Fatalf("filtered: %v", hits)
	}
	for _, id := range []string{"0", "1", "2", "3"} {
		h.Delete(id)
	}
	if hits, _ := h.Search([]float32{0, 0, 0, 1}, 4, 0); len(hits) != 0 || h.Len() != 0 {
		t.Fatalf("all deleted: %v, Len %d", hits, h.Len())
	}
	if err := h.Add("x", []float32{1, 2}); !errors.Is(err, ErrDimension) {
		t.Fatalf("short vector: %v", err)
	}
	if _, err := h.Search([]float32{1}, 1, 0); !errors.Is(err, ErrDimension) {
		t.Fatalf("short query: %v", err)
	}
	if err := h.Add("z", make([]float32, 4)); err == nil {
		t.Fatal("zero vector accepted")
	}
}
