package vectors

import "golang.org/x/sys/cpu"

// useAVX2Int8 needs AVX2 alone: the integer kernel has no fused
// multiply-add to ask for.
var useAVX2Int8 = cpu.X86.HasAVX2

//go:noescape
func dotInt8AVX2(a, b []int8) int32

// DotInt8 is the inner product of a and b[:len(a)], exact in int32 for
// any length up to 2^17 (every product is at most 2^14).
func DotInt8(a, b []int8) int32 {
	b = b[:len(a)]
	if useAVX2Int8 {
		return dotInt8AVX2(a, b)
	}
	return dotInt8Generic(a, b)
}
