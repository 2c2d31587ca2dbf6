package lethe

import (
	"encoding/binary"
	"fmt"
	"sort"
)

// EncodeSealed packs a record's sealed fields into one column value:
// for each field, sorted by name, uvarint name length, name, uvarint
// envelope length, envelope. Stores keep it as an opaque blob; the layout is
// in docs/format.md.
func EncodeSealed(m map[string][]byte) []byte {
	if len(m) == 0 {
		return nil
	}
	names := make([]string, 0, len(m))
	size := 0
	for k, v := range m {
		names = append(names, k)
		size += len(k) + len(v) + 2*binary.MaxVarintLen32
	}
	sort.Strings(names)
	out := make([]byte, 0, size)
	for _, k := range names {
		out = binary.AppendUvarint(out, uint64(len(k)))
		out = append(out, k...)
		out = binary.AppendUvarint(out, uint64(len(m[k])))
		out = append(out, m[k]...)
	}
	return out
}

// DecodeSealed reverses EncodeSealed.
func DecodeSealed(b []byte) (map[string][]byte, error) {
	m := make(map[string][]byte)
	for len(b) > 0 {
		name, rest, err := readChunk(b)
		if err != nil {
			return nil, fmt.Errorf("sealed fields: name: %w", err)
		}
		val, rest, err := readChunk(rest)
		if err != nil {
			return nil, fmt.Errorf("sealed fields: %s: %w", name, err)
		}
		m[string(name)] = val
		b = rest
	}
	return m, nil
}

func readChunk(b []byte) (chunk, rest []byte, err error) {
	n, k := binary.Uvarint(b)
	if k <= 0 || n > uint64(len(b)-k) {
		return nil, nil, fmt.Errorf("%w: truncated", ErrCrypto)
	}
	end := k + int(n)
	return b[k:end:end], b[end:], nil
}
