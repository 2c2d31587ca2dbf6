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
// goroutine and on two. Each iteration is one query through every variant
// in turn, the first variant rotating, so that all of them meet the same
// moments of a shared machine's load. Reported per variant: recall@10
// against the float scan, median and p99 latency of one query, and the
// process's CPU time per query. The float scan streams 154 MB through the
// caches between the quantized queries and evicts their 38 MB of codes;
// LETHE_VECTORS_FLOAT=0 leaves it out of the rotation to measure the
// quantized scan with its codes as warm as a server's repeated searches
// keep them.
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
	flat := floatView(x)
	truth := make([]map[string]bool, len(qs))
	for i, q := range qs {
		hits, _ := flat.Search(q, 10)
		truth[i] = map[string]bool{}
		for _, h := range hits {
			truth[i][h.ID] = true
		}
	}
	type variant struct {
		name          string
		workers, over int // 0: the float scan
		lat           []time.Duration
		cpu           time.Duration
		found         int
	}
	var vars []*variant
	if os.Getenv("LETHE_VECTORS_FLOAT") != "0" {
		vars = append(vars, &variant{name: "float"})
	}
	for _, w := range []int{1, 2} {
		for _, o := range []int{1, 4, 16} {
			vars = append(vars, &variant{name: fmt.Sprintf("sq8-w%d-o%d", w, o), workers: w, over: o})
		}
	}
	for i := 0; b.Loop(); i++ {
		q := qs[i%len(qs)]
		for j := range vars {
			v := vars[(i+j)%len(vars)]
			idx := flat
			if v.over > 0 {
				x.sq.oversample, x.sq.workers, idx = v.over, v.workers, x
			}
			c0, t0 := processCPU(), time.Now()
			hits, _ := idx.Search(q, 10)
			v.lat = append(v.lat, time.Since(t0))
			v.cpu += processCPU() - c0
			for _, h := range hits {
				if truth[i%len(qs)][h.ID] {
					v.found++
				}
			}
		}
	}
	for _, v := range vars {
		slices.Sort(v.lat)
		m := len(v.lat)
		b.ReportMetric(float64(v.found)/float64(10*m), v.name+"-recall")
		b.ReportMetric(float64(v.lat[m/2].Microseconds())/1000, v.name+"-p50-ms")
		b.ReportMetric(float64(v.lat[m*99/100].Microseconds())/1000, v.name+"-p99-ms")
		b.ReportMetric(float64(v.cpu.Microseconds())/1000/float64(m), v.name+"-cpu-ms")
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
