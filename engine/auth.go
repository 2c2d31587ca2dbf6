package engine

import (
	"context"
	"crypto/rand"
	"crypto/sha256"
	"crypto/subtle"
	"encoding/base32"
	"errors"
	"fmt"
	"strings"
	"time"

	"github.com/lethe-privacy/lethe"
)

// Principal is an authenticated caller: the admin, or one tenant's API key.
type Principal struct {
	Admin  bool
	Tenant string // set for tenant keys
	Name   string // for audit entries: "admin" or "key:<prefix>"
}

// CanReach reports whether the principal may act on the tenant. There is no
// fallback: a tenant key reaches its own tenant and nothing else.
func (p Principal) CanReach(tenant string) bool {
	return p.Admin || (p.Tenant != "" && p.Tenant == tenant)
}

const (
	metaAdminToken = "admin_token_sha256"
	keyPrefixLen   = 12 // public prefix characters after "lk_"
)

// EnsureAdminToken sets up the admin token. A token given (from
// LETHE_ADMIN_TOKEN) replaces the stored hash; with none, a token is
// generated on the first start and returned so it can be printed once;
// later starts return "" and keep the stored hash.
func (e *Engine) EnsureAdminToken(ctx context.Context, given string) (generated string, err error) {
	if given != "" {
		if len(given) < 16 {
			return "", fmt.Errorf("%w: admin token too short (want at least 16 characters)", lethe.ErrInvalid)
		}
		h := sha256.Sum256([]byte(given))
		return "", e.store.SetMeta(ctx, metaAdminToken, h[:])
	}
	if _, err := e.store.Meta(ctx, metaAdminToken); err == nil {
		return "", nil
	} else if !errors.Is(err, lethe.ErrNotFound) {
		return "", err
	}
	// Instances starting on a new database at once: the first hash stored
	// wins, and only the instance whose token that is prints it.
	tok := "la_" + randomText(32)
	h := sha256.Sum256([]byte(tok))
	stored, err := e.store.InitMeta(ctx, metaAdminToken, h[:])
	if err != nil {
		return "", err
	}
	if subtle.ConstantTimeCompare(stored, h[:]) != 1 {
		return "", nil
	}
	return tok, nil
}

// CreateAPIKey makes a new API key for the tenant and returns it; only its
// hash is stored, so this is the one time it can be read.
func (e *Engine) CreateAPIKey(ctx context.Context, actor, tenant string) (string, error) {
	if _, err := e.tenant(ctx, tenant); err != nil {
		return "", err
	}
	prefix := randomText(keyPrefixLen)
	secret := randomText(32)
	h := sha256.Sum256([]byte(secret))
	k := &lethe.APIKey{Prefix: prefix, Tenant: tenant, Hash: h[:], CreatedAt: e.now().UTC()}
	if err := e.audit(ctx, tenant, lethe.LogSecurity, actor, "apikey.create", map[string]any{"prefix": prefix}); err != nil {
		return "", err
	}
	if err := e.store.CreateAPIKey(ctx, k); err != nil {
		return "", err
	}
	return "lk_" + prefix + "_" + secret, nil
}

// KeyInfo describes an API key without its secret.
type KeyInfo struct {
	Prefix    string
	CreatedAt time.Time
	Revoked   bool
}

// APIKeys lists a tenant's API keys (never their secrets or hashes).
func (e *Engine) APIKeys(ctx context.Context, tenant string) ([]KeyInfo, error) {
	if _, err := e.tenant(ctx, tenant); err != nil {
		return nil, err
	}
	ks, err := e.store.APIKeys(ctx, tenant)
	if err != nil {
		return nil, err
	}
	out := make([]KeyInfo, len(ks))
	for i, k := range ks {
		out[i] = KeyInfo{Prefix: k.Prefix, CreatedAt: k.CreatedAt, Revoked: k.Revoked}
	}
	return out, nil
}

// RevokeAPIKey revokes a tenant's API key by its prefix (the part after
// "lk_" up to the next "_"); the next request with it is refused. The
// revocation is audited before it happens: fail closed.
func (e *Engine) RevokeAPIKey(ctx context.Context, actor, tenant, prefix string) error {
	if _, err := e.tenant(ctx, tenant); err != nil {
		return err
	}
	if k, err := e.store.APIKey(ctx, prefix); err != nil || k.Tenant != tenant {
		return fmt.Errorf("api key %q: %w", prefix, lethe.ErrNotFound)
	}
	if err := e.audit(ctx, tenant, lethe.LogSecurity, actor, "apikey.revoke", map[string]any{"prefix": prefix}); err != nil {
		return err
	}
	return e.store.RevokeAPIKey(ctx, tenant, prefix)
}

// dummyHash is compared against when a key's prefix is unknown, so that an
// unknown key costs the same as a wrong one.
var dummyHash = sha256.Sum256([]byte("lethe: no such key"))

// Authenticate resolves a bearer token. Comparisons are constant-time; an
// unknown key takes the same path as a wrong one.
func (e *Engine) Authenticate(ctx context.Context, token string) (Principal, error) {
	if strings.HasPrefix(token, "lk_") {
		rest := token[3:]
		prefix, secret, ok := strings.Cut(rest, "_")
		h := sha256.Sum256([]byte(secret))
		want := dummyHash[:]
		var key *lethe.APIKey
		if ok && len(prefix) == keyPrefixLen {
			k, err := e.store.APIKey(ctx, prefix)
			switch {
			case err == nil:
				key, want = k, k.Hash
			case !errors.Is(err, lethe.ErrNotFound):
				return Principal{}, err
			}
		}
		if subtle.ConstantTimeCompare(h[:], want) != 1 || key == nil || key.Revoked {
			return Principal{}, lethe.ErrUnauthorized
		}
		return Principal{Tenant: key.Tenant, Name: "key:" + key.Prefix}, nil
	}
	want, err := e.store.Meta(ctx, metaAdminToken)
	if err != nil && !errors.Is(err, lethe.ErrNotFound) {
		return Principal{}, err
	}
	h := sha256.Sum256([]byte(token))
	if token == "" || len(want) != sha256.Size || subtle.ConstantTimeCompare(h[:], want) != 1 {
		return Principal{}, lethe.ErrUnauthorized
	}
	return Principal{Admin: true, Name: "admin"}, nil
}

// randomText returns n lower-case base32 characters from crypto/rand
// (5 bits each: a 32-character secret carries 160 bits, above the 128 that
// ASVS asks of session and key secrets).
func randomText(n int) string {
	b := make([]byte, (n*5+7)/8)
	rand.Read(b)
	return strings.ToLower(base32.StdEncoding.WithPadding(base32.NoPadding).EncodeToString(b))[:n]
}
