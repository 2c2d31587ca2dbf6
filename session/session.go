// Package session mints and verifies the chat's session tokens: JWTs
// signed with EdDSA (Ed25519) under a per-tenant key of the keyring, that
// carry the session variables so that the server keeps no session state
// (C13). Variables that are personal data travel sealed with the tenant's
// data key (the same AES-256-GCM envelope as stored fields), so the
// browser holding the token can read none of them; only Lethe opens them
// again.
//
// Verification is stateless: the signature, the kid in the header, the
// tenant (audience), the issuer and the expiry are all checked against the
// token and the tenant's keys alone, with no lookup of the session.
package session

import (
	"context"
	"crypto/rand"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"time"

	"github.com/golang-jwt/jwt/v5"

	"github.com/lethe-privacy/lethe"
	"github.com/lethe-privacy/lethe/keyring"
)

// Issuer is the iss claim of every token; a token of another issuer is
// refused even if some key of the tenant happened to verify it.
const Issuer = "lethe"

// The lifetime a tenant may choose (C13): from 30 minutes to 14 days, or
// zero for off.
var (
	MinLifetime = lethe.Duration{N: 30, Unit: 'm'}
	MaxLifetime = lethe.Duration{N: 14, Unit: 'd'}
)

// ErrRefused is wrapped by every verification failure (bad signature,
// unknown key, expired, another tenant's, malformed); it matches
// lethe.ErrUnauthorized, so the API answers 401.
var ErrRefused = fmt.Errorf("session token refused: %w", lethe.ErrUnauthorized)

// sealedAD binds the sealed variables to the tenant and the token's id, so
// that the sealed claim of one token does not open inside another.
func sealedAD(tenant, id string) keyring.AD {
	return keyring.AD{Tenant: tenant, Collection: "session_token", Record: id, Field: "variables"}
}

// ParseLifetime reads a tenant's session lifetime as the API and CLI take
// it: "0" (or any zero period) switches tokens off, anything else is a
// period from MinLifetime to MaxLifetime.
func ParseLifetime(s string) (lethe.Duration, error) {
	if s == "0" {
		return lethe.Duration{}, nil
	}
	d, err := lethe.ParseDuration(s)
	if err != nil {
		return lethe.Duration{}, &lethe.FieldError{Field: "session_lifetime", Reason: fmt.Sprintf("%q: want a period such as 30m, 12h or 14d, or 0 for off", s)}
	}
	return d, CheckLifetime(d)
}

// CheckLifetime refuses a non-zero lifetime outside 30m..14d. Years are
// calendar years, so they are compared by their shortest length: any
// year is longer than 14 days.
func CheckLifetime(d lethe.Duration) error {
	if d.IsZero() {
		return nil
	}
	if d.Shorter(MinLifetime) || !d.AtMost(MaxLifetime) {
		return &lethe.FieldError{Field: "session_lifetime", Reason: fmt.Sprintf("%s is outside %s..%s (0 switches session tokens off)", d, MinLifetime, MaxLifetime)}
	}
	return nil
}

// Claims are what a session token says.
type Claims struct {
	Tenant    string
	ID        string // the session's id (jti): random, 128 bits
	IssuedAt  time.Time
	ExpiresAt time.Time
	// Public variables are readable by anyone holding the token (a
	// language, a channel): never personal data.
	Public map[string]any
	// Variables are sealed in the token; the browser cannot read them.
	Variables map[string]any
}

// wireClaims is the JSON payload of the JWT.
type wireClaims struct {
	jwt.RegisteredClaims
	Public map[string]any `json:"pub,omitempty"`
	// Sealed is the field envelope (docs/format.md) of the JSON of the
	// variables, in unpadded base64url.
	Sealed string `json:"sv,omitempty"`
}

// NewID returns a fresh session id: 128 random bits, so that ids cannot be
// guessed or enumerated.
func NewID() string {
	b := make([]byte, 16)
	rand.Read(b)
	return base64.RawURLEncoding.EncodeToString(b)
}

// Mint signs a token for c with the tenant's current session key. c.ID,
// IssuedAt and ExpiresAt must be set; the tenant is the one of keys.
func Mint(ctx context.Context, keys *keyring.TenantKeys, c Claims) (string, error) {
	if c.ID == "" || c.IssuedAt.IsZero() || !c.ExpiresAt.After(c.IssuedAt) {
		return "", fmt.Errorf("mint session token: id, issue and later expiry time required: %w", lethe.ErrInvalid)
	}
	wc := wireClaims{
		RegisteredClaims: jwt.RegisteredClaims{
			Issuer:    Issuer,
			Audience:  jwt.ClaimStrings{keys.Tenant()},
			ID:        c.ID,
			IssuedAt:  jwt.NewNumericDate(c.IssuedAt),
			ExpiresAt: jwt.NewNumericDate(c.ExpiresAt),
		},
		Public: c.Public,
	}
	if len(c.Variables) > 0 {
		plain, err := json.Marshal(c.Variables)
		if err != nil {
			return "", fmt.Errorf("mint session token: variables: %w", lethe.ErrInvalid)
		}
		env, err := keys.Seal(plain, sealedAD(keys.Tenant(), c.ID))
		if err != nil {
			return "", fmt.Errorf("mint session token: seal variables: %w", err)
		}
		wc.Sealed = base64.RawURLEncoding.EncodeToString(env)
	}
	kid, priv, err := keys.SessionKey(ctx)
	if err != nil {
		return "", fmt.Errorf("mint session token: %w", err)
	}
	tok := jwt.NewWithClaims(jwt.SigningMethodEdDSA, wc)
	tok.Header["kid"] = kid
	s, err := tok.SignedString(priv)
	if err != nil {
		return "", fmt.Errorf("mint session token: sign: %w", err)
	}
	return s, nil
}

// Verify checks a token against the tenant's keys at time now and returns
// its claims, the sealed variables opened. Only EdDSA is accepted (no
// "none", no HMAC with a public key for secret); the kid must name one of
// this tenant's session keys that is not retired; the audience must be
// this tenant; exp and iat are required. Every failure wraps ErrRefused.
func Verify(ctx context.Context, keys *keyring.TenantKeys, token string, now time.Time) (*Claims, error) {
	var wc wireClaims
	_, err := jwt.ParseWithClaims(token, &wc, func(t *jwt.Token) (any, error) {
		kid, _ := t.Header["kid"].(string)
		if kid == "" {
			return nil, errors.New("no kid in the header")
		}
		return keys.SessionPublicKey(ctx, kid)
	},
		jwt.WithValidMethods([]string{jwt.SigningMethodEdDSA.Alg()}),
		jwt.WithIssuer(Issuer),
		jwt.WithAudience(keys.Tenant()),
		jwt.WithExpirationRequired(),
		jwt.WithIssuedAt(),
		jwt.WithTimeFunc(func() time.Time { return now }),
		jwt.WithStrictDecoding(),
	)
	if err != nil {
		return nil, fmt.Errorf("%w: %s", ErrRefused, reason(err))
	}
	if wc.ID == "" || wc.IssuedAt == nil {
		return nil, fmt.Errorf("%w: no session id", ErrRefused)
	}
	c := &Claims{Tenant: keys.Tenant(), ID: wc.ID, IssuedAt: wc.IssuedAt.UTC(), ExpiresAt: wc.ExpiresAt.UTC(), Public: wc.Public}
	if wc.Sealed != "" {
		env, err := base64.RawURLEncoding.Strict().DecodeString(wc.Sealed)
		if err != nil {
			return nil, fmt.Errorf("%w: sealed variables are not base64url", ErrRefused)
		}
		plain, err := keys.Open(env, sealedAD(keys.Tenant(), wc.ID))
		if err != nil {
			// A valid signature over a claim that does not open means the
			// key that sealed it is gone (erased tenant): refuse, do not 500.
			return nil, fmt.Errorf("%w: sealed variables do not open", ErrRefused)
		}
		if err := json.Unmarshal(plain, &c.Variables); err != nil {
			return nil, fmt.Errorf("%w: sealed variables are not a JSON object", ErrRefused)
		}
	}
	return c, nil
}

// reason says in a few words why a token was refused, without echoing
// the token.
func reason(err error) string {
	switch {
	case errors.Is(err, jwt.ErrTokenExpired):
		return "expired"
	case errors.Is(err, jwt.ErrTokenInvalidAudience):
		return "issued for another tenant"
	case errors.Is(err, jwt.ErrTokenSignatureInvalid):
		return "bad signature"
	case errors.Is(err, lethe.ErrNotFound):
		return "signed by no key of this tenant"
	case errors.Is(err, jwt.ErrTokenMalformed):
		return "malformed"
	case errors.Is(err, jwt.ErrTokenUsedBeforeIssued):
		return "issued in the future"
	case errors.Is(err, jwt.ErrTokenInvalidIssuer):
		return "another issuer"
	case errors.Is(err, jwt.ErrTokenUnverifiable):
		return "unverifiable"
	}
	return "invalid"
}
