package engine_test

import (
	"bytes"
	"crypto/ed25519"
	"encoding/base64"
	"encoding/json"
	"errors"
	"strings"
	"sync"
	"testing"

	"github.com/lethe-privacy/lethe"
	"github.com/lethe-privacy/lethe/engine"
	"github.com/lethe-privacy/lethe/keyring"
)

// publicReceipt runs an erase request and returns its receipt with the
// tenant's published keys, parsed as a verifier without the data would
// read them (through JSON).
func publicReceipt(t *testing.T, e *reqEnv) ([]byte, keyring.JWKS) {
	t.Helper()
	reqSeedThreePacks(e)
	job := e.run("t1", engine.RequestInput{Type: lethe.RequestErase, Subject: map[string]string{"email": "max@example.com"}})
	set, err := e.eng.ReceiptKeys(e.ctx, "t1")
	if err != nil {
		t.Fatal(err)
	}
	b, err := json.Marshal(set)
	if err != nil {
		t.Fatal(err)
	}
	parsed, err := keyring.ParseJWKS(b)
	if err != nil {
		t.Fatal(err)
	}
	return job.Receipt, parsed
}

func TestVerifyReceiptPublic_VerifiesWithOnlyThePublicKey(t *testing.T) {
	e := reqFresh(t)
	receipt, set := publicReceipt(t, e)
	if len(set.Keys) != 1 {
		t.Fatalf("published %d keys, want 1", len(set.Keys))
	}
	// Close the data: what follows needs the receipt and the key set only.
	reqClose(e)
	rc, err := engine.VerifyReceiptPublic(receipt, set, "t1")
	if err != nil {
		t.Fatalf("verify: %v", err)
	}
	if rc.Tenant != "t1" || rc.Type != lethe.RequestErase || rc.Counts["orders"]["delete"] == 0 {
		t.Errorf("receipt = %+v", rc)
	}
	var sr engine.SignedReceipt
	if err := json.Unmarshal(receipt, &sr); err != nil {
		t.Fatal(err)
	}
	if sr.Algorithm != engine.ReceiptAlgorithm || sr.KeyID != set.Keys[0].Kid {
		t.Errorf("alg %q kid %q, want %s and the published kid %s", sr.Algorithm, sr.KeyID, engine.ReceiptAlgorithm, set.Keys[0].Kid)
	}
	if _, err := engine.VerifyReceiptPublic(receipt, set, "t2"); !errors.Is(err, engine.ErrReceiptInvalid) {
		t.Errorf("a key set taken for another tenant: got %v, want ErrReceiptInvalid", err)
	}
	if _, err := engine.VerifyReceiptPublic(receipt, keyring.JWKS{}, "t1"); !errors.Is(err, engine.ErrReceiptInvalid) {
		t.Errorf("an empty key set: got %v, want ErrReceiptInvalid", err)
	}
}

// Every byte of the receipt file, changed in several ways, makes it fail:
// with the public key alone and with the data folder. The one change
// allowed is whitespace for whitespace, which no flip below produces.
func TestVerifyReceipt_AnyChangedByteFails(t *testing.T) {
	e := reqFresh(t)
	receipt, set := publicReceipt(t, e)
	if _, err := e.eng.VerifyReceipt(e.ctx, receipt); err != nil {
		t.Fatalf("untouched receipt: %v", err)
	}
	for i := range receipt {
		for _, mask := range []byte{0x01, 0x02, 0x20, 0x80, 0xff} {
			b := bytes.Clone(receipt)
			b[i] ^= mask
			if _, err := engine.VerifyReceiptPublic(b, set, "t1"); !errors.Is(err, engine.ErrReceiptInvalid) {
				t.Fatalf("byte %d (%q) ^ %#x: public verify gave %v, want ErrReceiptInvalid", i, receipt[i], mask, err)
			}
			if _, err := e.eng.VerifyReceipt(e.ctx, b); err == nil {
				t.Fatalf("byte %d (%q) ^ %#x: verified with the data folder", i, receipt[i], mask)
			}
		}
	}
	// The signature and the kid take every other byte value at every
	// position: a lenient base64 decoder would take some changed last
	// characters for the same signature, which single flips may miss.
	var sr engine.SignedReceipt
	if err := json.Unmarshal(receipt, &sr); err != nil {
		t.Fatal(err)
	}
	for _, member := range []string{sr.Signature, sr.KeyID} {
		at := bytes.Index(receipt, []byte(member))
		if at < 0 || len(member) < 40 {
			t.Fatalf("member %q not found", member)
		}
		for i := at; i < at+len(member); i++ {
			for v := range 256 {
				if byte(v) == receipt[i] {
					continue
				}
				b := bytes.Clone(receipt)
				b[i] = byte(v)
				if _, err := engine.VerifyReceiptPublic(b, set, "t1"); !errors.Is(err, engine.ErrReceiptInvalid) {
					t.Fatalf("byte %d (%q) set to %#x: public verify gave %v, want ErrReceiptInvalid", i, receipt[i], v, err)
				}
			}
		}
	}
	for _, n := range []int{0, 1, len(receipt) / 2, len(receipt) - 2} {
		if _, err := engine.VerifyReceiptPublic(receipt[:n], set, "t1"); !errors.Is(err, engine.ErrReceiptInvalid) {
			t.Fatalf("truncated to %d bytes: got %v", n, err)
		}
	}
}

// A receipt made before Ed25519 signing (HMAC-SHA256 under the receipt
// key, no kid) verifies with the data folder as before, and altered it
// fails; the public check refuses it with a reason instead of a mismatch.
func TestVerifyReceipt_OldHMACReceiptStillVerifies(t *testing.T) {
	e := reqFresh(t)
	receipt, set := publicReceipt(t, e)
	var sr engine.SignedReceipt
	if err := json.Unmarshal(receipt, &sr); err != nil {
		t.Fatal(err)
	}
	kek, err := keyring.NewFileKEK(e.master)
	if err != nil {
		t.Fatal(err)
	}
	tk, err := keyring.New(e.store, kek).Tenant(e.ctx, "t1")
	if err != nil {
		t.Fatal(err)
	}
	var body bytes.Buffer
	if err := json.Compact(&body, sr.Receipt); err != nil {
		t.Fatal(err)
	}
	old, err := json.MarshalIndent(map[string]any{"receipt": json.RawMessage(body.Bytes()), "alg": "HMAC-SHA256",
		"signature": base64.StdEncoding.EncodeToString(tk.Sign(body.Bytes()))}, "", "  ")
	if err != nil {
		t.Fatal(err)
	}
	rc, err := e.eng.VerifyReceipt(e.ctx, old)
	if err != nil {
		t.Fatalf("old receipt: %v", err)
	}
	if rc.Tenant != "t1" {
		t.Errorf("tenant %q", rc.Tenant)
	}
	altered := bytes.Replace(old, []byte(`"type": "erase"`), []byte(`"type": "export"`), 1)
	if bytes.Equal(altered, old) {
		t.Fatal("the test did not alter the receipt")
	}
	if _, err := e.eng.VerifyReceipt(e.ctx, altered); !errors.Is(err, engine.ErrReceiptInvalid) {
		t.Fatalf("altered old receipt: got %v, want ErrReceiptInvalid", err)
	}
	_, err = engine.VerifyReceiptPublic(old, set, "t1")
	if !errors.Is(err, engine.ErrReceiptInvalid) || !strings.Contains(err.Error(), "data folder") {
		t.Fatalf("public check of an HMAC receipt: %v", err)
	}
}

// Two instances on one real database (two stores, two keyrings) that sign
// a tenant's first receipts at once end with one signing key in the
// database, the one every signature verifies with.
func TestSignReceipt_TwoInstancesOnOneDatabaseShareOneKey(t *testing.T) {
	e := reqFresh(t)
	if _, err := e.eng.CreateTenant(e.ctx, "admin", "t1", []string{"chatbot"}); err != nil {
		t.Fatal(err)
	}
	kek, err := keyring.NewFileKEK(e.master)
	if err != nil {
		t.Fatal(err)
	}
	second, err := openStoreAt(e.ctx, e.path, e.clock)
	if err != nil {
		t.Fatal(err)
	}
	defer second.Close()
	rings := []*keyring.Keyring{keyring.New(e.store, kek), keyring.New(second, kek)}
	const n = 8
	kids := make([]string, n)
	sigs := make([][]byte, n)
	errs := make([]error, n)
	var wg sync.WaitGroup
	for i := range n {
		wg.Go(func() {
			tk, err := rings[i%2].Tenant(e.ctx, "t1")
			if err == nil {
				kids[i], sigs[i], err = tk.SignReceipt(e.ctx, []byte("m"))
			}
			errs[i] = err
		})
	}
	wg.Wait()
	stored, err := e.store.Keys(e.ctx, "t1")
	if err != nil {
		t.Fatal(err)
	}
	signing := 0
	for _, w := range stored {
		if w.Purpose == lethe.KeySigning {
			signing++
		}
	}
	if signing != 1 {
		t.Fatalf("database holds %d signing keys, want 1", signing)
	}
	set, err := e.eng.ReceiptKeys(e.ctx, "t1")
	if err != nil || len(set.Keys) != 1 {
		t.Fatalf("published %+v, %v; want one key", set, err)
	}
	pub, err := set.Key(set.Keys[0].Kid)
	if err != nil {
		t.Fatal(err)
	}
	for i := range n {
		if errs[i] != nil {
			t.Fatalf("signer %d: %v", i, errs[i])
		}
		if kids[i] != set.Keys[0].Kid || !ed25519.Verify(pub, []byte("m"), sigs[i]) {
			t.Fatalf("signer %d used kid %s, not the published %s", i, kids[i], set.Keys[0].Kid)
		}
	}
}
