package session_test

import (
	"context"
	"errors"
	"testing"

	"github.com/lethe-privacy/lethe/session"
)

// FuzzVerify: arbitrary input never panics and never verifies, and a
// valid token changed anywhere is refused.
func FuzzVerify(f *testing.F) {
	kr := newKeys(f, "acme")
	k, err := kr.Tenant(context.Background(), "acme")
	if err != nil {
		f.Fatal(err)
	}
	good, err := session.Mint(context.Background(), k, claims())
	if err != nil {
		f.Fatal(err)
	}
	f.Add(good)
	f.Add("")
	f.Add("a.b.c")
	f.Add("eyJhbGciOiJub25lIn0.e30.")
	f.Fuzz(func(t *testing.T, tok string) {
		c, err := session.Verify(context.Background(), k, tok, t0)
		if tok == good {
			if err != nil {
				t.Fatalf("the good token: %v", err)
			}
			return
		}
		if err == nil {
			t.Fatalf("verified %q: %+v", tok, c)
		}
		if !errors.Is(err, session.ErrRefused) {
			t.Fatalf("%q: %v does not wrap ErrRefused", tok, err)
		}
	})
}
