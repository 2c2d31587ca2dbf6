package keyring

import (
	"bytes"
	"context"
	"crypto/ed25519"
	"errors"
	"fmt"
	"testing"

	"github.com/lethe-privacy/lethe"
)

var adA = AD{Tenant: "acme", Collection: "orders", Record: "r-1", Field: "email"}

func TestSeal_RoundTripsEveryPlaintext(t *testing.T) {
	kr, _ := newTestKeyring(t, "acme")
	tk := tenantKeys(t, kr, "acme")
	tests := []struct {
		name      string
		plaintext []byte
	}{
		{"empty", []byte{}},
		{"ascii", []byte("max.mustermann@example.de")},
		{"umlauts", []byte("Jürgen Müller, Straße 1")},
		{"binary", []byte{0, 1, 2, 255, 254}},
		{"large", bytes.Repeat([]byte("x"), 1<<16)},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			env, err := tk.Seal(tt.plaintext, adA)
			if err != nil {
				t.Fatal(err)
			}
			if len(env) != len(tt.plaintext)+Overhead {
				t.Errorf("envelope is %d bytes, want %d", len(env), len(tt.plaintext)+Overhead)
			}
			if len(tt.plaintext) > 4 && bytes.Contains(env, tt.plaintext) {
				t.Error("envelope contains the plaintext")
			}
			got, err := tk.Open(env, adA)
			if err != nil {
				t.Fatal(err)
			}
			if !bytes.Equal(got, tt.plaintext) {
				t.Errorf("Open = %q, want %q", got, tt.plaintext)
			}
		})
	}
}

func TestSeal_SamePlaintextGivesDifferentEnvelopes(t *testing.T) {
	kr, _ := newTestKeyring(t, "acme")
	tk := tenantKeys(t, kr, "acme")
	a, _ := tk.Seal([]byte("same"), adA)
	b, _ := tk.Seal([]byte("same"), adA)
	if bytes.Equal(a, b) {
		t.Fatal("two seals of one value are equal: nonce reused")
	}
}

func TestOpen_FailsWhenAnyADComponentChanges(t *testing.T) {
	kr, _ := newTestKeyring(t, "acme")
	tk := tenantKeys(t, kr, "acme")
	env, err := tk.Seal([]byte("secret"), adA)
	if err != nil {
		t.Fatal(err)
	}
	tests := []struct {
		name string
		ad   AD
	}{
		{"collection", AD{"acme", "invoices", "r-1", "email"}},
		{"record", AD{"acme", "orders", "r-2", "email"}},
		{"field", AD{"acme", "orders", "r-1", "phone"}},
		{"field empty", AD{"acme", "orders", "r-1", ""}},
		// Shifting bytes between neighbours must not give the same AD.
		{"boundary collection/record", AD{"acme", "ordersr", "-1", "email"}},
		{"boundary record/field", AD{"acme", "orders", "r-1e", "mail"}},
		{"case", AD{"acme", "Orders", "r-1", "email"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if _, err := tk.Open(env, tt.ad); !errors.Is(err, lethe.ErrCrypto) {
				t.Fatalf("Open with changed %s: err = %v, want ErrCrypto", tt.name, err)
			}
		})
	}
}

func TestOpen_FailsForAnotherTenantsEnvelope(t *testing.T) {
	kr, _ := newTestKeyring(t, "acme", "globex")
	acme := tenantKeys(t, kr, "acme")
	globex := tenantKeys(t, kr, "globex")
	adB := AD{Tenant: "globex", Collection: "orders", Record: "r-1", Field: "email"}
	envB, err := globex.Seal([]byte("globex secret"), adB)
	if err != nil {
		t.Fatal(err)
	}
	// Both tenants are at data key version 1: the version alone does not
	// separate them, the keys and the AD do.
	tests := []struct {
		name string
		ad   AD
	}{
		{"in tenant A's row", adA},
		{"claiming tenant B's AD", adB},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if _, err := acme.Open(envB, tt.ad); !errors.Is(err, lethe.ErrCrypto) {
				t.Fatalf("err = %v, want ErrCrypto", err)
			}
		})
	}
	// The tenant's own keys cannot seal for another tenant either.
	if _, err := acme.Seal([]byte("x"), adB); !errors.Is(err, lethe.ErrInvalid) {
		t.Fatalf("Seal for another tenant: err = %v, want ErrInvalid", err)
	}
}

func TestOpen_FailsOnEveryBitFlip(t *testing.T) {
	kr, _ := newTestKeyring(t, "acme")
	tk := tenantKeys(t, kr, "acme")
	// Versions 1..3 exist, so flips in the key-version field also land on
	// real keys, not only on unknown versions.
	for range 2 {
		if _, err := kr.Rotate(context.Background(), "acme"); err != nil {
			t.Fatal(err)
		}
	}
	env, err := tk.Seal([]byte("hi!"), adA)
	if err != nil {
		t.Fatal(err)
	}
	for bit := range len(env) * 8 {
		flipped := bytes.Clone(env)
		flipped[bit/8] ^= 1 << (bit % 8)
		if pt, err := tk.Open(flipped, adA); !errors.Is(err, lethe.ErrCrypto) {
			t.Fatalf("bit %d flipped: Open = %q, %v; want ErrCrypto", bit, pt, err)
		}
	}
}

func TestOpen_FailsOnTruncationAndExtension(t *testing.T) {
	kr, _ := newTestKeyring(t, "acme")
	tk := tenantKeys(t, kr, "acme")
	env, err := tk.Seal([]byte("truncate me"), adA)
	if err != nil {
		t.Fatal(err)
	}
	for n := range len(env) {
		if _, err := tk.Open(env[:n], adA); !errors.Is(err, lethe.ErrCrypto) {
			t.Fatalf("first %d bytes: err = %v, want ErrCrypto", n, err)
		}
		if _, err := tk.Open(env[n+1:], adA); !errors.Is(err, lethe.ErrCrypto) {
			t.Fatalf("without first %d bytes: err = %v, want ErrCrypto", n+1, err)
		}
	}
	if _, err := tk.Open(append(bytes.Clone(env), 0), adA); !errors.Is(err, lethe.ErrCrypto) {
		t.Fatalf("extended: err = %v, want ErrCrypto", err)
	}
}

// The header is part of the GCM associated data: an envelope whose key
// version is rewritten fails even under the very key that sealed it.
func TestOpen_FailsWhenHeaderIsRewrittenUnderTheSameKey(t *testing.T) {
	dk, err := newDataKey(bytes.Repeat([]byte{7}, TenantKeySize))
	if err != nil {
		t.Fatal(err)
	}
	env, err := sealEnvelope(dk.aead, 1, make([]byte, nonceSize), []byte("payload"), adA)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := openEnvelope(dk.aead, env, adA); err != nil {
		t.Fatalf("untouched envelope: %v", err)
	}
	for _, version := range []uint32{0, 2, 1 << 24} {
		moved := bytes.Clone(env)
		moved[1], moved[2], moved[3], moved[4] = byte(version>>24), byte(version>>16), byte(version>>8), byte(version)
		if _, err := openEnvelope(dk.aead, moved, adA); !errors.Is(err, lethe.ErrCrypto) {
			t.Errorf("header version %d: err = %v, want ErrCrypto", version, err)
		}
	}
}

func TestOpen_ReportsUnknownKeyVersion(t *testing.T) {
	kr, _ := newTestKeyring(t, "acme")
	tk := tenantKeys(t, kr, "acme")
	env, _ := tk.Seal([]byte("x"), adA)
	env[4] = 9 // version 9 does not exist
	_, err := tk.Open(env, adA)
	if !errors.Is(err, ErrUnknownKeyVersion) || !errors.Is(err, lethe.ErrCrypto) {
		t.Fatalf("err = %v, want ErrUnknownKeyVersion and ErrCrypto", err)
	}
	if v, err := KeyVersion(env); err != nil || v != 9 {
		t.Fatalf("KeyVersion = %d, %v; want 9", v, err)
	}
}

func TestTenant_WrongMasterKeyIsReportedAsSuch(t *testing.T) {
	_, store := newTestKeyring(t, "acme")
	other := testKEK(t, 99)

	t.Run("different key id", func(t *testing.T) {
		_, err := New(store, other).Tenant(context.Background(), "acme")
		if !errors.Is(err, ErrWrongMasterKey) {
			t.Fatalf("err = %v, want ErrWrongMasterKey", err)
		}
	})
	t.Run("key id forged to match", func(t *testing.T) {
		forged := newMemStore()
		for _, w := range store.all() {
			w.KEKID = other.ID()
			if err := forged.PutKey(context.Background(), w); err != nil {
				t.Fatal(err)
			}
		}
		_, err := New(forged, other).Tenant(context.Background(), "acme")
		if !errors.Is(err, ErrWrongMasterKey) {
			t.Fatalf("err = %v, want ErrWrongMasterKey", err)
		}
	})
	t.Run("right key still opens", func(t *testing.T) {
		if _, err := New(store, testKEK(t, 1)).Tenant(context.Background(), "acme"); err != nil {
			t.Fatal(err)
		}
	})
}

func TestTenant_UnknownTenantIsNotFound(t *testing.T) {
	kr, _ := newTestKeyring(t, "acme")
	if _, err := kr.Tenant(context.Background(), "nobody"); !errors.Is(err, lethe.ErrNotFound) {
		t.Fatalf("err = %v, want ErrNotFound", err)
	}
}

// The store must never hold a tenant key in the clear, nor any 8-byte run
// of one. The keys checked are proven to be the ones in use: they compute
// the same blind index and open the same envelope as the keyring does.
func TestStore_NeverHoldsRawTenantKeys(t *testing.T) {
	ctx := context.Background()
	kr, store := newTestKeyring(t, "acme", "globex")
	if _, err := kr.Rotate(ctx, "acme"); err != nil {
		t.Fatal(err)
	}
	tk := tenantKeys(t, kr, "acme")
	env, err := tk.Seal([]byte("x"), adA)
	if err != nil {
		t.Fatal(err)
	}
	idx, err := tk.BlindIndex(KindEmail, "a@b.de")
	if err != nil {
		t.Fatal(err)
	}
	kid, sig, err := tk.SignReceipt(ctx, []byte("receipt"))
	if err != nil {
		t.Fatal(err)
	}
	kek := testKEK(t, 1)
	all := store.all()
	if len(all) != 8 {
		t.Fatalf("store holds %d keys, want 8 (3 per tenant, one rotation, one signing key)", len(all))
	}
	var usedData, usedIndex, usedSigning bool
	for _, w := range all {
		raw, err := kek.Unwrap(ctx, w.Wrapped, w.KEKID)
		if err != nil {
			t.Fatal(err)
		}
		for _, other := range all {
			for i := 0; i+8 <= len(raw); i++ {
				if bytes.Contains(other.Wrapped, raw[i:i+8]) {
					t.Fatalf("stored %s/%s/v%d contains bytes %d..%d of key %s/%s/v%d",
						other.Tenant, other.Purpose, other.Version, i, i+8, w.Tenant, w.Purpose, w.Version)
				}
			}
		}
		if w.Tenant != "acme" {
			continue
		}
		switch w.Purpose {
		case lethe.KeyData:
			dk, err := newDataKey(raw)
			if err != nil {
				t.Fatal(err)
			}
			if _, err := openEnvelope(dk.aead, env, adA); err == nil {
				usedData = true
			}
		case lethe.KeyIndex:
			other := &TenantKeys{index: raw}
			if got, _ := other.BlindIndex(KindEmail, "a@b.de"); bytes.Equal(got, idx) {
				usedIndex = true
			}
		case lethe.KeySigning:
			// The seed is checked above; the expanded private key and the
			// public key (whose bytes a careless store might keep beside
			// it) are checked here.
			priv := ed25519.NewKeyFromSeed(raw)
			for _, other := range all {
				for i := 0; i+8 <= len(priv); i++ {
					if bytes.Contains(other.Wrapped, priv[i:i+8]) {
						t.Fatalf("stored %s/%s/v%d contains bytes %d..%d of the signing key", other.Tenant, other.Purpose, other.Version, i, i+8)
					}
				}
			}
			pub := priv.Public().(ed25519.PublicKey)
			if PublicJWK(pub).Kid == kid && ed25519.Verify(pub, []byte("receipt"), sig) {
				usedSigning = true
			}
		}
		if w.KEKID != kek.ID() || !w.Created.Equal(fixedNow) {
			t.Errorf("key %s/v%d: kek id %q, created %v", w.Purpose, w.Version, w.KEKID, w.Created)
		}
	}
	if !usedData || !usedIndex || !usedSigning {
		t.Fatalf("the unwrapped keys are not the ones in use (data %v, index %v, signing %v)", usedData, usedIndex, usedSigning)
	}
}

func TestCreateTenant(t *testing.T) {
	ctx := context.Background()
	t.Run("twice is a conflict", func(t *testing.T) {
		kr, _ := newTestKeyring(t, "acme")
		if err := kr.CreateTenant(ctx, "acme"); !errors.Is(err, lethe.ErrConflict) {
			t.Fatalf("err = %v, want ErrConflict", err)
		}
	})
	t.Run("empty id is invalid", func(t *testing.T) {
		kr, _ := newTestKeyring(t)
		if err := kr.CreateTenant(ctx, ""); !errors.Is(err, lethe.ErrInvalid) {
			t.Fatalf("err = %v, want ErrInvalid", err)
		}
	})
	t.Run("an interrupted creation is completed", func(t *testing.T) {
		kr, store := newTestKeyring(t)
		w, _, err := kr.newKey(ctx, "acme", lethe.KeyData, 1)
		if err != nil {
			t.Fatal(err)
		}
		if err := store.PutKey(ctx, w); err != nil {
			t.Fatal(err)
		}
		if _, err := kr.Tenant(ctx, "acme"); !errors.Is(err, lethe.ErrNotFound) {
			t.Fatalf("incomplete tenant: err = %v, want ErrNotFound", err)
		}
		if err := kr.CreateTenant(ctx, "acme"); err != nil {
			t.Fatal(err)
		}
		keys, _ := store.Keys(ctx, "acme")
		if len(keys) != 3 || !bytes.Equal(keys[0].Wrapped, w.Wrapped) {
			t.Fatalf("after completion: %d keys, first kept = %v", len(keys), bytes.Equal(keys[0].Wrapped, w.Wrapped))
		}
		if _, err := kr.Tenant(ctx, "acme"); err != nil {
			t.Fatal(err)
		}
	})
}

func TestRotate_NewSealsUseNewVersionAndOldOnesStillOpen(t *testing.T) {
	ctx := context.Background()
	kr, store := newTestKeyring(t, "acme")
	tk := tenantKeys(t, kr, "acme")
	old, _ := tk.Seal([]byte("old"), adA)
	v, err := kr.Rotate(ctx, "acme")
	if err != nil || v != 2 {
		t.Fatalf("Rotate = %d, %v; want 2", v, err)
	}
	fresh, _ := tk.Seal([]byte("new"), adA)
	if got, _ := KeyVersion(fresh); got != 2 {
		t.Fatalf("seal after rotation uses v%d, want v2", got)
	}
	// A new process (empty cache) opens both.
	restarted := tenantKeys(t, New(store, testKEK(t, 1)), "acme")
	for _, env := range [][]byte{old, fresh} {
		if _, err := restarted.Open(env, adA); err != nil {
			t.Fatal(err)
		}
	}
	if restarted.CurrentVersion() != 2 {
		t.Fatalf("restarted current version %d, want 2", restarted.CurrentVersion())
	}
}

// Two instances share one store: each rotation takes a version of its own,
// and Refresh lets an instance open what the other sealed.
func TestRotate_TwoInstancesOnOneStore(t *testing.T) {
	ctx := context.Background()
	a, store := newTestKeyring(t, "acme")
	b := New(store, testKEK(t, 1))
	ta, tb := tenantKeys(t, a, "acme"), tenantKeys(t, b, "acme")

	if v, err := a.Rotate(ctx, "acme"); err != nil || v != 2 {
		t.Fatalf("a.Rotate = %d, %v; want 2", v, err)
	}
	envA, _ := ta.Seal([]byte("from a"), adA)
	if _, err := tb.Open(envA, adA); !errors.Is(err, ErrUnknownKeyVersion) {
		t.Fatalf("b before refresh: err = %v, want ErrUnknownKeyVersion", err)
	}
	// b does not know v2 yet; its rotation must skip to v3, not fail.
	if v, err := b.Rotate(ctx, "acme"); err != nil || v != 3 {
		t.Fatalf("b.Rotate = %d, %v; want 3", v, err)
	}
	if err := b.Refresh(ctx, "acme"); err != nil {
		t.Fatal(err)
	}
	if got, err := tb.Open(envA, adA); err != nil || string(got) != "from a" {
		t.Fatalf("b after refresh: %q, %v", got, err)
	}
	if tb.CurrentVersion() != 3 {
		t.Fatalf("b current = %d, want 3", tb.CurrentVersion())
	}
}

func TestSeal_SkipsRetiredKeys(t *testing.T) {
	ctx := context.Background()
	kr, store := newTestKeyring(t, "acme")
	if _, err := kr.Rotate(ctx, "acme"); err != nil {
		t.Fatal(err)
	}
	store.retire("acme", lethe.KeyData, 2)
	tk := tenantKeys(t, New(store, testKEK(t, 1)), "acme")
	env, _ := tk.Seal([]byte("x"), adA)
	if v, _ := KeyVersion(env); v != 1 {
		t.Fatalf("sealed with v%d, want v1 (v2 is retired)", v)
	}
	store.retire("acme", lethe.KeyData, 1)
	tk = tenantKeys(t, New(store, testKEK(t, 1)), "acme")
	env2, err := tk.Seal([]byte("y"), adA)
	if err != nil {
		t.Fatal(err)
	}
	if v, _ := KeyVersion(env2); v != 3 {
		t.Fatalf("every version retired: sealed with v%d, want a fresh v3", v)
	}
	if _, err := tk.Open(env, adA); err != nil {
		t.Fatalf("retired keys must still open: %v", err)
	}
}

func TestSignVerify(t *testing.T) {
	kr, _ := newTestKeyring(t, "acme", "globex")
	acme, globex := tenantKeys(t, kr, "acme"), tenantKeys(t, kr, "globex")
	msg := []byte(`{"request":"q-1","erased":3}`)
	mac := acme.Sign(msg)
	tests := []struct {
		name string
		tk   *TenantKeys
		msg  []byte
		mac  []byte
		want bool
	}{
		{"own signature", acme, msg, mac, true},
		{"altered message", acme, []byte(`{"request":"q-1","erased":4}`), mac, false},
		{"truncated mac", acme, msg, mac[:16], false},
		{"empty mac", acme, msg, nil, false},
		{"other tenant", globex, msg, mac, false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if got := tt.tk.Verify(tt.msg, tt.mac); got != tt.want {
				t.Fatalf("Verify = %v, want %v", got, tt.want)
			}
		})
	}
}

func TestKeys_PrintNoKeyMaterial(t *testing.T) {
	kr, _ := newTestKeyring(t, "acme")
	values := []fmt.Stringer{tenantKeys(t, kr, "acme"), testKEK(t, 1)}
	for _, v := range values {
		for _, verb := range []string{"%v", "%+v", "%#v", "%s"} {
			if got := fmt.Sprintf(verb, v); got != v.String() {
				t.Errorf("%s of %T prints %q, want only %q", verb, v, got, v.String())
			}
		}
	}
}
