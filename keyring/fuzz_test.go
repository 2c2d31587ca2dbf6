package keyring

import (
	"bytes"
	"context"
	"errors"
	"testing"

	"github.com/lethe-privacy/lethe"
)

// FuzzOpen feeds arbitrary envelopes to Open: none may panic, and none may
// open, since only Seal can make an envelope with a valid tag.
func FuzzOpen(f *testing.F) {
	kr, _ := newTestKeyring(f, "acme")
	if _, err := kr.Rotate(context.Background(), "acme"); err != nil {
		f.Fatal(err)
	}
	tk := tenantKeys(f, kr, "acme")
	valid, err := tk.Seal([]byte("seed"), adA)
	if err != nil {
		f.Fatal(err)
	}
	f.Add([]byte{})
	f.Add([]byte{1})
	f.Add(bytes.Repeat([]byte{1}, Overhead))
	f.Add(valid[:len(valid)-1])
	f.Add(append(bytes.Clone(valid), 0))
	f.Add(append([]byte{2}, valid[1:]...))
	f.Fuzz(func(t *testing.T, env []byte) {
		if bytes.Equal(env, valid) {
			return // the one envelope that may open
		}
		pt, err := tk.Open(env, adA)
		if err == nil {
			t.Fatalf("arbitrary envelope %x opened to %q", env, pt)
		}
		if !errors.Is(err, lethe.ErrCrypto) {
			t.Fatalf("err = %v, want ErrCrypto", err)
		}
		if _, err := KeyVersion(env); err == nil && len(env) < Overhead {
			t.Fatalf("KeyVersion accepted %d bytes", len(env))
		}
	})
}

// FuzzNormalize checks that Normalize never panics, fails only with
// ErrInvalid, and is idempotent: a normalized value normalizes to itself,
// so a hash computed from stored data matches a hash of a search term.
func FuzzNormalize(f *testing.F) {
	for _, s := range []string{
		"Max@Example.de", " a@b ", "@", "a@@b", "0171 1234567", "+49 (0)171 1234567",
		"+1 202 555 0100", "tel:+49-171", "12", "K-1001", " a \t b ", "\x00", "\xff\xfe",
	} {
		for _, kind := range []string{KindEmail, KindPhone, "customer_id"} {
			f.Add(kind, s)
		}
	}
	f.Fuzz(func(t *testing.T, kind, value string) {
		out, err := Normalize(kind, value)
		if err != nil {
			if !errors.Is(err, lethe.ErrInvalid) {
				t.Fatalf("Normalize(%q, %q): err = %v, want ErrInvalid", kind, value, err)
			}
			return
		}
		if out == "" {
			t.Fatalf("Normalize(%q, %q) returned an empty value without error", kind, value)
		}
		again, err := Normalize(kind, out)
		if err != nil || again != out {
			t.Fatalf("Normalize(%q, %q) = %q, but that normalizes to %q, %v", kind, value, out, again, err)
		}
	})
}
