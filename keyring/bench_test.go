package keyring

import (
	"bytes"
	"testing"
)

func BenchmarkSeal64(b *testing.B) {
	kr, _ := newTestKeyring(b, "acme")
	tk := tenantKeys(b, kr, "acme")
	pt := bytes.Repeat([]byte("x"), 64)
	b.SetBytes(int64(len(pt)))
	for b.Loop() {
		if _, err := tk.Seal(pt, adA); err != nil {
			b.Fatal(err)
		}
	}
}

func BenchmarkOpen64(b *testing.B) {
	kr, _ := newTestKeyring(b, "acme")
	tk := tenantKeys(b, kr, "acme")
	env, err := tk.Seal(bytes.Repeat([]byte("x"), 64), adA)
	if err != nil {
		b.Fatal(err)
	}
	b.SetBytes(64)
	for b.Loop() {
		if _, err := tk.Open(env, adA); err != nil {
			b.Fatal(err)
		}
	}
}

func BenchmarkBlindIndex(b *testing.B) {
	kr, _ := newTestKeyring(b, "acme")
	tk := tenantKeys(b, kr, "acme")
	for b.Loop() {
		if _, err := tk.BlindIndex(KindEmail, " Max.Mustermann@Example.de "); err != nil {
			b.Fatal(err)
		}
	}
}
