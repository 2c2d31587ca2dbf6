package keyring

import (
	"bytes"
	"crypto/ed25519"
	"crypto/sha256"
	"encoding/base64"
	"encoding/json"
	"fmt"

	"github.com/lethe-privacy/lethe"
)

// JWK is an Ed25519 public key in the JSON Web Key form of RFC 8037
// (kty OKP, crv Ed25519, x the raw 32-byte key in unpadded base64url),
// the form any JOSE library reads.
type JWK struct {
	Kty string `json:"kty"`
	Crv string `json:"crv"`
	X   string `json:"x"`
	Kid string `json:"kid"`
	Use string `json:"use"`
}

// JWKS is a JSON Web Key Set (RFC 7517, section 5), as published at
// GET /v1/receipt-keys.
type JWKS struct {
	Keys []JWK `json:"keys"`
}

// PublicJWK returns the JWK of an Ed25519 public key. Its kid is the key's
// RFC 7638 thumbprint, so it names the key itself: anyone can recompute it,
// and it cannot be made to point at another key.
func PublicJWK(pub ed25519.PublicKey) JWK {
	x := base64.RawURLEncoding.EncodeToString(pub)
	return JWK{Kty: "OKP", Crv: "Ed25519", X: x, Kid: thumbprint(x), Use: "sig"}
}

// thumbprint is the RFC 7638 thumbprint of an OKP key: SHA-256 over the
// required members in lexical order, without whitespace.
func thumbprint(x string) string {
	sum := sha256.Sum256([]byte(`{"crv":"Ed25519","kty":"OKP","x":"` + x + `"}`))
	return base64.RawURLEncoding.EncodeToString(sum[:])
}

// ParseJWKS reads a key set such as the answer of GET /v1/receipt-keys.
// Keys that are not Ed25519 signing keys are skipped, as RFC 7517 asks of
// members a reader does not understand; an Ed25519 key whose x is not 32
// bytes of base64url, or whose kid is not its thumbprint, is refused, so a
// set cannot hand out one key under another's name.
func ParseJWKS(data []byte) (JWKS, error) {
	var set struct {
		Keys []JWK `json:"keys"`
	}
	dec := json.NewDecoder(bytes.NewReader(data))
	if err := dec.Decode(&set); err != nil {
		return JWKS{}, fmt.Errorf("key set: not JSON with a keys list: %w", lethe.ErrInvalid)
	}
	var out JWKS
	for i, k := range set.Keys {
		if k.Kty != "OKP" || k.Crv != "Ed25519" || (k.Use != "" && k.Use != "sig") {
			continue
		}
		raw, err := base64.RawURLEncoding.Strict().DecodeString(k.X)
		if err != nil || len(raw) != ed25519.PublicKeySize {
			return JWKS{}, fmt.Errorf("key set: keys[%d]: x is not a 32-byte base64url Ed25519 key: %w", i, lethe.ErrInvalid)
		}
		if k.Kid != thumbprint(k.X) {
			return JWKS{}, fmt.Errorf("key set: keys[%d]: kid %q is not the key's thumbprint: %w", i, k.Kid, lethe.ErrInvalid)
		}
		out.Keys = append(out.Keys, k)
	}
	return out, nil
}

// Key returns the public key named kid, or lethe.ErrNotFound.
func (s JWKS) Key(kid string) (ed25519.PublicKey, error) {
	for _, k := range s.Keys {
		if k.Kid == kid {
			raw, err := base64.RawURLEncoding.Strict().DecodeString(k.X)
			if err != nil || len(raw) != ed25519.PublicKeySize {
				return nil, fmt.Errorf("key %s: malformed: %w", kid, lethe.ErrInvalid)
			}
			return ed25519.PublicKey(raw), nil
		}
	}
	return nil, fmt.Errorf("key %q: %w", kid, lethe.ErrNotFound)
}
