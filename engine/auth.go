package engine

import (
	"context"
	"crypto/rand"
	"crypto/sha256"
	"crypto/subtle"
	"encoding/base32"
	"errors"
	"fmt"
	"slices"
	"strings"
	"time"

	"github.com/lethe-privacy/lethe"
)

// Principal is an authenticated caller: the admin token, or one tenant's
// API key, with the roles it holds.
type Principal struct {
	// Admin is set for the admin token: it reaches every tenant and the
	// routes outside any tenant (creating tenants, sweeps).
	Admin  bool
	Tenant string // set for tenant keys
	Roles  []lethe.Role
	Name   string // for audit entries: "admin" or "key:<prefix>"
}

// CanReach reports whether the principal may act on the tenant at all,
// whatever its roles. There is no fallback: a tenant key reaches its own
// tenant and nothing else; "" (outside any tenant) only the admin reaches.
func (p Principal) CanReach(tenant string) bool {
	return p.Admin || (p.Tenant != "" && p.Tenant == tenant)
}

// Has reports whether the principal holds the role.
func (p Principal) Has(role lethe.Role) bool {
	return slices.Contains(p.Roles, role)
}

// May says whether the principal may act in the role on the tenant ("" for
// the routes outside any tenant): nil, or an error matching
// lethe.ErrForbidden that says what is missing.
func (p Principal) May(role lethe.Role, tenant string) error {
	return p.MayAny(tenant, role)
}

// MayAny is May for work that any of several roles may do, such as
// reading a tenant's schema.
func (p Principal) MayAny(tenant string, roles ...lethe.Role) error {
	if !p.CanReach(tenant) {
		if tenant == "" {
			return fmt.Errorf("%w: this needs the admin token", lethe.ErrForbidden)
		}
		return fmt.Errorf("%w: this key does not reach tenant %q", lethe.ErrForbidden, tenant)
	}
	for _, r := range roles {
		if p.Has(r) {
			return nil
		}
	}
	names := roleStrings(roles)
	if len(names) == 1 {
		return fmt.Errorf("%w: this needs the %s role", lethe.ErrForbidden, names[0])
	}
	return fmt.Errorf("%w: this needs one of the roles %s", lethe.ErrForbidden, strings.Join(names, ", "))
}

// MayGrant says whether the principal may create a key with these roles.
// A tenant key (one holding admin) grants only roles it holds itself, so
// that a key cannot mint a stronger one. The admin token grants any role:
// giving out keys is its job, and every key it makes is in the tenant's
// security log with its roles.
func (p Principal) MayGrant(roles []lethe.Role) error {
	if p.Admin {
		return nil
	}
	for _, r := range roles {
		if !p.Has(r) {
			return fmt.Errorf("%w: a key may grant only roles it holds; this one lacks %s", lethe.ErrForbidden, r)
		}
	}
	return nil
}

// AdminPrincipal is the admin token. It holds the admin role alone: it
// manages tenants and keys but reads no PII and no logs. As a superuser
// (lethe serve --admin-superuser, an explicit operator's choice) it holds
// every role, as the admin token did before roles existed.
func AdminPrincipal(superuser bool) Principal {
	roles := []lethe.Role{lethe.RoleAdmin}
	if superuser {
		roles = lethe.AllRoles()
	}
	return Principal{Admin: true, Roles: roles, Name: "admin"}
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

// CreateAPIKey makes a new API key for the tenant with the roles named
// (nil: lethe.DefaultKeyRoles) and returns it; only its hash is stored, so
// this is the one time it can be read. Who may grant which roles is the
// caller's check (Principal.MayGrant); the CLI, an operator on the data
// folder, grants any.
func (e *Engine) CreateAPIKey(ctx context.Context, actor, tenant string, roles []string) (string, error) {
	granted := lethe.DefaultKeyRoles()
	if roles != nil {
		var err error
		if granted, err = lethe.ParseRoles(roles); err != nil {
			return "", err
		}
	}
	if _, err := e.tenant(ctx, tenant); err != nil {
		return "", err
	}
	prefix := randomText(keyPrefixLen)
	secret := randomText(32)
	h := sha256.Sum256([]byte(secret))
	k := &lethe.APIKey{Prefix: prefix, Tenant: tenant, Hash: h[:], CreatedAt: e.now().UTC(), Roles: granted}
	if err := e.audit(ctx, tenant, lethe.LogSecurity, actor, "apikey.create", map[string]any{"prefix": prefix, "roles": roleStrings(granted)}); err != nil {
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
	Roles     []lethe.Role
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
		out[i] = KeyInfo{Prefix: k.Prefix, CreatedAt: k.CreatedAt, Revoked: k.Revoked, Roles: k.Roles}
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
// unknown key takes the same path as a wrong one. The admin token comes
// back as AdminPrincipal(false): the admin role alone; a server started
// as superuser widens it (AdminPrincipal(true)).
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
		return Principal{Tenant: key.Tenant, Roles: key.Roles, Name: "key:" + key.Prefix}, nil
	}
	want, err := e.store.Meta(ctx, metaAdminToken)
	if err != nil && !errors.Is(err, lethe.ErrNotFound) {
		return Principal{}, err
	}
	h := sha256.Sum256([]byte(token))
	if token == "" || len(want) != sha256.Size || subtle.ConstantTimeCompare(h[:], want) != 1 {
		return Principal{}, lethe.ErrUnauthorized
	}
	return AdminPrincipal(false), nil
}

// LogForbidden records in the security log that an authenticated caller
// was refused: a missing role or a tenant it does not reach. It goes to
// the log of the caller's own tenant (the system log for the admin token),
// where that tenant's auditors look for what its keys tried; it is never
// written into the log of a tenant the caller does not reach. Flushed, as
// failures are: refusals are rare and what an investigation looks for.
func (e *Engine) LogForbidden(ctx context.Context, p Principal, a AuthAttempt, refused error) error {
	tenant := p.Tenant
	if tenant == "" {
		tenant = lethe.SystemTenant
	}
	data := map[string]any{"ip": a.IP, "route": a.Route, "tenant": a.Tenant, "reason": strings.TrimPrefix(refused.Error(), lethe.ErrForbidden.Error()+": ")}
	return e.appendEntry(ctx, tenant, lethe.LogSecurity, p.Name, "auth.forbidden", data, nil)
}

func roleStrings(rs []lethe.Role) []string {
	out := make([]string, len(rs))
	for i, r := range rs {
		out[i] = string(r)
	}
	return out
}

// randomText returns n lower-case base32 characters from crypto/rand
// (5 bits each: a 32-character secret carries 160 bits, above the 128 that
// ASVS asks of session and key secrets).
func randomText(n int) string {
	b := make([]byte, (n*5+7)/8)
	rand.Read(b)
	return strings.ToLower(base32.StdEncoding.WithPadding(base32.NoPadding).EncodeToString(b))[:n]
}
