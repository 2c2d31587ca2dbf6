package lethe

import "time"

// KeyPurpose says what a tenant key is for. Each purpose has its own key so
// that a leak of one (say, the blind-index key) does not open the others.
type KeyPurpose string

const (
	KeyData    KeyPurpose = "data"    // AES-256-GCM data key (DEK) for PII fields
	KeyIndex   KeyPurpose = "index"   // HMAC-SHA256 blind-index key
	KeyReceipt KeyPurpose = "receipt" // HMAC key that signs request receipts
)

// WrappedKey is a tenant key as the database holds it: only ever wrapped
// (encrypted) by the master key (KEK), never in the clear.
type WrappedKey struct {
	Tenant  string
	Purpose KeyPurpose
	Version uint32
	KEKID   string // which master key wrapped it
	Wrapped []byte
	Created time.Time
	// Retired keys still open old ciphertexts but seal nothing new.
	Retired bool
}

// APIKey is a tenant's API key as stored: a public prefix to find it by and
// a SHA-256 hash of the secret part, compared in constant time.
type APIKey struct {
	Prefix    string
	Tenant    string
	Hash      []byte
	CreatedAt time.Time
	Revoked   bool
}
