package keyring

import (
	"cmp"
	"context"
	"crypto/cipher"
	"crypto/hmac"
	"crypto/rand"
	"crypto/sha256"
	"errors"
	"fmt"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/lethe-privacy/lethe"
)

// BlindIndexSize is the length of a blind-index hash: HMAC-SHA256 cut to
// 128 bits. Collisions between two subjects of one tenant need about 2^64
// values, and a short hash keeps the store's index small and fast.
const BlindIndexSize = 16

// TenantKeys are one tenant's unwrapped keys. Get them from
// Keyring.Tenant; they are safe for concurrent use.
type TenantKeys struct {
	kr     *Keyring
	tenant string
	// loaded is when the keys were last unwrapped (guarded by kr.mu);
	// refreshing is set while one caller unwraps them again.
	loaded     time.Time
	checked    time.Time
	refreshing atomic.Bool

	// index and receipt are set at load and never change.
	index   []byte
	receipt []byte

	// signMu guards the Ed25519 signing keys (signing.go), apart from mu
	// so that creating one never waits on seals.
	signMu     sync.Mutex
	signing    map[uint32]*signingKey
	signingCur uint32 // newest non-retired signing key version; 0 when none

	// sess holds the session token keys (sessionkeys.go).
	sess sessionKeys

	mu      sync.RWMutex
	data    map[uint32]*dataKey
	current uint32 // newest non-retired data key version; 0 when none
	region  string // phone region of BlindIndex; "" for DefaultPhoneRegion
}

// SetPhoneRegion sets the region BlindIndex reads phone numbers without a
// country code in: the tenant's setting, which its owner may change while
// these keys are in use. An unsupported region is refused and leaves the
// region as it was.
func (t *TenantKeys) SetPhoneRegion(region string) error {
	if err := CheckPhoneRegion(region); err != nil {
		return err
	}
	t.mu.Lock()
	t.region = region
	t.mu.Unlock()
	return nil
}

// PhoneRegion returns the region BlindIndex reads phone numbers in.
func (t *TenantKeys) PhoneRegion() string {
	t.mu.RLock()
	defer t.mu.RUnlock()
	if t.region == "" {
		return DefaultPhoneRegion
	}
	return t.region
}

// String names the tenant only, so that logging TenantKeys by mistake never
// prints key material.
func (t *TenantKeys) String() string { return "TenantKeys(" + t.tenant + ")" }

// GoString keeps %#v from printing keys.
func (t *TenantKeys) GoString() string { return t.String() }

// Tenant returns the id of the tenant these keys belong to.
func (t *TenantKeys) Tenant() string { return t.tenant }

// CurrentVersion returns the data key version new seals use (0 when every
// version is retired; the next Seal then creates a fresh one).
func (t *TenantKeys) CurrentVersion() uint32 {
	t.mu.RLock()
	defer t.mu.RUnlock()
	return t.current
}

// Seal encrypts a field value with the tenant's current data key and binds
// it to ad. The envelope carries the key version, so it still opens after
// rotation (docs/format.md, "Field envelope").
func (t *TenantKeys) Seal(plaintext []byte, ad AD) ([]byte, error) {
	if ad.Tenant != t.tenant {
		return nil, fmt.Errorf("seal: keys of tenant %q cannot seal for tenant %q: %w", t.tenant, ad.Tenant, lethe.ErrInvalid)
	}
	aead, version, err := t.sealKey()
	if err != nil {
		return nil, err
	}
	var nonce [nonceSize]byte
	// A fresh random 96-bit nonce from the operating system for every seal:
	// no counter that could repeat after a restore or across instances.
	// MaxSealsPerKey keeps the number of random nonces per key far below
	// the 2^32 that NIST SP 800-38D allows.
	rand.Read(nonce[:])
	return sealEnvelope(aead, version, nonce[:], plaintext, ad)
}

// sealKey counts one seal against the current data key and returns it,
// rotating first when the key reached its cap. The count and the rotation
// happen under one lock, so no key ever seals more than the cap, however
// many goroutines seal at once.
func (t *TenantKeys) sealKey() (cipher.AEAD, uint32, error) {
	t.mu.Lock()
	defer t.mu.Unlock()
	dk := t.data[t.current]
	if dk == nil || dk.retired || dk.seals >= t.kr.maxSeals() {
		capped := dk != nil && !dk.retired
		// Seal has no context; rotation is a rare, short write.
		old, cur, err := t.rotateRetireLocked(context.Background())
		if err != nil {
			return nil, 0, fmt.Errorf("seal: rotate data key: %w", err)
		}
		if capped && t.kr.OnAutoRotate != nil {
			go t.kr.OnAutoRotate(t.tenant, old, cur)
		}
		dk = t.data[t.current]
	}
	dk.seals++
	return dk.aead, t.current, nil
}

// rotateLocked creates the next data key version, stores it wrapped and
// makes it current. A version taken meanwhile by another instance is
// skipped: its seal count is unknown here, so this process uses its own.
func (t *TenantKeys) rotateLocked(ctx context.Context) (uint32, error) {
	const attempts = 5
	next := t.maxVersionLocked() + 1
	for range attempts {
		if next == 0 {
			return 0, fmt.Errorf("tenant %s: data key versions exhausted: %w", t.tenant, lethe.ErrConflict)
		}
		w, secret, err := t.kr.newKey(ctx, t.tenant, lethe.KeyData, next)
		if err != nil {
			return 0, err
		}
		err = t.kr.store.PutKey(ctx, w)
		if errors.Is(err, lethe.ErrConflict) {
			next++
			continue
		}
		if err != nil {
			return 0, fmt.Errorf("tenant %s: store data key v%d: %w", t.tenant, next, err)
		}
		dk, err := newDataKey(secret)
		if err != nil {
			return 0, err
		}
		t.data[next] = dk
		t.current = next
		return next, nil
	}
	return 0, fmt.Errorf("tenant %s: rotate: %d versions in a row were taken: %w", t.tenant, attempts, lethe.ErrConflict)
}

// rotateRetireLocked rotates and then retires every older data key
// version, in the store and here, so that no instance seals under them
// again once it sees the change (keyring.cached checks every
// versionCheckEvery). It returns the version that was current before and
// the new one.
func (t *TenantKeys) rotateRetireLocked(ctx context.Context) (old, cur uint32, err error) {
	old = t.current
	cur, err = t.rotateLocked(ctx)
	if err != nil {
		return 0, 0, err
	}
	r, canRetire := lethe.StoreAs[keyRetirer](t.kr.store)
	for v, dk := range t.data {
		if v == cur || dk.retired {
			continue
		}
		if canRetire {
			if err := r.RetireKey(ctx, t.tenant, lethe.KeyData, v); err != nil {
				return old, cur, fmt.Errorf("tenant %s: retire data key v%d: %w", t.tenant, v, err)
			}
		}
		dk.retired = true
	}
	return old, cur, nil
}

// keyRetirer is the store method that marks a key version retired
// (lethe.KeyRotationStore has it).
type keyRetirer interface {
	RetireKey(ctx context.Context, tenant string, purpose lethe.KeyPurpose, version uint32) error
}

// Versions lists the data key versions these keys hold, each with whether
// it is retired, oldest first.
func (t *TenantKeys) Versions() []KeyVersionState {
	t.mu.RLock()
	defer t.mu.RUnlock()
	out := make([]KeyVersionState, 0, len(t.data))
	for v, dk := range t.data {
		out = append(out, KeyVersionState{Version: v, Retired: dk.retired, Current: v == t.current, Seals: dk.seals})
	}
	slices.SortFunc(out, func(a, b KeyVersionState) int { return cmp.Compare(a.Version, b.Version) })
	return out
}

// KeyVersionState is one data key version as this process holds it.
type KeyVersionState struct {
	Version          uint32
	Retired, Current bool
	// Seals is how many seals this process made under it.
	Seals uint64
}

func (t *TenantKeys) maxVersionLocked() uint32 {
	var max uint32
	for v := range t.data {
		if v > max {
			max = v
		}
	}
	return max
}

// merge adds the data key versions of fresh (a reload from the store) that
// t does not hold, takes over retirements, and moves the current version
// forward when the store has a newer active one. Seal counts of versions t
// already holds are kept.
func (t *TenantKeys) merge(fresh *TenantKeys) {
	t.mu.Lock()
	defer t.mu.Unlock()
	for v, dk := range fresh.data {
		if old := t.data[v]; old != nil {
			old.retired = dk.retired
			continue
		}
		t.data[v] = dk
	}
	if cur := t.data[t.current]; cur == nil || cur.retired || fresh.current > t.current {
		t.current = fresh.current
	}
}

// Open decrypts an envelope made by Seal for the same AD. Every failure
// (truncated or altered bytes, another place, another tenant, an unknown
// key version) gives an error wrapping lethe.ErrCrypto; arbitrary input
// never makes it panic.
func (t *TenantKeys) Open(envelope []byte, ad AD) ([]byte, error) {
	version, err := parseHeader(envelope)
	if err != nil {
		return nil, err
	}
	if ad.Tenant != t.tenant {
		return nil, fmt.Errorf("open: keys of tenant %q cannot open for tenant %q: %w", t.tenant, ad.Tenant, lethe.ErrCrypto)
	}
	t.mu.RLock()
	dk := t.data[version]
	t.mu.RUnlock()
	if dk == nil {
		return nil, fmt.Errorf("open: data key v%d of %s: %w: %w", version, t.tenant, ErrUnknownKeyVersion, lethe.ErrCrypto)
	}
	return openEnvelope(dk.aead, envelope, ad)
}

// KeyVersion returns the data key version an envelope was sealed with,
// without opening it (to find what a rewrap must re-seal).
func KeyVersion(envelope []byte) (uint32, error) {
	return parseHeader(envelope)
}

// BlindIndex returns the 16-byte keyed hash a subject identifier is found
// by: HMAC-SHA256(index key, kind || 0x00 || NormalizeIn(kind, value,
// PhoneRegion())), cut to 16 bytes. The kind is hashed in, so an e-mail and a customer id with
// the same text never match; the per-tenant key means the same person has
// unrelated hashes in two tenants, and the hashes cannot be reversed by
// hashing guesses without the key.
func (t *TenantKeys) BlindIndex(kind, value string) ([]byte, error) {
	if kind == "" || strings.IndexByte(kind, 0) >= 0 {
		return nil, fmt.Errorf("blind index: kind %q: must be non-empty without NUL bytes: %w", kind, lethe.ErrInvalid)
	}
	norm, err := NormalizeIn(kind, value, t.PhoneRegion())
	if err != nil {
		return nil, err
	}
	mac := hmac.New(sha256.New, t.index)
	mac.Write([]byte(kind))
	mac.Write([]byte{0})
	mac.Write([]byte(norm))
	return mac.Sum(nil)[:BlindIndexSize], nil
}

// Sign returns HMAC-SHA256 of msg under the tenant's receipt key, the
// signature of a request receipt.
func (t *TenantKeys) Sign(msg []byte) []byte {
	mac := hmac.New(sha256.New, t.receipt)
	mac.Write(msg)
	return mac.Sum(nil)
}

// Verify reports whether mac is Sign(msg). hmac.Equal compares in constant
// time, so a forger learns nothing from how long a wrong guess takes.
func (t *TenantKeys) Verify(msg, mac []byte) bool {
	return hmac.Equal(mac, t.Sign(msg))
}
