//go:build !amd64

package vectors

// DotInt8 is the inner product of a and b[:len(a)], exact in int32 for
// any length up to 2^17 (every product is at most 2^14).
func DotInt8(a, b []int8) int32 { return dotInt8Generic(a, b) }
