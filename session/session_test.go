package session_test

import (
	"context"
	"crypto/ed25519"
	"crypto/rand"
	"encoding/base64"
	"encoding/json"
	"errors"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/golang-jwt/jwt/v5"

	"github.com/lethe-privacy/lethe"
	"github.com/lethe-privacy/lethe/keyring"
	"github.com/lethe-privacy/lethe/session"
	"github.com/lethe-privacy/lethe/sqlite"
)

var t0 = time.Date(2026, 3, 1, 12, 0, 0, 0, time.UTC)

// newKeys opens a real SQLite store with a keyring and the given tenants.
func newKeys(t testing.TB, tenants ...string) *keyring.Keyring {
	kr, _ := newInstances(t, tenants...)
	return kr
}

// newInstances is newKeys, and a function that starts another keyring on
// the same store and master key, as a second instance would have.
func newInstances(t testing.TB, tenants ...string) (*keyring.Keyring, func() *keyring.Keyring) {
	t.Helper()
	ctx := context.Background()
	st, err := sqlite.Open(ctx, filepath.Join(t.TempDir(), "lethe.db"), sqlite.Options{})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { st.Close() })
	master := make([]byte, keyring.KEKSize)
	rand.Read(master)
	kek, err := keyring.NewFileKEK(master)
	if err != nil {
		t.Fatal(err)
	}
	kr := keyring.New(st, kek)
	for _, id := range tenants {
		if err := st.CreateTenant(ctx, &lethe.Tenant{ID: id}); err != nil {
			t.Fatal(err)
		}
		if err := kr.CreateTenant(ctx, id); err != nil {
			t.Fatal(err)
		}
	}
	return kr, func() *keyring.Keyring { return keyring.New(st, kek) }
}

func keysOf(t testing.TB, kr *keyring.Keyring, tenant string) *keyring.TenantKeys {
	t.Helper()
	k, err := kr.Tenant(context.Background(), tenant)
	if err != nil {
		t.Fatal(err)
	}
	return k
}

func claims() session.Claims {
	return session.Claims{
		ID: session.NewID(), IssuedAt: t0, ExpiresAt: t0.Add(time.Hour),
		Public:    map[string]any{"lang": "de"},
		Variables: map[string]any{"email": "ann.canary@example.org", "order": "A-17"},
	}
}

func mint(t *testing.T, k *keyring.TenantKeys, c session.Claims) string {
	t.Helper()
	tok, err := session.Mint(context.Background(), k, c)
	if err != nil {
		t.Fatal(err)
	}
	return tok
}

func TestVerify_RoundTripsClaimsAndOpensSealedVariables(t *testing.T) {
	kr := newKeys(t, "acme")
	k := keysOf(t, kr, "acme")
	c := claims()
	got, err := session.Verify(context.Background(), k, mint(t, k, c), t0.Add(30*time.Minute))
	if err != nil {
		t.Fatal(err)
	}
	if got.ID != c.ID || got.Tenant != "acme" || !got.ExpiresAt.Equal(c.ExpiresAt) || !got.IssuedAt.Equal(c.IssuedAt) {
		t.Fatalf("claims %+v, want id %s, tenant acme, %v..%v", got, c.ID, c.IssuedAt, c.ExpiresAt)
	}
	if got.Variables["email"] != "ann.canary@example.org" || got.Variables["order"] != "A-17" || got.Public["lang"] != "de" {
		t.Fatalf("variables %v public %v", got.Variables, got.Public)
	}
}

// The browser holds the token: nothing of a sealed variable may be
// readable in it, and the header must name the key.
func TestMint_TokenHoldsNoReadablePIIAndNamesItsKey(t *testing.T) {
	kr := newKeys(t, "acme")
	k := keysOf(t, kr, "acme")
	tok := mint(t, k, claims())
	parts := strings.Split(tok, ".")
	if len(parts) != 3 {
		t.Fatalf("token has %d parts", len(parts))
	}
	var header map[string]any
	h, _ := base64.RawURLEncoding.DecodeString(parts[0])
	if err := json.Unmarshal(h, &header); err != nil {
		t.Fatal(err)
	}
	kid, _, err := k.SessionKey(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	if header["alg"] != "EdDSA" || header["kid"] != kid {
		t.Fatalf("header %v, want alg EdDSA and kid %s", header, kid)
	}
	payload, _ := base64.RawURLEncoding.DecodeString(parts[1])
	for _, secret := range []string{"ann.canary", "example.org", "A-17"} {
		if strings.Contains(string(payload), secret) || strings.Contains(tok, secret) {
			t.Errorf("token payload shows %q: %s", secret, payload)
		}
	}
	if !strings.Contains(string(payload), `"lang":"de"`) {
		t.Errorf("public variable missing from payload %s", payload)
	}
}

func TestVerify_RefusesBadTokens(t *testing.T) {
	kr := newKeys(t, "acme", "other")
	acme, other := keysOf(t, kr, "acme"), keysOf(t, kr, "other")
	good := mint(t, acme, claims())
	parts := strings.Split(good, ".")

	// A payload with a changed public variable, signature kept.
	var pl map[string]any
	raw, _ := base64.RawURLEncoding.DecodeString(parts[1])
	json.Unmarshal(raw, &pl)
	pl["pub"] = map[string]any{"lang": "en"}
	changed, _ := json.Marshal(pl)
	tamperedPayload := parts[0] + "." + base64.RawURLEncoding.EncodeToString(changed) + "." + parts[2]

	// One bit of the signature flipped.
	sig, _ := base64.RawURLEncoding.DecodeString(parts[2])
	sig[5] ^= 1
	tamperedSig := parts[0] + "." + parts[1] + "." + base64.RawURLEncoding.EncodeToString(sig)

	// alg none, and a token signed by a key that is not the tenant's but
	// names the tenant's kid.
	kid, _, _ := acme.SessionKey(context.Background())
	none := jwt.NewWithClaims(jwt.SigningMethodNone, jwt.MapClaims{"iss": "lethe", "aud": "acme", "jti": "x", "iat": t0.Unix(), "exp": t0.Add(time.Hour).Unix()})
	none.Header["kid"] = kid
	noneTok, _ := none.SignedString(jwt.UnsafeAllowNoneSignatureType)
	_, stranger, _ := ed25519.GenerateKey(rand.Reader)
	forged := jwt.NewWithClaims(jwt.SigningMethodEdDSA, jwt.MapClaims{"iss": "lethe", "aud": "acme", "jti": "x", "iat": t0.Unix(), "exp": t0.Add(time.Hour).Unix()})
	forged.Header["kid"] = kid
	forgedTok, _ := forged.SignedString(stranger)

	otherTok := mint(t, other, claims())

	tests := []struct {
		name, token string
		now         time.Time
		reason      string
	}{
		{"tampered payload", tamperedPayload, t0, "bad signature"},
		{"tampered signature", tamperedSig, t0, "bad signature"},
		{"expired", good, t0.Add(time.Hour + time.Second), "expired"},
		{"another tenant's token", otherTok, t0, ""},
		{"alg none", noneTok, t0, ""},
		{"foreign key under the tenant's kid", forgedTok, t0, "bad signature"},
		{"issued in the future", good, t0.Add(-time.Minute), "future"},
		{"not a token", "abc.def", t0, "malformed"},
		{"empty", "", t0, "malformed"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, err := session.Verify(context.Background(), acme, tt.token, tt.now)
			if !errors.Is(err, session.ErrRefused) || !errors.Is(err, lethe.ErrUnauthorized) {
				t.Fatalf("err %v, want ErrRefused", err)
			}
			if !strings.Contains(err.Error(), tt.reason) {
				t.Errorf("err %q does not say %q", err, tt.reason)
			}
		})
	}
	// The same token still verifies for its own tenant: the refusals
	// above are the tenant's check, not a broken token.
	if _, err := session.Verify(context.Background(), other, otherTok, t0); err != nil {
		t.Fatalf("other's own token: %v", err)
	}
}

// Rotation signs new tokens with a new key while tokens of the old one
// keep verifying, on this instance and on one that loads the keys afresh.
func TestRotateSessionKey_OldTokensStillVerify(t *testing.T) {
	kr := newKeys(t, "acme")
	k := keysOf(t, kr, "acme")
	old := mint(t, k, claims())
	oldKid, _, _ := k.SessionKey(context.Background())
	newKid, err := k.RotateSessionKey(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	if newKid == oldKid {
		t.Fatal("rotation kept the kid")
	}
	fresh := mint(t, k, claims())
	for name, tok := range map[string]string{"old": old, "new": fresh} {
		if _, err := session.Verify(context.Background(), k, tok, t0); err != nil {
			t.Errorf("%s token: %v", name, err)
		}
	}
	if got := len(k.SessionPublicKeys().Keys); got != 2 {
		t.Errorf("%d public session keys, want 2", got)
	}
	// A second instance (its own keyring on the same store) verifies both.
	kr.Forget("acme")
	k2 := keysOf(t, kr, "acme")
	for name, tok := range map[string]string{"old": old, "new": fresh} {
		if _, err := session.Verify(context.Background(), k2, tok, t0); err != nil {
			t.Errorf("%s token after reload: %v", name, err)
		}
	}
}

func TestParseLifetime(t *testing.T) {
	tests := []struct {
		in   string
		want string // "" for refused
	}{
		{"0", "0s"}, {"0s", "0s"}, {"0d", "0d"},
		{"30m", "30m"}, {"1h", "1h"}, {"14d", "14d"}, {"336h", "336h"},
		{"29m", ""}, {"1799s", ""}, {"15d", ""}, {"337h", ""}, {"1y", ""},
		{"soon", ""}, {"-1h", ""}, {"", ""},
	}
	for _, tt := range tests {
		d, err := session.ParseLifetime(tt.in)
		if tt.want == "" {
			var fe *lethe.FieldError
			if !errors.As(err, &fe) || fe.Field != "session_lifetime" {
				t.Errorf("%q: err %v, want a session_lifetime field error", tt.in, err)
			}
			continue
		}
		if err != nil || d.String() != tt.want {
			t.Errorf("%q: %v, %v; want %s", tt.in, d, err, tt.want)
		}
	}
}

// A key rotated on one instance verifies on another that loaded the
// tenant's keys before the rotation: the unknown kid sends it to the
// store, at most once a second, so a flood of made-up kids costs one read
// a second, not one each.
func TestVerify_KeyRotatedByAnotherInstance(t *testing.T) {
	kr, another := newInstances(t, "acme")
	a := keysOf(t, kr, "acme")
	krB := another()
	clock := t0
	krB.Now = func() time.Time { return clock }
	b := keysOf(t, krB, "acme")
	if _, err := session.Verify(context.Background(), b, mint(t, a, claims()), t0); err != nil {
		t.Fatalf("first token, made after b loaded the tenant: %v", err)
	}
	if _, err := a.RotateSessionKey(context.Background()); err != nil {
		t.Fatal(err)
	}
	rotated := mint(t, a, claims())
	clock = clock.Add(500 * time.Millisecond)
	if _, err := session.Verify(context.Background(), b, rotated, t0); !errors.Is(err, session.ErrRefused) {
		t.Fatalf("within a second of the last store read: %v, want refused", err)
	}
	clock = clock.Add(time.Second)
	if _, err := session.Verify(context.Background(), b, rotated, t0); err != nil {
		t.Fatalf("token of the rotated key on the other instance: %v", err)
	}
}
