package vectors

import (
	"math"
	"math/rand/v2"
	"testing"
)

// TestDot_MatchesPortableLoopAtEveryLength checks the vector kernel against
// the portable loop on every length around its 32- and 8-wide steps, and on
// slices that start off a 32-byte boundary.
func TestDot_MatchesPortableLoopAtEveryLength(t *testing.T) {
	r := rand.New(rand.NewPCG(5, 6))
	for n := 0; n <= 100; n++ {
		for off := range 3 {
			a := make([]float32, n+off)
			b := make([]float32, n+off+2)
			for i := range a {
				a[i] = r.Float32()*2 - 1
			}
			for i := range b {
				b[i] = r.Float32()*2 - 1
			}
			got, want := Dot(a[off:], b[off:]), dotGeneric(a[off:], b[off:])
			if math.Abs(float64(got-want)) > 1e-4 {
				t.Fatalf("n=%d off=%d: Dot %v, portable %v", n, off, got, want)
			}
		}
	}
	if got := Dot([]float32{1, 2, 3}, []float32{4, 5, 6, 7}); got != 32 {
		t.Fatalf("Dot = %v, want 32", got)
	}
}

func BenchmarkDot384(b *testing.B) {
	x, y := make([]float32, 384), make([]float32, 384)
	for i := range x {
		x[i], y[i] = float32(i), float32(384-i)
	}
	b.Run("kernel", func(b *testing.B) {
		for b.Loop() {
			Dot(x, y)
		}
	})
	b.Run("portable", func(b *testing.B) {
		for b.Loop() {
			dotGeneric(x, y)
		}
	})
}
