package keyring

import (
	"context"
	"crypto/aes"
	"crypto/cipher"
	"crypto/rand"
	"errors"
	"fmt"
	"sync"
	"time"

	"github.com/lethe-privacy/lethe"
)

// KeyStore is the part of lethe.Store the keyring needs: it stores wrapped
// tenant keys and never sees one in the clear.
type KeyStore interface {
	// PutKey stores a wrapped key; lethe.ErrConflict when that tenant,
	// purpose and version exist.
	PutKey(ctx context.Context, k *lethe.WrappedKey) error
	// Keys returns every key of a tenant, oldest version first.
	Keys(ctx context.Context, tenant string) ([]*lethe.WrappedKey, error)
}

// TenantKeySize is the length of every tenant key: AES-256 data keys and
// 256-bit HMAC-SHA256 keys for the blind index and receipts.
const TenantKeySize = 32

// DefaultMaxSealsPerKey is the default cap on seals under one data key.
// NIST SP 800-38D bounds random 96-bit nonces to 2^32 messages per key;
// the count is kept in memory per process, so the default stays a factor
// of four below to leave room for several instances and restarts, which
// each start counting afresh.
const DefaultMaxSealsPerKey = 1 << 30

// purposes lists the keys every tenant has, in the order they are created.
// The signing key is not among them: tenants made before it existed get it
// on first use (TenantKeys.SignReceipt), and new tenants take the same path.
var purposes = [...]lethe.KeyPurpose{lethe.KeyData, lethe.KeyIndex, lethe.KeyReceipt}

// Keyring creates, loads, caches and rotates tenant keys. It unwraps each
// tenant's keys once and keeps them in memory, so sealing a field costs no
// database or KMS round trip. It is safe for concurrent use; set its
// exported fields before the first call.
type Keyring struct {
	// MaxSealsPerKey caps the seals under one data key version in this
	// process; the seal that would exceed it first rotates to a fresh
	// version. Zero means DefaultMaxSealsPerKey.
	MaxSealsPerKey uint64
	// Now stamps new keys with their creation time.
	Now func() time.Time
	// PhoneRegion, when set, tells the region a tenant's BlindIndex reads
	// phone numbers in when its keys are loaded; lethe.ErrNotFound (keys
	// of no tenant, such as the system tenant's) means
	// DefaultPhoneRegion. A later change reaches loaded keys through
	// Loaded and TenantKeys.SetPhoneRegion.
	PhoneRegion func(ctx context.Context, tenant string) (string, error)
	// CacheTTL bounds how long unwrapped keys stay in memory before they
	// are unwrapped again through the master key (zero: DefaultCacheTTL).
	CacheTTL time.Duration
	// OutageGrace is how much longer cached keys go on serving while the
	// master key service cannot be reached (zero: DefaultOutageGrace).
	OutageGrace time.Duration
	// OnAutoRotate, when set, is called (in its own goroutine) after a
	// data key reached MaxSealsPerKey and was rotated by a seal, so that
	// the caller rewraps what the old version sealed.
	OnAutoRotate func(tenant string, retired, current uint32)
	// TenantKEK, when set, returns the master key of a tenant that has
	// one of its own (bring-your-own-key), nil for one that uses the
	// instance's. Its failure fails that tenant only.
	TenantKEK func(ctx context.Context, tenant string) (Wrapper, error)

	store KeyStore
	kek   Wrapper

	mu      sync.Mutex
	tenants map[string]*TenantKeys
	outage  outage
	own     map[string]bool   // tenants seen with a master key of their own
	failing map[string]string // such tenants whose last load failed
}

// New returns a keyring that keeps tenant keys in store, wrapped by kek.
func New(store KeyStore, kek Wrapper) *Keyring {
	return &Keyring{
		Now:     time.Now,
		store:   store,
		kek:     kek,
		tenants: make(map[string]*TenantKeys),
		own:     make(map[string]bool),
		failing: make(map[string]string),
	}
}

func (k *Keyring) maxSeals() uint64 {
	if k.MaxSealsPerKey == 0 {
		return DefaultMaxSealsPerKey
	}
	return k.MaxSealsPerKey
}

// CreateTenant generates a tenant's first keys (data key, blind-index key
// and receipt key, each version 1) and stores them wrapped. It fails with
// lethe.ErrConflict when the tenant has all of them already. A tenant whose
// creation was interrupted gets its missing keys, so a retry completes it.
func (k *Keyring) CreateTenant(ctx context.Context, tenant string) error {
	if tenant == "" {
		return fmt.Errorf("create tenant keys: empty tenant id: %w", lethe.ErrInvalid)
	}
	existing, err := k.store.Keys(ctx, tenant)
	if err != nil {
		return fmt.Errorf("create tenant keys %s: %w", tenant, err)
	}
	have := make(map[lethe.KeyPurpose]bool)
	for _, w := range existing {
		have[w.Purpose] = true
	}
	created := 0
	for _, p := range purposes {
		if have[p] {
			continue
		}
		w, _, err := k.newKey(ctx, tenant, p, 1)
		if err != nil {
			return err
		}
		err = k.store.PutKey(ctx, w)
		if errors.Is(err, lethe.ErrConflict) {
			continue // another instance created it at the same moment
		}
		if err != nil {
			return fmt.Errorf("create tenant keys %s: store %s key: %w", tenant, p, err)
		}
		created++
	}
	if created == 0 {
		return fmt.Errorf("create tenant keys %s: tenant has keys already: %w", tenant, lethe.ErrConflict)
	}
	return nil
}

// newKey draws a fresh random tenant key and wraps it.
func (k *Keyring) newKey(ctx context.Context, tenant string, p lethe.KeyPurpose, version uint32) (*lethe.WrappedKey, []byte, error) {
	secret := make([]byte, TenantKeySize)
	// crypto/rand: the operating system's CSPRNG; it does not fail on
	// supported platforms (Go 1.24+).
	rand.Read(secret)
	kek, err := k.wrapperFor(ctx, tenant)
	if err != nil {
		return nil, nil, err
	}
	wrapped, kekID, err := kek.Wrap(ctx, secret)
	if err != nil {
		return nil, nil, fmt.Errorf("wrap %s key v%d of %s: %w", p, version, tenant, err)
	}
	return &lethe.WrappedKey{
		Tenant:  tenant,
		Purpose: p,
		Version: version,
		KEKID:   kekID,
		Wrapped: wrapped,
		Created: k.Now().UTC(),
	}, secret, nil
}

// Tenant returns a tenant's unwrapped keys, loading them on first use and
// serving them from memory afterwards, for CacheTTL; then they are loaded
// again (see cached). A tenant without keys gives lethe.ErrNotFound; keys
// wrapped by another master key give an error wrapping ErrWrongMasterKey.
func (k *Keyring) Tenant(ctx context.Context, tenant string) (*TenantKeys, error) {
	k.mu.Lock()
	t := k.tenants[tenant]
	k.mu.Unlock()
	if t != nil {
		return k.cached(ctx, t)
	}
	t, err := k.load(ctx, tenant)
	k.note(tenant, err)
	if err != nil {
		return nil, err
	}
	// Two callers may have loaded at once: keep the first, so that every
	// caller shares one seal count per key.
	k.mu.Lock()
	defer k.mu.Unlock()
	if cur := k.tenants[tenant]; cur != nil {
		return cur, nil
	}
	t.loaded = k.Now()
	k.tenants[tenant] = t
	return t, nil
}

// Loaded returns a tenant's keys if this keyring holds them in memory,
// nil otherwise; it never loads.
func (k *Keyring) Loaded(tenant string) *TenantKeys {
	k.mu.Lock()
	defer k.mu.Unlock()
	return k.tenants[tenant]
}

// Rotate adds a new data key version, makes it the one new seals use and
// retires the older ones (in the store too), so that they seal nothing
// new. Older versions stay, so everything sealed under them still opens
// until a rewrap has moved it. Only data keys rotate here: a new
// blind-index key would need every index entry recomputed.
func (k *Keyring) Rotate(ctx context.Context, tenant string) (uint32, error) {
	t, err := k.Tenant(ctx, tenant)
	if err != nil {
		return 0, err
	}
	t.mu.Lock()
	defer t.mu.Unlock()
	_, cur, err := t.rotateRetireLocked(ctx)
	return cur, err
}

// Refresh reloads a tenant's keys from the store and adds the data key
// versions this process does not know yet, such as one another instance
// created by rotating. Call it when Open fails with ErrUnknownKeyVersion.
func (k *Keyring) Refresh(ctx context.Context, tenant string) error {
	t, err := k.Tenant(ctx, tenant)
	if err != nil {
		return err
	}
	fresh, err := k.load(ctx, tenant)
	if err != nil {
		return err
	}
	t.merge(fresh)
	k.mu.Lock()
	t.loaded = k.Now()
	k.mu.Unlock()
	return nil
}

// Forget drops a tenant's keys from memory, for instance once the tenant
// is erased (its wrapped keys deleted, which makes its ciphertexts
// unreadable everywhere, backups included). Handles returned by Tenant
// earlier keep working until they are dropped.
func (k *Keyring) Forget(tenant string) {
	k.mu.Lock()
	defer k.mu.Unlock()
	delete(k.tenants, tenant)
}

// load reads and unwraps a tenant's keys.
func (k *Keyring) load(ctx context.Context, tenant string) (*TenantKeys, error) {
	wrapped, err := k.store.Keys(ctx, tenant)
	if err != nil {
		return nil, fmt.Errorf("load keys of %s: %w", tenant, err)
	}
	if len(wrapped) == 0 {
		return nil, fmt.Errorf("keys of tenant %s: %w", tenant, lethe.ErrNotFound)
	}
	kek, err := k.wrapperFor(ctx, tenant)
	if err != nil {
		return nil, err
	}
	t := &TenantKeys{kr: k, tenant: tenant, data: make(map[uint32]*dataKey)}
	var indexV, receiptV uint32
	for _, w := range wrapped {
		switch w.Purpose {
		case lethe.KeyData, lethe.KeyIndex, lethe.KeyReceipt, lethe.KeySigning, lethe.KeySession:
		default:
			continue // a purpose of a later version of Lethe: not ours to use
		}
		if w.Tenant != tenant {
			return nil, fmt.Errorf("keys of %s: store returned a key of tenant %q: %w", tenant, w.Tenant, lethe.ErrCrypto)
		}
		secret, err := kek.Unwrap(ctx, w.Wrapped, w.KEKID)
		if err != nil {
			return nil, fmt.Errorf("tenant %s: unwrap %s key v%d: %w", tenant, w.Purpose, w.Version, err)
		}
		if len(secret) != TenantKeySize {
			return nil, fmt.Errorf("tenant %s: %s key v%d has %d bytes, want %d: %w",
				tenant, w.Purpose, w.Version, len(secret), TenantKeySize, lethe.ErrCrypto)
		}
		switch w.Purpose {
		case lethe.KeyData:
			dk, err := newDataKey(secret)
			if err != nil {
				return nil, fmt.Errorf("tenant %s: data key v%d: %w", tenant, w.Version, err)
			}
			dk.retired = w.Retired
			t.data[w.Version] = dk
			if !w.Retired && w.Version > t.current {
				t.current = w.Version
			}
		case lethe.KeyIndex:
			if !w.Retired && w.Version >= indexV {
				t.index, indexV = secret, w.Version
			}
		case lethe.KeyReceipt:
			if !w.Retired && w.Version >= receiptV {
				t.receipt, receiptV = secret, w.Version
			}
		case lethe.KeySigning:
			t.addSigningKey(w.Version, secret, w.Retired)
		case lethe.KeySession:
			t.sess.addLocked(w.Version, secret, w.Retired) // t is not shared yet
		}
	}
	switch {
	case len(t.data) == 0:
		return nil, fmt.Errorf("tenant %s has no data key: %w", tenant, lethe.ErrNotFound)
	case t.index == nil:
		return nil, fmt.Errorf("tenant %s has no active blind-index key: %w", tenant, lethe.ErrNotFound)
	case t.receipt == nil:
		return nil, fmt.Errorf("tenant %s has no active receipt key: %w", tenant, lethe.ErrNotFound)
	}
	if k.PhoneRegion != nil {
		region, err := k.PhoneRegion(ctx, tenant)
		switch {
		case errors.Is(err, lethe.ErrNotFound):
		case err != nil:
			return nil, fmt.Errorf("tenant %s: phone region: %w", tenant, err)
		default:
			if err := t.SetPhoneRegion(region); err != nil {
				return nil, fmt.Errorf("tenant %s: %w", tenant, err)
			}
		}
	}
	return t, nil
}

// dataKey is one unwrapped data key version and the number of seals this
// process made under it.
type dataKey struct {
	aead    cipher.AEAD
	retired bool
	seals   uint64
}

func newDataKey(secret []byte) (*dataKey, error) {
	block, err := aes.NewCipher(secret)
	if err != nil {
		return nil, err
	}
	// cipher.NewGCM: 12-byte nonces and 16-byte tags, the parameters of
	// docs/format.md, in the standard library's AES-GCM, the one crypto/tls
	// relies on.
	aead, err := cipher.NewGCM(block)
	if err != nil {
		return nil, err
	}
	return &dataKey{aead: aead}, nil
}
