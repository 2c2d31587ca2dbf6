package lethe

import (
	"bytes"
	"errors"
	"maps"
	"testing"
)

// FuzzDecodeSealed feeds arbitrary column values to DecodeSealed, which
// reads every stored record's sealed fields: it never panics (a corrupt
// row must fail, not crash the server), fails only with ErrCrypto, and
// what it decodes encodes back to bytes that decode to the same fields.
// Values are returned as capped sub-slices, so appending to one never
// overwrites the next field's bytes.
func FuzzDecodeSealed(f *testing.F) {
	valid := EncodeSealed(map[string][]byte{
		"email": bytes.Repeat([]byte{1}, 33),
		"name":  {1, 0, 0, 0, 1, 9, 9},
		"x":     {},
	})
	f.Add(valid)
	f.Add([]byte{})
	f.Add([]byte{0, 0})
	f.Add([]byte{1, 'a', 1, 'b'})
	f.Add(valid[:len(valid)-1])
	f.Add([]byte{0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0x01})
	f.Add([]byte{0x80})
	f.Add([]byte{5, 'e', 'm'})
	f.Add(append(bytes.Clone(valid), valid...)) // duplicate names: the last wins
	f.Fuzz(func(t *testing.T, b []byte) {
		m, err := DecodeSealed(b)
		if err != nil {
			if !errors.Is(err, ErrCrypto) {
				t.Fatalf("DecodeSealed(%x): err = %v, want ErrCrypto", b, err)
			}
			return
		}
		total := 0
		for k, v := range m {
			total += len(k) + len(v)
			if cap(v) != len(v) {
				t.Fatalf("field %q: capacity %d beyond its %d bytes", k, cap(v), len(v))
			}
		}
		if total > len(b) {
			t.Fatalf("decoded %d bytes of names and values from %d input bytes", total, len(b))
		}
		enc := EncodeSealed(m)
		again, err := DecodeSealed(enc)
		if err != nil {
			t.Fatalf("re-encoded fields do not decode: %v", err)
		}
		if !maps.EqualFunc(m, again, bytes.Equal) {
			t.Fatalf("round trip changed the fields: %v -> %v", m, again)
		}
		if len(m) > 0 && !bytes.Equal(EncodeSealed(again), enc) {
			t.Fatal("encoding is not canonical")
		}
	})
}
