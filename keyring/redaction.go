package keyring

import (
	"crypto/hmac"
	"crypto/sha256"
)

// redactionLabel separates the redaction key from the blind-index key it
// is derived from: a redaction hash and a blind-index entry of the same
// value are unrelated, so a redacted text gives no handle on the index.
const redactionLabel = "lethe redaction hash v1"

// RedactionMAC returns HMAC-SHA256 of msg under the tenant's redaction
// key, for the redact package's Hash operator: the same value gives the
// same tag within the tenant (a review still sees "the same customer wrote
// twice") and unrelated tags in two tenants, and a tag cannot be confirmed
// by hashing guesses without the key.
//
// The key is derived from the index key rather than stored apart: it
// lives exactly as long as the index key, which is what makes hashes
// linkable, and a tenant's deletion (crypto-shredding) removes both.
func (t *TenantKeys) RedactionMAC(msg []byte) []byte {
	k := hmac.New(sha256.New, t.index)
	k.Write([]byte(redactionLabel))
	m := hmac.New(sha256.New, k.Sum(nil))
	m.Write(msg)
	return m.Sum(nil)
}
