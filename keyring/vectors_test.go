package keyring

import (
	"context"
	"crypto/aes"
	"crypto/cipher"
	"crypto/hmac"
	"crypto/sha256"
	"encoding/binary"
	"encoding/hex"
	"encoding/json"
	"flag"
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/lethe-privacy/lethe"
)

// The vectors in testdata/vectors-v1.json were written by this package
// once and must open forever: they guard the byte layouts of
// docs/format.md against accidental change. Regenerate them only for a new
// format version, never to make a failing test pass:
//
//	go test ./keyring -run TestVectors -update-vectors
var updateVectors = flag.Bool("update-vectors", false, "rewrite testdata/vectors-v1.json")

const vectorsFile = "vectors-v1.json"

type vectors struct {
	KEK        string            `json:"kek"`
	KEKID      string            `json:"kek_id"`
	Keys       []vectorKey       `json:"keys"`
	Envelopes  []vectorEnvelope  `json:"envelopes"`
	BlindIndex []vectorBlindHash `json:"blind_index"`
	Receipts   []vectorReceipt   `json:"receipts"`
}

type vectorKey struct {
	Tenant  string `json:"tenant"`
	Purpose string `json:"purpose"`
	Version uint32 `json:"version"`
	KEKID   string `json:"kek_id"`
	Wrapped string `json:"wrapped"`
}

type vectorEnvelope struct {
	AD        AD     `json:"ad"`
	Plaintext string `json:"plaintext"`
	Envelope  string `json:"envelope"`
}

type vectorBlindHash struct {
	Tenant string `json:"tenant"`
	Kind   string `json:"kind"`
	Value  string `json:"value"`
	Hash   string `json:"hash"`
}

type vectorReceipt struct {
	Tenant  string `json:"tenant"`
	Message string `json:"message"`
	MAC     string `json:"mac"`
}

func vectorKEK(t *testing.T) *FileKEK { return testKEK(t, 0x40) }

func TestVectors_OpenForever(t *testing.T) {
	path := filepath.Join("testdata", vectorsFile)
	if *updateVectors {
		writeVectors(t, path)
	}
	data, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	var v vectors
	if err := json.Unmarshal(data, &v); err != nil {
		t.Fatal(err)
	}
	kekBytes := mustHex(t, v.KEK)
	kek, err := NewFileKEK(kekBytes)
	if err != nil {
		t.Fatal(err)
	}
	if kek.ID() != v.KEKID {
		t.Fatalf("master key id %s, vectors say %s", kek.ID(), v.KEKID)
	}
	store := newMemStore()
	for _, k := range v.Keys {
		err := store.PutKey(context.Background(), &lethe.WrappedKey{
			Tenant: k.Tenant, Purpose: lethe.KeyPurpose(k.Purpose), Version: k.Version,
			KEKID: k.KEKID, Wrapped: mustHex(t, k.Wrapped),
		})
		if err != nil {
			t.Fatal(err)
		}
	}
	kr := New(store, kek)
	for _, e := range v.Envelopes {
		tk := tenantKeys(t, kr, e.AD.Tenant)
		env := mustHex(t, e.Envelope)
		got, err := tk.Open(env, e.AD)
		if err != nil || string(got) != e.Plaintext {
			t.Errorf("envelope for %+v: %q, %v; want %q", e.AD, got, err, e.Plaintext)
		}
		// A reader that follows docs/format.md alone gets the same.
		if got := openByTheSpec(t, kekBytes, v.Keys, env, e.AD); string(got) != e.Plaintext {
			t.Errorf("spec reader for %+v: %q, want %q", e.AD, got, e.Plaintext)
		}
	}
	for _, b := range v.BlindIndex {
		got, err := tenantKeys(t, kr, b.Tenant).BlindIndex(b.Kind, b.Value)
		if err != nil || hex.EncodeToString(got) != b.Hash {
			t.Errorf("blind index %s %s %q = %x, %v; want %s", b.Tenant, b.Kind, b.Value, got, err, b.Hash)
		}
		// By the spec: HMAC-SHA256(index key, kind || 0x00 || normalized)[:16].
		norm, err := Normalize(b.Kind, b.Value)
		if err != nil {
			t.Fatal(err)
		}
		mac := hmac.New(sha256.New, unwrapBySpec(t, kekBytes, v.Keys, b.Tenant, "index", 1))
		mac.Write([]byte(b.Kind + "\x00" + norm))
		if spec := hex.EncodeToString(mac.Sum(nil)[:16]); spec != b.Hash {
			t.Errorf("spec blind index %s %s %q = %s, want %s", b.Tenant, b.Kind, b.Value, spec, b.Hash)
		}
	}
	for _, r := range v.Receipts {
		if !tenantKeys(t, kr, r.Tenant).Verify([]byte(r.Message), mustHex(t, r.MAC)) {
			t.Errorf("receipt of %s does not verify", r.Tenant)
		}
	}
}

// openByTheSpec opens an envelope using only docs/format.md and the
// standard library, as a reader in ten years would.
func openByTheSpec(t *testing.T, kek []byte, keys []vectorKey, env []byte, ad AD) []byte {
	t.Helper()
	if env[0] != 1 {
		t.Fatalf("format %d", env[0])
	}
	version := binary.BigEndian.Uint32(env[1:5])
	dek := unwrapBySpec(t, kek, keys, ad.Tenant, "data", version)
	assoc := append([]byte(nil), env[:5]...)
	for _, s := range []string{ad.Tenant, ad.Collection, ad.Record, ad.Field} {
		assoc = binary.BigEndian.AppendUint32(assoc, uint32(len(s)))
		assoc = append(assoc, s...)
	}
	pt, err := specGCM(t, dek).Open(nil, env[5:17], env[17:], assoc)
	if err != nil {
		t.Fatal(err)
	}
	return pt
}

// unwrapBySpec unwraps a tenant key as docs/format.md describes:
// 0x01 || nonce(12) || AES-256-GCM ciphertext||tag, associated data
// "lethe dek v1".
func unwrapBySpec(t *testing.T, kek []byte, keys []vectorKey, tenant, purpose string, version uint32) []byte {
	t.Helper()
	for _, k := range keys {
		if k.Tenant != tenant || k.Purpose != purpose || k.Version != version {
			continue
		}
		w := mustHex(t, k.Wrapped)
		if w[0] != 1 {
			t.Fatalf("wrapped-key format %d", w[0])
		}
		key, err := specGCM(t, kek).Open(nil, w[1:13], w[13:], []byte("lethe dek v1"))
		if err != nil {
			t.Fatal(err)
		}
		return key
	}
	t.Fatalf("no %s key v%d of %s in the vectors", purpose, version, tenant)
	return nil
}

func specGCM(t *testing.T, key []byte) cipher.AEAD {
	t.Helper()
	block, err := aes.NewCipher(key)
	if err != nil {
		t.Fatal(err)
	}
	g, err := cipher.NewGCM(block)
	if err != nil {
		t.Fatal(err)
	}
	return g
}

func mustHex(t *testing.T, s string) []byte {
	t.Helper()
	b, err := hex.DecodeString(s)
	if err != nil {
		t.Fatal(err)
	}
	return b
}

// writeVectors seals a fixed set of values for two tenants, one of them
// after a rotation, and writes them with the wrapped keys.
func writeVectors(t *testing.T, path string) {
	ctx := context.Background()
	store := newMemStore()
	kek := vectorKEK(t)
	kr := New(store, kek)
	kr.Now = func() time.Time { return fixedNow }
	for _, id := range []string{"acme", "globex"} {
		if err := kr.CreateTenant(ctx, id); err != nil {
			t.Fatal(err)
		}
	}
	v := vectors{KEKID: kek.ID()}
	var kekBytes [KEKSize]byte
	for i := range kekBytes {
		kekBytes[i] = 0x40 + byte(i)
	}
	v.KEK = hex.EncodeToString(kekBytes[:])
	seal := func(ad AD, pt string) {
		env, err := tenantKeys(t, kr, ad.Tenant).Seal([]byte(pt), ad)
		if err != nil {
			t.Fatal(err)
		}
		v.Envelopes = append(v.Envelopes, vectorEnvelope{AD: ad, Plaintext: pt, Envelope: hex.EncodeToString(env)})
	}
	seal(AD{"acme", "orders", "o-1", "email"}, "max.mustermann@example.de")
	seal(AD{"acme", "orders", "o-1", "strasse"}, "Hauptstraße 1")
	seal(AD{"acme", "orders", "o-2", "note"}, "")
	if _, err := kr.Rotate(ctx, "acme"); err != nil {
		t.Fatal(err)
	}
	seal(AD{"acme", "orders", "o-3", "email"}, "erika@example.de")
	seal(AD{"globex", "sessions", "s-1", "metadata"}, `{"ip":"192.0.2.1"}`)
	for _, b := range []vectorBlindHash{
		{Tenant: "acme", Kind: KindEmail, Value: "Max.Mustermann@Example.de"},
		{Tenant: "acme", Kind: KindPhone, Value: "0171 1234567"},
		{Tenant: "acme", Kind: "customer_id", Value: "K-1001"},
		{Tenant: "globex", Kind: KindEmail, Value: "max.mustermann@example.de"},
	} {
		h, err := tenantKeys(t, kr, b.Tenant).BlindIndex(b.Kind, b.Value)
		if err != nil {
			t.Fatal(err)
		}
		b.Hash = hex.EncodeToString(h)
		v.BlindIndex = append(v.BlindIndex, b)
	}
	msg := `{"request":"q-1","type":"erase","records":3}`
	v.Receipts = append(v.Receipts, vectorReceipt{"acme", msg, hex.EncodeToString(tenantKeys(t, kr, "acme").Sign([]byte(msg)))})
	for _, tenant := range []string{"acme", "globex"} {
		keys, _ := store.Keys(ctx, tenant)
		for _, k := range keys {
			v.Keys = append(v.Keys, vectorKey{k.Tenant, string(k.Purpose), k.Version, k.KEKID, hex.EncodeToString(k.Wrapped)})
		}
	}
	out, err := json.MarshalIndent(v, "", "  ")
	if err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(path, append(out, '\n'), 0o644); err != nil {
		t.Fatal(err)
	}
}
