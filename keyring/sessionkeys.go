package keyring

import (
	"context"
	"crypto/ed25519"
	"crypto/subtle"
	"errors"
	"fmt"
	"slices"
	"sync"
	"time"

	"github.com/lethe-privacy/lethe"
)

// sessionKeys are a tenant's Ed25519 keys for chat session tokens
// (lethe.KeySession), every version by number. They are kept apart from
// the receipt signing keys: a token signature must never verify as a
// receipt's, and the two rotate independently.
type sessionKeys struct {
	mu   sync.Mutex
	keys map[uint32]*signingKey
	cur  uint32 // newest non-retired version; 0 when none
	// missed is when an unknown kid last sent us to the store: at most
	// one such read per sessionReloadGap, so that forged tokens with
	// made-up kids cannot turn into a read of the store each.
	missed time.Time
}

// sessionReloadGap spaces the store reads for unknown kids. A key another
// instance has just created is found at the latest this long after its
// first token arrives here.
const sessionReloadGap = time.Second

func (s *sessionKeys) addLocked(version uint32, seed []byte, retired bool) {
	if s.keys == nil {
		s.keys = make(map[uint32]*signingKey)
	}
	priv := ed25519.NewKeyFromSeed(seed)
	s.keys[version] = &signingKey{priv: priv, jwk: PublicJWK(priv.Public().(ed25519.PublicKey)), retired: retired}
	if !retired && version > s.cur {
		s.cur = version
	}
}

func (s *sessionKeys) nextLocked() uint32 {
	var next uint32 = 1
	for v := range s.keys {
		next = max(next, v+1)
	}
	return next
}

// SessionKey returns the key new session tokens are signed with: its kid
// (the JWK thumbprint, which names the key itself) and the private key. A
// tenant without one gets version 1 here, stored wrapped by the master key
// like its other keys; two instances creating it at once agree on the
// store's winner.
func (t *TenantKeys) SessionKey(ctx context.Context) (kid string, priv ed25519.PrivateKey, err error) {
	t.sess.mu.Lock()
	defer t.sess.mu.Unlock()
	if sk := t.sess.keys[t.sess.cur]; sk != nil {
		return sk.jwk.Kid, sk.priv, nil
	}
	if err := t.addSessionKeyLocked(ctx); err != nil {
		return "", nil, err
	}
	sk := t.sess.keys[t.sess.cur]
	return sk.jwk.Kid, sk.priv, nil
}

// RotateSessionKey adds a new session key version and signs new tokens
// with it. Tokens signed by the older versions keep verifying until they
// expire (at most the longest lifetime, 14 days), so a rotation logs no
// chat out.
func (t *TenantKeys) RotateSessionKey(ctx context.Context) (kid string, err error) {
	t.sess.mu.Lock()
	defer t.sess.mu.Unlock()
	if err := t.addSessionKeyLocked(ctx); err != nil {
		return "", err
	}
	return t.sess.keys[t.sess.cur].jwk.Kid, nil
}

// addSessionKeyLocked stores the next version and makes it current; on a
// version another instance took meanwhile it reloads and takes theirs.
func (t *TenantKeys) addSessionKeyLocked(ctx context.Context) error {
	next := t.sess.nextLocked()
	w, seed, err := t.kr.newKey(ctx, t.tenant, lethe.KeySession, next)
	if err != nil {
		return err
	}
	err = t.kr.store.PutKey(ctx, w)
	switch {
	case errors.Is(err, lethe.ErrConflict):
		if err := t.reloadSessionLocked(ctx); err != nil {
			return err
		}
	case err != nil:
		return fmt.Errorf("tenant %s: store session key v%d: %w", t.tenant, next, err)
	default:
		t.sess.addLocked(next, seed, false)
	}
	if t.sess.keys[t.sess.cur] == nil {
		return fmt.Errorf("tenant %s: session key v%d was taken but is not active: %w", t.tenant, next, lethe.ErrConflict)
	}
	return nil
}

// reloadSessionLocked reads the tenant's session keys from the store again.
func (t *TenantKeys) reloadSessionLocked(ctx context.Context) error {
	fresh, err := t.kr.load(ctx, t.tenant)
	if err != nil {
		return fmt.Errorf("tenant %s: reload session keys: %w", t.tenant, err)
	}
	for v, sk := range fresh.sess.keys {
		if old := t.sess.keys[v]; old != nil {
			old.retired = sk.retired
			continue
		}
		if t.sess.keys == nil {
			t.sess.keys = make(map[uint32]*signingKey)
		}
		t.sess.keys[v] = sk
	}
	t.sess.cur = fresh.sess.cur
	return nil
}

// thumbprintLen is the length of a kid: 32 bytes in unpadded base64url.
const thumbprintLen = 43

// SessionPublicKey returns the public key a token's kid names, among the
// tenant's session key versions that are not retired. A kid this process
// does not know (another instance rotated) is looked up in the store, at
// most once per sessionReloadGap.
// Keys of another tenant are never found: each tenant's keys are its own,
// so a token of tenant B names no key of tenant A. lethe.ErrNotFound when
// no key matches.
func (t *TenantKeys) SessionPublicKey(ctx context.Context, kid string) (ed25519.PublicKey, error) {
	t.sess.mu.Lock()
	defer t.sess.mu.Unlock()
	if pub := t.sessionPublicLocked(kid); pub != nil {
		return pub, nil
	}
	if now := t.kr.Now(); len(kid) == thumbprintLen && now.Sub(t.sess.missed) >= sessionReloadGap {
		t.sess.missed = now
		if err := t.reloadSessionLocked(ctx); err != nil {
			return nil, err
		}
		if pub := t.sessionPublicLocked(kid); pub != nil {
			return pub, nil
		}
	}
	return nil, fmt.Errorf("session key %q of tenant %s: %w", kid, t.tenant, lethe.ErrNotFound)
}

func (t *TenantKeys) sessionPublicLocked(kid string) ed25519.PublicKey {
	for _, sk := range t.sess.keys {
		// The kid is public, yet compare it in constant time all the same:
		// it costs nothing and leaves no timing question to answer.
		if !sk.retired && subtle.ConstantTimeCompare([]byte(sk.jwk.Kid), []byte(kid)) == 1 {
			return sk.priv.Public().(ed25519.PublicKey)
		}
	}
	return nil
}

// SessionPublicKeys returns the public halves of the tenant's session key
// versions that still verify, oldest first.
func (t *TenantKeys) SessionPublicKeys() JWKS {
	t.sess.mu.Lock()
	defer t.sess.mu.Unlock()
	versions := make([]uint32, 0, len(t.sess.keys))
	for v, sk := range t.sess.keys {
		if !sk.retired {
			versions = append(versions, v)
		}
	}
	slices.Sort(versions)
	set := JWKS{Keys: []JWK{}}
	for _, v := range versions {
		set.Keys = append(set.Keys, t.sess.keys[v].jwk)
	}
	return set
}
