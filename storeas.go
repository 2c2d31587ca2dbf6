package lethe

// StoreAs finds an optional interface (a group-commit hint, key rotation,
// embeddings) on st or on a store it wraps. Wrappers such as the erasure
// journal's pass the Store methods through but cannot know every optional
// one, so they name what they wrap with Unwrap, as errors do. st is any
// so that a package's narrower store interface (keyring's) can be asked.
func StoreAs[T any](st any) (T, bool) {
	for st != nil {
		if t, ok := st.(T); ok {
			return t, true
		}
		u, ok := st.(interface{ Unwrap() Store })
		if !ok {
			break
		}
		st = u.Unwrap()
	}
	var zero T
	return zero, false
}
