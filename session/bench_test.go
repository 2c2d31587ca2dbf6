package session_test

import (
	"context"
	"crypto/ed25519"
	"testing"
	"time"

	"github.com/lethe-privacy/lethe/session"
)

// BenchmarkMint and BenchmarkVerify measure a token with one sealed and
// one public variable; the Ed25519 baselines sign and verify the same
// number of bytes with the standard library alone, so the difference is
// the JWT encoding, the sealing and the claim checks.
func BenchmarkMint(b *testing.B) {
	k := keysOf(b, newKeys(b, "acme"), "acme")
	c := claims()
	ctx := context.Background()
	for b.Loop() {
		if _, err := session.Mint(ctx, k, c); err != nil {
			b.Fatal(err)
		}
	}
}

func BenchmarkVerify(b *testing.B) {
	k := keysOf(b, newKeys(b, "acme"), "acme")
	ctx := context.Background()
	tok, err := session.Mint(ctx, k, claims())
	if err != nil {
		b.Fatal(err)
	}
	now := t0.Add(time.Minute)
	for b.Loop() {
		if _, err := session.Verify(ctx, k, tok, now); err != nil {
			b.Fatal(err)
		}
	}
}

func baseline(b *testing.B) (ed25519.PrivateKey, []byte) {
	k := keysOf(b, newKeys(b, "acme"), "acme")
	tok, err := session.Mint(context.Background(), k, claims())
	if err != nil {
		b.Fatal(err)
	}
	_, priv, err := k.SessionKey(context.Background())
	if err != nil {
		b.Fatal(err)
	}
	return priv, []byte(tok[:len(tok)-87]) // the signed part: header.payload
}

func BenchmarkBaselineEd25519Sign(b *testing.B) {
	priv, msg := baseline(b)
	for b.Loop() {
		ed25519.Sign(priv, msg)
	}
}

func BenchmarkBaselineEd25519Verify(b *testing.B) {
	priv, msg := baseline(b)
	sig := ed25519.Sign(priv, msg)
	pub := priv.Public().(ed25519.PublicKey)
	for b.Loop() {
		if !ed25519.Verify(pub, msg, sig) {
			b.Fatal("verify")
		}
	}
}
