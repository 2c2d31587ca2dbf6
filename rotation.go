package lethe

import "context"

// KeyRotationStore is what key rotation and rewrap need of a store beside
// Store: both stores implement it. It is its own interface so that a
// store without it (a test double) still serves everything else.
type KeyRotationStore interface {
	// AllKeys returns every wrapped key of every tenant (the system
	// tenant's too), by tenant, purpose and version: what a master key
	// rewrap walks.
	AllKeys(ctx context.Context) ([]*WrappedKey, error)
	// RewrapKey replaces a key's wrapped form and KEKID when it is still
	// wrapped by oldKEKID; false when it was not (another instance moved
	// it first, or it is gone).
	RewrapKey(ctx context.Context, k *WrappedKey, oldKEKID string) (bool, error)
	// RetireKey marks a key version retired: it opens what it sealed, and
	// seals nothing new. ErrNotFound when there is no such key.
	RetireKey(ctx context.Context, tenant string, purpose KeyPurpose, version uint32) error
	// DeleteKey removes a retired key version for good; ErrNotFound when
	// there is none, ErrConflict when it is not retired.
	DeleteKey(ctx context.Context, tenant string, purpose KeyPurpose, version uint32) error
	// SealedRecords pages through a tenant's records that hold sealed
	// fields, in (collection, id) order, starting after after (zero: from
	// the start). Subjects are not loaded.
	SealedRecords(ctx context.Context, tenant string, after RecordRef, limit int) ([]*Record, error)
	// ResealRecords replaces records' sealed fields, each only while the
	// record's sealed fields are still exactly Old (EncodeSealed bytes:
	// every seal has a fresh nonce, so a write in between always differs).
	// Plans, subjects and updated_at stay. Returns how many changed.
	ResealRecords(ctx context.Context, rs []Reseal) (int, error)
}

// Reseal is one record's sealed fields, re-sealed under a new key version.
type Reseal struct {
	Ref      RecordRef
	Old, New map[string][]byte
}
