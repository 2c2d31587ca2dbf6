package vectors

import (
	"math"
	"math/rand/v2"
	"slices"
	"strconv"
	"testing"
)

// TestDotInt8_MatchesPortableLoopExactly checks the AVX2 kernel against
// the portable loop on every length around its 32- and 16-wide steps, on
// slices that start off any boundary, over the whole int8 range, and at
// the extreme where every product is the largest one (-128 x -128).
func TestDotInt8_MatchesPortableLoopExactly(t *testing.T) {
	r := rand.New(rand.NewPCG(7, 8))
	for _, n := range append(seq(0, 100), 383, 384, 385, 1536, 4096) {
		for off := range 3 {
			a := make([]int8, n+off)
			b := make([]int8, n+off+5)
			for i := range a {
				a[i] = int8(r.IntN(256) - 128)
			}
			for i := range b {
				b[i] = int8(r.IntN(256) - 128)
			}
			if got, want := DotInt8(a[off:], b[off:]), dotInt8Generic(a[off:], b[off:]); got != want {
				t.Fatalf("n=%d off=%d: DotInt8 %d, portable %d", n, off, got, want)
			}
		}
	}
	for _, c := range []struct {
		a, b int8
		n    int
		want int32
	}{
		{-128, -128, 4096, 4096 * 16384},
		{-128, 127, 4099, 4099 * -16256},
		{127, 127, 31, 31 * 16129},
		{1, -1, 17, -17},
	} {
		a, b := make([]int8, c.n), make([]int8, c.n)
		for i := range a {
			a[i], b[i] = c.a, c.b
		}
		if got := DotInt8(a, b); got != c.want {
			t.Fatalf("%d x %d x %d: DotInt8 %d, want %d", c.n, c.a, c.b, got, c.want)
		}
	}
	if got := DotInt8([]int8{1, -2, 3}, []int8{4, 5, 6, 7}); got != 12 {
		t.Fatalf("DotInt8 = %d, want 12", got)
	}
}

func seq(lo, hi int) []int {
	var s []int
	for i := lo; i <= hi; i++ {
		s = append(s, i)
	}
	return s
}

// TestQuantize_ErrorIsWithinHalfAStep: every code is within [-127, 127],
// the largest component gets +-127, and scale x code is within half a
// scale step of the value.
func TestQuantize_ErrorIsWithinHalfAStep(t *testing.T) {
	for i, v := range randomVectors(3, 50, 97) {
		if i%2 == 1 {
			Normalize(v)
		}
		codes := make([]int8, len(v))
		s := quantize(codes, v)
		peak := false
		for j, f := range v {
			if codes[j] == -128 {
				t.Fatalf("vector %d: code -128", i)
			}
			if e := math.Abs(float64(f - s*float32(codes[j]))); e > float64(s)/2*1.0001 {
				t.Fatalf("vector %d dim %d: %v encoded %d x %v, error %v", i, j, f, codes[j], s, e)
			}
			peak = peak || codes[j] == 127 || codes[j] == -127
		}
		if !peak {
			t.Fatalf("vector %d: no component reaches the full range", i)
		}
	}
	codes := []int8{9, 9}
	if s := quantize(codes, []float32{0, 0}); s != 0 || codes[0] != 0 || codes[1] != 0 {
		t.Fatalf("zero vector: scale %v, codes %v", s, codes)
	}
}

// TestExactScan_RecallAgainstTheFloatScan measures the quantized scan's
// recall@10 against the float scan on 20k vectors of 384 dimensions, random
// and clustered, with one goroutine and with two, and checks that every
// hit both return carries the very same score (the rerank is exact). An
// oversample of 1 (no rerank margin) must do measurably worse on random
// data, so the figure is the oversample's doing.
func TestExactScan_RecallAgainstTheFloatScan(t *testing.T) {
	if testing.Short() {
		t.Skip("20k vectors")
	}
	for _, tc := range []struct {
		name   string
		vs, qs [][]float32
	}{
		{"random", randomVectors(21, 20000, 384), randomVectors(22, 100, 384)},
		{"clustered", clusteredVectors(21, 20000, 384), clusteredVectors(22, 100, 384)},
	} {
		t.Run(tc.name, func(t *testing.T) {
			ref := NewExact(384)
			one := NewExactScan(384, ScanConfig{Workers: 1})
			two := NewExactScan(384, ScanConfig{Workers: 2})
			bare := NewExactScan(384, ScanConfig{Oversample: 1, Workers: 1})
			for i, v := range tc.vs {
				id := strconv.Itoa(i)
				for _, x := range []*Exact{ref, one, two, bare} {
					if err := x.Add(id, v); err != nil {
						t.Fatal(err)
					}
				}
			}
			recall := map[*Exact]float64{}
			for _, q := range tc.qs {
				want, _ := ref.Search(q, 10)
				score := map[string]float32{}
				for _, h := range want {
					score[h.ID] = h.Score
				}
				for _, x := range []*Exact{one, two, bare} {
					got, err := x.Search(q, 10)
					if err != nil || len(got) != 10 {
						t.Fatalf("%d hits, %v", len(got), err)
					}
					for j, h := range got {
						if j > 0 && h.Score > got[j-1].Score {
							t.Fatalf("hits out of order: %v", got)
						}
						if s, ok := score[h.ID]; ok {
							recall[x] += 0.001
							if s != h.Score {
								t.Fatalf("%s scored %v, the float scan %v", h.ID, h.Score, s)
							}
						}
					}
				}
			}
			t.Logf("recall@10: one goroutine %.3f, two %.3f, oversample 1 %.3f", recall[one], recall[two], recall[bare])
			if recall[one] < 0.95 || recall[two] < recall[one] {
				t.Fatalf("recall@10 %.3f (two goroutines %.3f), want >= 0.95", recall[one], recall[two])
			}
			if tc.name == "random" && recall[bare] >= recall[one] {
				t.Fatalf("oversample 1 reached %.3f, default %.3f", recall[bare], recall[one])
			}
		})
	}
}

// TestExactScan_KeepsCodesInStepAndNeverReturnsDeleted replaces and deletes
// vectors in a quantized index large enough for the code pass to run
// (k x oversample below n): afterwards every slot's codes are those of its
// own float row, no deleted id comes back even when its own vector is the
// query, and a replaced id is found at its new place only.
func TestExactScan_KeepsCodesInStepAndNeverReturnsDeleted(t *testing.T) {
	vs := randomVectors(31, 3000, 64)
	x := NewExactScan(64, ScanConfig{})
	for i, v := range vs {
		if err := x.Add(strconv.Itoa(i), v); err != nil {
			t.Fatal(err)
		}
	}
	deleted := map[string]bool{}
	for i := 0; i < len(vs); i += 3 {
		x.Delete(strconv.Itoa(i))
		deleted[strconv.Itoa(i)] = true
	}
	x.Delete("no such id")
	if err := x.Add("1", vs[0]); err != nil { // 1 now sits where 0 was
		t.Fatal(err)
	}
	if x.Len() != 2000 || len(x.sq.scales) != 2000 || len(x.sq.codes) != 2000*64 {
		t.Fatalf("Len %d, %d scales, %d codes", x.Len(), len(x.sq.scales), len(x.sq.codes))
	}
	want := make([]int8, 64)
	for i, v := range x.vecs {
		s := quantize(want, v)
		if s != x.sq.scales[i] || !slices.Equal(want, x.sq.codes[i*64:(i+1)*64]) {
			t.Fatalf("slot %d (%s): codes out of step with its row", i, x.ids[i])
		}
	}
	for i := 0; i < len(vs); i += 3 {
		hits, err := x.Search(vs[i], 10)
		if err != nil || len(hits) != 10 {
			t.Fatalf("%d hits, %v", len(hits), err)
		}
		for _, h := range hits {
			if deleted[h.ID] {
				t.Fatalf("deleted %s returned", h.ID)
			}
		}
		if i == 0 && hits[0].ID != "1" {
			t.Fatalf("replaced vector not found at its new place: %v", hits[:2])
		}
	}
	if hits, _ := x.Search(vs[1], 1); hits[0].ID == "1" {
		t.Fatal("replaced vector still found at its old place")
	}
	even := func(id string) bool { n, _ := strconv.Atoi(id); return n%2 == 0 }
	hits, _ := x.SearchFunc(vs[2], 10, even)
	if len(hits) != 10 || hits[0].ID != "2" {
		t.Fatalf("filtered: %v", hits)
	}
	for _, h := range hits {
		if !even(h.ID) || deleted[h.ID] {
			t.Fatalf("filtered search returned %s", h.ID)
		}
	}
}

// TestExactScan_SmallAndEmpty: an empty index answers nothing, k above the
// number of vectors answers them all in order, k <= 0 nothing, and a
// filter that keeps nothing nothing.
func TestExactScan_SmallAndEmpty(t *testing.T) {
	x := NewExactScan(8, ScanConfig{})
	q := []float32{1, 0, 0, 0, 0, 0, 0, 0}
	if hits, err := x.Search(q, 10); err != nil || len(hits) != 0 {
		t.Fatalf("empty: %v, %v", hits, err)
	}
	vs := randomVectors(41, 5, 8)
	for i, v := range vs {
		x.Add(strconv.Itoa(i), v)
	}
	ref := NewExact(8)
	for i, v := range vs {
		ref.Add(strconv.Itoa(i), v)
	}
	got, _ := x.Search(q, 50)
	want, _ := ref.Search(q, 50)
	if len(got) != 5 || !slices.Equal(got, want) {
		t.Fatalf("k > n: %v, float scan %v", got, want)
	}
	if hits, _ := x.Search(q, 0); hits != nil {
		t.Fatalf("k=0: %v", hits)
	}
	if hits, _ := x.SearchFunc(q, 3, func(string) bool { return false }); len(hits) != 0 {
		t.Fatalf("nothing kept: %v", hits)
	}
	big := NewExactScan(8, ScanConfig{Oversample: 2})
	for i, v := range randomVectors(42, 30, 8) {
		big.Add(strconv.Itoa(i), v)
	}
	if hits, _ := big.SearchFunc(q, 10, func(id string) bool { return id == "4" }); len(hits) != 1 || hits[0].ID != "4" {
		t.Fatalf("one kept, code pass: %v", hits)
	}
}

// TestIndex_ExactRangeIsQuantizedByDefault: NewIndex scans codes first,
// NewIndexScan with Float keeps the float scan alone.
func TestIndex_ExactRangeIsQuantizedByDefault(t *testing.T) {
	if x := NewIndex(16, 0, HNSWConfig{}); x.exact.sq == nil || x.exact.sq.oversample != DefaultOversample || x.exact.sq.workers != DefaultWorkers {
		t.Fatal("NewIndex does not use the quantized scan with its defaults")
	}
	if x := NewIndexScan(16, 0, HNSWConfig{}, ScanConfig{Float: true}); x.exact.sq != nil {
		t.Fatal("ScanConfig.Float still keeps codes")
	}
}
