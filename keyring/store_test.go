package keyring

import (
	"bytes"
	"context"
	"fmt"
	"slices"
	"sync"
	"testing"
	"time"

	"github.com/lethe-privacy/lethe"
)

// memStore is an in-memory KeyStore for tests: a fixture with the
// contract of lethe.Store's key methods (ErrConflict on a taken version,
// keys oldest version first), not a stand-in for a database.
type memStore struct {
	mu   sync.Mutex
	keys map[string][]*lethe.WrappedKey
}

var _ KeyStore = (*memStore)(nil)

func newMemStore() *memStore { return &memStore{keys: make(map[string][]*lethe.WrappedKey)} }

func (s *memStore) PutKey(_ context.Context, k *lethe.WrappedKey) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	for _, old := range s.keys[k.Tenant] {
		if old.Purpose == k.Purpose && old.Version == k.Version {
			return fmt.Errorf("key %s/%s/v%d: %w", k.Tenant, k.Purpose, k.Version, lethe.ErrConflict)
		}
	}
	c := *k
	c.Wrapped = bytes.Clone(k.Wrapped)
	s.keys[k.Tenant] = append(s.keys[k.Tenant], &c)
	return nil
}

func (s *memStore) Keys(_ context.Context, tenant string) ([]*lethe.WrappedKey, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	out := make([]*lethe.WrappedKey, 0, len(s.keys[tenant]))
	for _, k := range s.keys[tenant] {
		c := *k
		c.Wrapped = bytes.Clone(k.Wrapped)
		out = append(out, &c)
	}
	slices.SortStableFunc(out, func(a, b *lethe.WrappedKey) int { return int(a.Version) - int(b.Version) })
	return out, nil
}

// retire marks one stored key retired, as a later key-management command
// would.
func (s *memStore) retire(tenant string, p lethe.KeyPurpose, version uint32) {
	s.mu.Lock()
	defer s.mu.Unlock()
	for _, k := range s.keys[tenant] {
		if k.Purpose == p && k.Version == version {
			k.Retired = true
		}
	}
}

// all returns copies of every stored key of every tenant.
func (s *memStore) all() []*lethe.WrappedKey {
	s.mu.Lock()
	defer s.mu.Unlock()
	var out []*lethe.WrappedKey
	for _, ks := range s.keys {
		for _, k := range ks {
			c := *k
			c.Wrapped = bytes.Clone(k.Wrapped)
			out = append(out, &c)
		}
	}
	return out
}

// testKEK returns a master key built from a fixed pattern, so that
// failures are reproducible.
func testKEK(t testing.TB, seed byte) *FileKEK {
	t.Helper()
	key := make([]byte, KEKSize)
	for i := range key {
		key[i] = seed + byte(i)
	}
	k, err := NewFileKEK(key)
	if err != nil {
		t.Fatal(err)
	}
	return k
}

var fixedNow = time.Date(2025, 1, 2, 3, 4, 5, 0, time.UTC)

// newTestKeyring returns a keyring on a fresh memStore with the given
// tenants created.
func newTestKeyring(t testing.TB, tenants ...string) (*Keyring, *memStore) {
	t.Helper()
	store := newMemStore()
	kr := New(store, testKEK(t, 1))
	kr.Now = func() time.Time { return fixedNow }
	for _, id := range tenants {
		if err := kr.CreateTenant(context.Background(), id); err != nil {
			t.Fatal(err)
		}
	}
	return kr, store
}

func tenantKeys(t testing.TB, kr *Keyring, tenant string) *TenantKeys {
	t.Helper()
	tk, err := kr.Tenant(context.Background(), tenant)
	if err != nil {
		t.Fatal(err)
	}
	return tk
}
