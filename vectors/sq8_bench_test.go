package vectors

import (
	"fmt"
	"os"
	"slices"
	"strconv"
	"testing"
	"time"
)

// BenchmarkExactScan_100k puts 100k random 384-dimension vectors
// (LETHE_VECTORS_N to change n, LETHE_VECTORS_DATA=clustered for the
// clustered set of BenchmarkHNSW_100k) in one quantized index and runs the
// same 200 queries (top 10) through the float scan of its rows, the
// baseline, and through the quantized scan at several oversamples, on one
// goroutine and on two, in one run: recall@10 against the float scan,
// median and p99 latency of one query.
//
//	go test -run '^$' -bench ExactScan_100k -benchtime 200x -count 3 ./vectors/
func BenchmarkExactScan_100k(b *testing.B) {
	n := envInt("LETHE_VECTORS_N", 100000)
	vs, qs := randomVectors(1, n, 384), randomVectors(99, 200, 384)
	if os.Getenv("LETHE_VECTORS_DATA") == "clustered" {
		vs, qs = clusteredVectors(1, n, 384), clusteredVectors(99, 200, 384)
	}
	x := NewExactScan(384, ScanConfig{})
	for i, v := range vs {
		if err := x.Add(strconv.Itoa(i), v); err != nil {
			b.Fatal(err)
		}
	}
	truth := make([]map[string]bool, len(qs))
	for i, q := range qs {
		hits, _ := floatView(x).Search(q, 10)
		truth[i] = map[string]bool{}
		for _, h := range hits {
			truth[i][h.ID] = true
		}
	}
	b.Run("float", func(b *testing.B) {
		measureQueries(b, qs, truth, func(q []float32) []Hit {
			hits, _ := floatView(x).Search(q, 10)
			return hits
		})
	})
	for _, workers := range []int{1, 2} {
		for _, over := range []int{1, 2, 4, 8, 16} {
			b.Run(fmt.Sprintf("sq8-w%d-over%d", workers, over), func(b *testing.B) {
				x.sq.oversample, x.sq.workers = over, workers
				measureQueries(b, qs, truth, func(q []float32) []Hit {
					hits, _ := x.Search(q, 10)
					return hits
				})
			})
		}
	}
}

// floatView returns an index sharing x's rows that scans the float
// rows alone: the baseline over the very same vectors, without a second
// copy of 100k rows in memory.
func floatView(x *Exact) *Exact {
	v := *x
	v.sq = nil
	return &v
}

// measureQueries runs search on the queries in turn, one per iteration,
// and reports recall@10 against truth, and the median and p99 latency.
func measureQueries(b *testing.B, qs [][]float32, truth []map[string]bool, search func(q []float32) []Hit) {
	var lat []time.Duration
	found, asked := 0, 0
	for i := 0; b.Loop(); i++ {
		q := qs[i%len(qs)]
		t0 := time.Now()
		hits := search(q)
		lat = append(lat, time.Since(t0))
		for _, h := range hits {
			if truth[i%len(qs)][h.ID] {
				found++
			}
		}
		asked += 10
	}
	slices.Sort(lat)
	b.ReportMetric(float64(lat[len(lat)/2].Microseconds())/1000, "p50-ms")
	b.ReportMetric(float64(lat[len(lat)*99/100].Microseconds())/1000, "p99-ms")
	b.ReportMetric(float64(found)/float64(asked), "recall@10")
}

// BenchmarkCodePass_100k is the code pass alone over 100k rows of 384
// codes on one goroutine (no rerank): what the memory and the kernel cost.
func BenchmarkCodePass_100k(b *testing.B) {
	x := NewExactScan(384, ScanConfig{Workers: 1})
	for i, v := range randomVectors(1, envInt("LETHE_VECTORS_N", 100000), 384) {
		x.Add(strconv.Itoa(i), v)
	}
	q := randomVectors(2, 1, 384)[0]
	Normalize(q)
	cq, bias := queryCodes(q)
	for b.Loop() {
		x.coarse(cq, bias, 0, x.Len(), 160, nil)
	}
}

// BenchmarkDotU8I8_384 is one integer dot product of 384 codes, in cache:
// the AVX2 kernel, the portable loop, and the float32 kernel of the same
// length as the baseline.
func BenchmarkDotU8I8_384(b *testing.B) {
	u, s := make([]uint8, 384), make([]int8, 384)
	for i := range u {
		u[i], s[i] = uint8(i), int8(i%129-64)
	}
	b.Run("kernel", func(b *testing.B) {
		for b.Loop() {
			dotU8I8(u, s)
		}
	})
	b.Run("portable", func(b *testing.B) {
		for b.Loop() {
			dotU8I8Generic(u, s)
		}
	})
	x, y := make([]float32, 384), make([]float32, 384)
	b.Run("float-kernel", func(b *testing.B) {
		for b.Loop() {
			Dot(x, y)
		}
	})
}
