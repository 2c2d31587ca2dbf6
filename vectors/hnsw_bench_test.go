package vectors

import (
	"fmt"
	"math/rand/v2"
	"os"
	"slices"
	"strconv"
	"testing"
	"time"
)

// BenchmarkHNSW_100k builds one graph over 100k random 384-dimension
// vectors (LETHE_VECTORS_N to change n; LETHE_HNSW_M and LETHE_HNSW_EFC to
// change the build) and measures, in the same run on the same queries,
// the exact scan and the graph at several candidate list sizes: recall@10
// against the exact answer, median and p99 latency of one query. The
// build time is reported with the graph's figures. LETHE_VECTORS_DATA=clustered
// draws the vectors around 1000 centres instead (see clusteredVectors).
//
//	go test -run '^$' -bench HNSW_100k -benchtime 200x -timeout 60m ./vectors/
func BenchmarkHNSW_100k(b *testing.B) {
	n := envInt("LETHE_VECTORS_N", 100000)
	cfg := HNSWConfig{M: envInt("LETHE_HNSW_M", 0), EfConstruction: envInt("LETHE_HNSW_EFC", 0), Seed: 1}
	vs, qs := randomVectors(1, n, 384), randomVectors(99, 200, 384)
	if os.Getenv("LETHE_VECTORS_DATA") == "clustered" {
		vs, qs = clusteredVectors(1, n, 384), clusteredVectors(99, 200, 384)
	}
	x := NewExact(384)
	for i, v := range vs {
		if err := x.Add(strconv.Itoa(i), v); err != nil {
			b.Fatal(err)
		}
	}
	start := time.Now()
	h := NewHNSW(384, cfg)
	for i, v := range vs {
		if err := h.Add(strconv.Itoa(i), v); err != nil {
			b.Fatal(err)
		}
	}
	build := time.Since(start)
	truth := make([]map[string]bool, len(qs))
	for i, q := range qs {
		hits, _ := x.Search(q, 10)
		truth[i] = map[string]bool{}
		for _, h := range hits {
			truth[i][h.ID] = true
		}
	}
	measure := func(b *testing.B, search func(q []float32) []Hit) {
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
	b.Run("exact", func(b *testing.B) {
		measure(b, func(q []float32) []Hit { hits, _ := x.Search(q, 10); return hits })
	})
	for _, ef := range []int{200, 800, 1600, 3200, 6400} {
		b.Run(fmt.Sprintf("hnsw-ef%d", ef), func(b *testing.B) {
			measure(b, func(q []float32) []Hit { hits, _ := h.Search(q, 10, ef); return hits })
			b.ReportMetric(build.Seconds(), "build-s")
		})
	}
}

// clusteredVectors draws n vectors around 1000 random centres (the same
// centres for every seed), each centre plus uniform noise of the same
// scale: neighbours are then much closer than strangers, as with real
// text embeddings, whose effective dimension is far below 384.
func clusteredVectors(seed uint64, n, dim int) [][]float32 {
	centres := randomVectors(12345, 1000, dim)
	noise := randomVectors(seed, n, dim)
	r := rand.New(rand.NewPCG(seed, 7))
	for i, v := range noise {
		c := centres[r.IntN(len(centres))]
		for j := range v {
			v[j] = c[j] + v[j]
		}
		noise[i] = v
	}
	return noise
}

func envInt(name string, def int) int {
	if v, err := strconv.Atoi(os.Getenv(name)); err == nil {
		return v
	}
	return def
}
