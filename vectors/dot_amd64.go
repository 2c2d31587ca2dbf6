package vectors

import "golang.org/x/sys/cpu"

// useAVX2 is fixed at start by the CPU's features: AVX2 and FMA give eight
// multiply-adds per instruction, which the Go compiler does not emit by
// itself; without them the portable loop runs.
var useAVX2 = cpu.X86.HasAVX2 && cpu.X86.HasFMA

//go:noescape
func dotAVX2(a, b []float32) float32

// Dot is the inner product of a and b[:len(a)].
func Dot(a, b []float32) float32 {
	b = b[:len(a)]
	if useAVX2 {
		return dotAVX2(a, b)
	}
	return dotGeneric(a, b)
}
