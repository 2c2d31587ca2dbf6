package vectors

import (
	"fmt"
	"math"
	"math/rand/v2"
	"slices"
	"strconv"
	"testing"
)

// TestDotU8I8_MatchesPortableLoopExactly checks the AVX2 kernel against
// the portable loop on every length around its 64- and 32-wide steps, on
// slices that start off any boundary, over the whole range of both sides
// (bytes 0..255, signed codes -64..64), and at the extremes where every
// pair is the largest VPMADDUBSW must hold without saturating.
func TestDotU8I8_MatchesPortableLoopExactly(t *testing.T) {
	r := rand.New(rand.NewPCG(7, 8))
	for _, n := range append(seq(0, 130), 383, 384, 385, 1536, 4096) {
		for off := range 3 {
			u := make([]uint8, n+off)
			s := make([]int8, n+off+5)
			for i := range u {
				u[i] = uint8(r.IntN(256))
			}
			for i := range s {
				s[i] = int8(r.IntN(129) - 64)
			}
			if got, want := dotU8I8(u[off:], s[off:]), dotU8I8Generic(u[off:], s[off:]); got != want {
				t.Fatalf("n=%d off=%d: kernel %d, portable %d", n, off, got, want)
			}
		}
	}
	for _, c := range []struct {
		u    uint8
		s    int8
		n    int
		want int32
	}{
		{255, 64, 4096, 4096 * 16320},
		{255, -64, 4099, 4099 * -16320},
		{255, -64, 63, 63 * -16320},
		{1, -1, 17, -17},
		{0, 64, 100, 0},
	} {
		u, s := make([]uint8, c.n), make([]int8, c.n)
		for i := range u {
			u[i], s[i] = c.u, c.s
		}
		if got := dotU8I8(u, s); got != c.want {
			t.Fatalf("%d x %d x %d: kernel %d, want %d", c.n, c.u, c.s, got, c.want)
		}
	}
	if got := dotU8I8([]uint8{1, 2, 3}, []int8{4, -5, 6, 7}); got != 12 {
		t.Fatalf("dotU8I8 = %d, want 12", got)
	}
}

func seq(lo, hi int) []int {
	var s []int
	for i := lo; i <= hi; i++ {
		s = append(s, i)
	}
	return s
}

// TestQuantize_ErrorIsWithinHalfAStep: at the rows' and the query's
// number of levels, every code is within range, the largest component
// gets the full range, scale x code is within half a step of the value,
// and a row's stored form is its codes plus the bias.
func TestQuantize_ErrorIsWithinHalfAStep(t *testing.T) {
	for _, levels := range []int{rowLevels, queryLevels} {
		for i, v := range randomVectors(3, 50, 97) {
			if i%2 == 1 {
				Normalize(v)
			}
			codes := make([]int8, len(v))
			s := quantize(codes, v, levels)
			peak := false
			for j, f := range v {
				if c := int(codes[j]); c < -levels || c > levels {
					t.Fatalf("vector %d: code %d beyond %d", i, c, levels)
				}
				if e := math.Abs(float64(f - s*float32(codes[j]))); e > float64(s)/2*1.0001 {
					t.Fatalf("vector %d dim %d: %v encoded %d x %v, error %v", i, j, f, codes[j], s, e)
				}
				peak = peak || int(codes[j]) == levels || int(codes[j]) == -levels
			}
			if !peak {
				t.Fatalf("vector %d: no component reaches the full range", i)
			}
		}
	}
	codes := []int8{9, 9}
	if s := quantize(codes, []float32{0, 0}, rowLevels); s != 0 || codes[0] != 0 || codes[1] != 0 {
		t.Fatalf("zero vector: scale %v, codes %v", s, codes)
	}
	var sq sq8
	sq.set(0, 3, []float32{-1, 0, 0.5})
	if !slices.Equal(sq.codes, []uint8{1, 128, 192}) || sq.scales[0] != 1.0/127 {
		t.Fatalf("stored row %v scale %v", sq.codes, sq.scales)
	}
	cq, bias := queryCodes([]float32{0.5, -0.25, 0.5})
	if !slices.Equal(cq, []int8{64, -32, 64}) || bias != 128*96 {
		t.Fatalf("query codes %v bias %d", cq, bias)
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
	for i, v := range x.vecs {
		var want sq8
		want.set(0, 64, v)
		if want.scales[0] != x.sq.scales[i] || !slices.Equal(want.codes, x.sq.codes[i*64:(i+1)*64]) {
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

// TestIndex_QuantizedSearchesBesideWrites runs searches on two goroutines
// each (the parallel code pass) while vectors are added, replaced and
// deleted, for the race detector; every answer is in order, of live ids
// only at the time it was given, and the final state is consistent.
func TestIndex_QuantizedSearchesBesideWrites(t *testing.T) {
	vs := randomVectors(51, 4000, 384) // 4000 x 384 is past parallelMin
	x := NewIndex(384, 0, HNSWConfig{})
	for i, v := range vs[:3000] {
		if err := x.Add(strconv.Itoa(i), v); err != nil {
			t.Fatal(err)
		}
	}
	done := make(chan struct{})
	errs := make(chan error, 2)
	for g := range 2 {
		go func() {
			for i := g; ; i += 2 {
				select {
				case <-done:
					errs <- nil
					return
				default:
				}
				hits, err := x.Search(vs[i%len(vs)], 10, 0, nil)
				if err == nil && len(hits) != 10 {
					err = fmt.Errorf("%d hits", len(hits))
				}
				for j := 1; err == nil && j < len(hits); j++ {
					if hits[j].Score > hits[j-1].Score {
						err = fmt.Errorf("out of order: %v", hits)
					}
				}
				if err != nil {
					errs <- err
					return
				}
			}
		}()
	}
	for i := 3000; i < 4000; i++ {
		x.Add(strconv.Itoa(i), vs[i])
		x.Delete(strconv.Itoa(i - 3000))
		x.Add(strconv.Itoa(i-2000), vs[i-1000])
	}
	close(done)
	for range 2 {
		if err := <-errs; err != nil {
			t.Fatal(err)
		}
	}
	if x.Len() != 3000 {
		t.Fatalf("Len %d, want 3000", x.Len())
	}
	for i := 0; i < 1000; i += 97 {
		hits, _ := x.Search(vs[i], 10, 0, nil)
		for _, h := range hits {
			if n, _ := strconv.Atoi(h.ID); n < 1000 {
				t.Fatalf("deleted %s returned", h.ID)
			}
		}
	}
}
