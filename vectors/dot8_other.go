//go:build !amd64

package vectors

// dotU8I8 is the inner product of u and s[:len(u)] for s within
// [-64, 64], exact in int32.
func dotU8I8(u []uint8, s []int8) int32 { return dotU8I8Generic(u, s) }
