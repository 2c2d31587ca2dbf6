package keyring

import (
	"context"
	"crypto/ed25519"
	"errors"
	"fmt"
	"slices"

	"github.com/lethe-privacy/lethe"
)

// signingKey is one unwrapped Ed25519 signing key version of a tenant.
type signingKey struct {
	priv    ed25519.PrivateKey
	jwk     JWK
	retired bool
}

// addSigningKey takes a signing key read from the store (its 32-byte seed).
func (t *TenantKeys) addSigningKey(version uint32, seed []byte, retired bool) {
	t.signMu.Lock()
	defer t.signMu.Unlock()
	t.addSigningKeyLocked(version, seed, retired)
}

func (t *TenantKeys) addSigningKeyLocked(version uint32, seed []byte, retired bool) {
	if t.signing == nil {
		t.signing = make(map[uint32]*signingKey)
	}
	priv := ed25519.NewKeyFromSeed(seed)
	t.signing[version] = &signingKey{priv: priv, jwk: PublicJWK(priv.Public().(ed25519.PublicKey)), retired: retired}
	if !retired && version > t.signingCur {
		t.signingCur = version
	}
}

// SignReceipt signs msg with the tenant's Ed25519 signing key and returns
// the key's id (its JWK thumbprint) with the signature. A tenant without a
// signing key (every tenant made before receipts were signed this way) gets
// one here, stored wrapped by the master key like its other keys. Two
// instances creating it at once both try version 1; the store refuses the
// second with lethe.ErrConflict, and that one re-reads and signs with the
// winner's key, so a tenant never has two keys in use.
func (t *TenantKeys) SignReceipt(ctx context.Context, msg []byte) (kid string, sig []byte, err error) {
	t.signMu.Lock()
	sk := t.signing[t.signingCur]
	t.signMu.Unlock()
	if sk == nil {
		if sk, err = t.createSigningKey(ctx); err != nil {
			return "", nil, err
		}
	}
	return sk.jwk.Kid, ed25519.Sign(sk.priv, msg), nil
}

func (t *TenantKeys) createSigningKey(ctx context.Context) (*signingKey, error) {
	t.signMu.Lock()
	defer t.signMu.Unlock()
	if sk := t.signing[t.signingCur]; sk != nil {
		return sk, nil // another goroutine of this process made it meanwhile
	}
	var next uint32 = 1
	for v := range t.signing {
		next = max(next, v+1)
	}
	w, seed, err := t.kr.newKey(ctx, t.tenant, lethe.KeySigning, next)
	if err != nil {
		return nil, err
	}
	err = t.kr.store.PutKey(ctx, w)
	switch {
	case errors.Is(err, lethe.ErrConflict):
		if err := t.reloadSigningLocked(ctx); err != nil {
			return nil, err
		}
	case err != nil:
		return nil, fmt.Errorf("tenant %s: store signing key v%d: %w", t.tenant, next, err)
	default:
		t.addSigningKeyLocked(next, seed, false)
	}
	sk := t.signing[t.signingCur]
	if sk == nil {
		return nil, fmt.Errorf("tenant %s: signing key v%d was taken but is not active: %w", t.tenant, next, lethe.ErrConflict)
	}
	return sk, nil
}

// reloadSigningLocked reads the tenant's signing keys from the store again
// (another instance has created one). t.signMu is held on entry and exit.
func (t *TenantKeys) reloadSigningLocked(ctx context.Context) error {
	t.signMu.Unlock()
	fresh, err := t.kr.load(ctx, t.tenant)
	t.signMu.Lock()
	if err != nil {
		return fmt.Errorf("tenant %s: reload signing keys: %w", t.tenant, err)
	}
	fresh.signMu.Lock()
	defer fresh.signMu.Unlock()
	if t.signing == nil {
		t.signing = make(map[uint32]*signingKey)
	}
	for v, sk := range fresh.signing {
		if old := t.signing[v]; old != nil {
			old.retired = sk.retired
			continue
		}
		t.signing[v] = sk
	}
	t.signingCur = fresh.signingCur
	return nil
}

// PublicKeys returns the public halves of every signing key version the
// tenant has, retired ones included (old receipts name them), oldest
// first. It is empty for a tenant that has not signed a receipt yet.
func (t *TenantKeys) PublicKeys() JWKS {
	t.signMu.Lock()
	defer t.signMu.Unlock()
	versions := make([]uint32, 0, len(t.signing))
	for v := range t.signing {
		versions = append(versions, v)
	}
	slices.Sort(versions)
	set := JWKS{Keys: []JWK{}}
	for _, v := range versions {
		set.Keys = append(set.Keys, t.signing[v].jwk)
	}
	return set
}

// ReceiptKeys returns a tenant's published receipt keys. A tenant that is
// unknown, or has no signing key yet, gets an empty set alike, so that the
// answer does not tell which tenants exist. Keys made by another instance
// since this one loaded the tenant are read from the store.
func (k *Keyring) ReceiptKeys(ctx context.Context, tenant string) (JWKS, error) {
	t := k.Loaded(tenant)
	if t != nil {
		if set := t.PublicKeys(); len(set.Keys) > 0 {
			return set, nil
		}
	}
	// Read afresh without caching: this is a public route, and a name that
	// is no tenant must not fill the keyring's memory.
	fresh, err := k.load(ctx, tenant)
	if errors.Is(err, lethe.ErrNotFound) {
		return JWKS{Keys: []JWK{}}, nil
	}
	if err != nil {
		return JWKS{}, err
	}
	return fresh.PublicKeys(), nil
}
