package vectors

import (
	"math/rand/v2"
	"strconv"
	"testing"
)

// BenchmarkExactSearch measures one k=10 query over 10k random 384-dim vectors.
func BenchmarkExactSearch(b *testing.B) {
	r := rand.New(rand.NewPCG(3, 4))
	const n, dim = 10000, 384
	x := NewExact(dim)
	for i := range n {
		v := make([]float32, dim)
		for j := range v {
			v[j] = r.Float32()*2 - 1
		}
		if err := x.Add(strconv.Itoa(i), v); err != nil {
			b.Fatal(err)
		}
	}
	q := make([]float32, dim)
	for j := range q {
		q[j] = r.Float32()*2 - 1
	}
	b.ResetTimer()
	for b.Loop() {
		if _, err := x.Search(q, 10); err != nil {
			b.Fatal(err)
		}
	}
}
