package keyring

import (
	"context"
	"crypto/ed25519"
	"encoding/json"
	"errors"
	"sync"
	"testing"

	"github.com/lethe-privacy/lethe"
)

// Several instances (keyrings on one store) signing the first receipts of
// a tenant at once end with one signing key, the one every signature used.
func TestSignReceipt_ConcurrentInstancesShareOneKey(t *testing.T) {
	ctx := context.Background()
	kr1, store := newTestKeyring(t, "acme")
	kr2 := New(store, testKEK(t, 1))
	var wg sync.WaitGroup
	kids := make([]string, 16)
	sigs := make([][]byte, 16)
	errs := make([]error, 16)
	for i := range kids {
		kr := kr1
		if i%2 == 1 {
			kr = kr2
		}
		wg.Go(func() {
			tk, err := kr.Tenant(ctx, "acme")
			if err != nil {
				errs[i] = err
				return
			}
			kids[i], sigs[i], errs[i] = tk.SignReceipt(ctx, []byte("m"))
		})
	}
	wg.Wait()
	n := 0
	for _, w := range store.all() {
		if w.Purpose == lethe.KeySigning {
			n++
		}
	}
	if n != 1 {
		t.Fatalf("store holds %d signing keys, want 1", n)
	}
	set, err := kr2.ReceiptKeys(ctx, "acme")
	if err != nil || len(set.Keys) != 1 {
		t.Fatalf("ReceiptKeys = %+v, %v; want one key", set, err)
	}
	pub, err := set.Key(set.Keys[0].Kid)
	if err != nil {
		t.Fatal(err)
	}
	for i := range kids {
		if errs[i] != nil {
			t.Fatalf("signer %d: %v", i, errs[i])
		}
		if kids[i] != set.Keys[0].Kid || !ed25519.Verify(pub, []byte("m"), sigs[i]) {
			t.Fatalf("signer %d signed with kid %s, not the published %s", i, kids[i], set.Keys[0].Kid)
		}
	}
}

// The public answer is the same empty set for a name that is no tenant and
// for a tenant that has signed nothing yet: it does not tell tenants apart.
func TestReceiptKeys_EmptyForUnknownAndUnsignedTenants(t *testing.T) {
	ctx := context.Background()
	kr, _ := newTestKeyring(t, "acme")
	for _, tenant := range []string{"nobody", "acme", ""} {
		set, err := kr.ReceiptKeys(ctx, tenant)
		if err != nil || set.Keys == nil || len(set.Keys) != 0 {
			t.Errorf("ReceiptKeys(%q) = %+v, %v; want an empty set", tenant, set, err)
		}
	}
	if kr.Loaded("nobody") != nil {
		t.Error("a lookup of an unknown tenant was cached")
	}
}

func TestParseJWKS_RefusesAKeyUnderAnotherName(t *testing.T) {
	pub, _, _ := ed25519.GenerateKey(nil)
	pub2, _, _ := ed25519.GenerateKey(nil)
	good := PublicJWK(pub)
	bad := PublicJWK(pub2)
	bad.Kid = good.Kid
	short := good
	short.X = short.X[:10]
	cases := []struct {
		name string
		keys []JWK
		ok   bool
	}{
		{"its own thumbprint", []JWK{good}, true},
		{"another key's kid", []JWK{bad}, false},
		{"a truncated key", []JWK{short}, false},
		{"an RSA key is skipped", []JWK{{Kty: "RSA", Kid: "r"}}, true},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			b, _ := json.Marshal(JWKS{Keys: c.keys})
			set, err := ParseJWKS(b)
			if c.ok != (err == nil) {
				t.Fatalf("err = %v, want ok %v", err, c.ok)
			}
			if err != nil && !errors.Is(err, lethe.ErrInvalid) {
				t.Fatalf("err = %v, want ErrInvalid", err)
			}
			if c.ok && c.keys[0].Kty == "RSA" && len(set.Keys) != 0 {
				t.Fatalf("RSA key kept: %+v", set)
			}
		})
	}
	if _, err := ParseJWKS([]byte("not json")); !errors.Is(err, lethe.ErrInvalid) {
		t.Fatalf("err = %v, want ErrInvalid", err)
	}
}

// The kid is the RFC 8037 appendix A.3 thumbprint for the key of A.1.
func TestPublicJWK_ThumbprintMatchesRFC8037(t *testing.T) {
	x := "11qYAYKxCrfVS_7TyWQHOg7hcvPapiMlrwIaaPcHURo"
	if got, want := thumbprint(x), "kPrK_qmxVWaYVA9wwBF6Iuo3vVzz7TxHCTwXBygrS4k"; got != want {
		t.Fatalf("thumbprint = %s, want %s", got, want)
	}
}
