package keyring

import (
	"bytes"
	"crypto/hmac"
	"crypto/sha256"
	"testing"
)

// The redaction MAC is stable for a tenant (also after its keys are
// loaded again), differs between tenants, and is neither the blind index
// nor an HMAC under the index key itself: a redaction tag gives no handle
// on the index.
func TestRedactionMAC(t *testing.T) {
	kr, _ := newTestKeyring(t, "acme", "globex")
	acme := tenantKeys(t, kr, "acme")
	msg := []byte("EMAIL\x00erika@example.com")
	one := acme.RedactionMAC(msg)
	kr.Forget("acme")
	again := tenantKeys(t, kr, "acme").RedactionMAC(msg)
	if !bytes.Equal(one, again) || len(one) != sha256.Size {
		t.Fatalf("MAC changed on reload or has %d bytes", len(one))
	}
	if other := tenantKeys(t, kr, "globex").RedactionMAC(msg); bytes.Equal(one, other) {
		t.Error("two tenants give the same MAC")
	}
	if bytes.Equal(one, acme.RedactionMAC([]byte("EMAIL\x00max@example.com"))) {
		t.Error("two values give the same MAC")
	}
	direct := hmac.New(sha256.New, acme.index)
	direct.Write(msg)
	bi, err := acme.BlindIndex("email", "erika@example.com")
	if err != nil {
		t.Fatal(err)
	}
	if bytes.Equal(one, direct.Sum(nil)) || bytes.HasPrefix(one, bi) {
		t.Error("the redaction MAC is the index key's own HMAC or the blind index")
	}
}
