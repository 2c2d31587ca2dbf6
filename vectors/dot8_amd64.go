package vectors

import "golang.org/x/sys/cpu"

// useAVX2Int8 needs AVX2 alone: the integer kernel has no fused
// multiply-add to ask for.
var useAVX2Int8 = cpu.X86.HasAVX2

//go:noescape
func dotU8I8AVX2(u []uint8, s []int8) int32

// dotU8I8 is the inner product of u and s[:len(u)] for s within
// [-64, 64], exact in int32.
func dotU8I8(u []uint8, s []int8) int32 {
	s = s[:len(u)]
	if useAVX2Int8 {
		return dotU8I8AVX2(u, s)
	}
	return dotU8I8Generic(u, s)
}
