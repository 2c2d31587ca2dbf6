package lethe

import (
	"fmt"
	"slices"
	"strings"
	"time"
)

// KeyPurpose says what a tenant key is for. Each purpose has its own key so
// that a leak of one (say, the blind-index key) does not open the others.
type KeyPurpose string

const (
	KeyData    KeyPurpose = "data"    // AES-256-GCM data key (DEK) for PII fields
	KeyIndex   KeyPurpose = "index"   // HMAC-SHA256 blind-index key
	KeyReceipt KeyPurpose = "receipt" // HMAC key that signs request receipts
	// KeySigning is the 32-byte Ed25519 seed that signs request receipts
	// since format version 2, so that anyone holding the published public
	// key can verify them, not only the holder of the master key.
	KeySigning KeyPurpose = "signing"
	// KeySession is the 32-byte Ed25519 seed that signs the chat's session
	// tokens. It is apart from KeySigning so that a token can never pass
	// for a receipt signature, nor the other way round, and so that the
	// two rotate on their own schedules.
	KeySession KeyPurpose = "session"
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
	// Roles is what the key may do in its tenant (see Role).
	Roles []Role
}

// Role is one kind of work a caller may do. Roles are split so that who
// administers Lethe is not thereby who reads the data (as Vault and
// Piiano separate them): an admin key manages tenants, keys and settings
// but reads no PII unless it also holds RoleReader.
type Role string

const (
	// RoleAdmin manages tenants, keys, settings and sweeps; no PII.
	RoleAdmin Role = "admin"
	// RoleReader reads records and subjects: decrypted PII, each read
	// in the manager log.
	RoleReader Role = "reader"
	// RoleWriter creates, changes and deletes records.
	RoleWriter Role = "writer"
	// RoleRequests submits and follows data-subject and data-origin
	// requests and downloads their exports and receipts.
	RoleRequests Role = "requests"
	// RoleAuditor reads the audit logs, and nothing else.
	RoleAuditor Role = "auditor"
)

// AllRoles lists every role, in the order listings show them.
func AllRoles() []Role {
	return []Role{RoleAdmin, RoleReader, RoleWriter, RoleRequests, RoleAuditor}
}

// DefaultKeyRoles are the roles of a key created without a role list: what
// every tenant key could do before roles existed, minus the settings and
// log routes, which now belong to admin and auditor keys.
func DefaultKeyRoles() []Role {
	return []Role{RoleReader, RoleWriter, RoleRequests}
}

// ParseRoles checks a role list and returns it in the order of AllRoles,
// each role once. An empty list is refused: a key that may do nothing is a
// mistake, not a choice.
func ParseRoles(names []string) ([]Role, error) {
	if len(names) == 0 {
		return nil, &FieldError{Field: "roles", Reason: "name at least one role (" + roleNames() + ")"}
	}
	seen := map[Role]bool{}
	for i, n := range names {
		r := Role(strings.TrimSpace(n))
		if !slices.Contains(AllRoles(), r) {
			return nil, &FieldError{Field: fmt.Sprintf("roles[%d]", i), Reason: fmt.Sprintf("unknown role %q; want one of %s", n, roleNames())}
		}
		seen[r] = true
	}
	var out []Role
	for _, r := range AllRoles() {
		if seen[r] {
			out = append(out, r)
		}
	}
	return out, nil
}

func roleNames() string {
	var b strings.Builder
	for i, r := range AllRoles() {
		if i > 0 {
			b.WriteString(", ")
		}
		b.WriteString(string(r))
	}
	return b.String()
}

// EncodeRoles and DecodeRoles are how every store keeps a key's roles: one
// comma-separated column of a handful of fixed words, never searched by.
func EncodeRoles(rs []Role) string {
	parts := make([]string, len(rs))
	for i, r := range rs {
		parts[i] = string(r)
	}
	return strings.Join(parts, ",")
}

// DecodeRoles reads EncodeRoles' form; empty parts are skipped.
func DecodeRoles(s string) []Role {
	var out []Role
	for _, p := range strings.Split(s, ",") {
		if p != "" {
			out = append(out, Role(p))
		}
	}
	return out
}
