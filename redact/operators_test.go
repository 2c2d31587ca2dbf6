package redact

import (
	"crypto/aes"
	"crypto/cipher"
	"crypto/rand"
	"errors"
	"strings"
	"testing"
)

// gcmSealer is a Sealer on AES-256-GCM with the entity as associated
// data: the same construction the keyring's adapter uses, with a key of
// its own.
type gcmSealer struct{ aead cipher.AEAD }

func newGCMSealer(t *testing.T) gcmSealer {
	t.Helper()
	key := make([]byte, 32)
	rand.Read(key)
	b, err := aes.NewCipher(key)
	if err != nil {
		t.Fatal(err)
	}
	g, err := cipher.NewGCM(b)
	if err != nil {
		t.Fatal(err)
	}
	return gcmSealer{g}
}

func (s gcmSealer) Seal(e Entity, p []byte) ([]byte, error) {
	nonce := make([]byte, s.aead.NonceSize())
	rand.Read(nonce)
	return s.aead.Seal(nonce, nonce, p, []byte(e)), nil
}

func (s gcmSealer) Open(e Entity, env []byte) ([]byte, error) {
	n := s.aead.NonceSize()
	if len(env) < n {
		return nil, errors.New("short")
	}
	return s.aead.Open(nil, env[:n], env[n:], []byte(e))
}

const opText = "Ich heiße Erika Mustermann, erika@example.com, Karte 4111 1111 1111 1111."

func analyzed(t *testing.T) []Finding {
	a, err := New(Options{})
	if err != nil {
		t.Fatal(err)
	}
	fs := a.Analyze(opText)
	if len(fs) != 3 {
		t.Fatalf("findings %v", fs)
	}
	return fs
}

func TestTag_ReplacesWithEntityAndKeepsTheRest(t *testing.T) {
	got, err := Apply(opText, analyzed(t), Tag{})
	if err != nil {
		t.Fatal(err)
	}
	if want := "Ich heiße <PERSON>, <EMAIL>, Karte <CREDIT_CARD>."; got != want {
		t.Errorf("got %q, want %q", got, want)
	}
}

func TestMask_KeepsTheLastCharacters(t *testing.T) {
	fs := analyzed(t)
	got, _ := Apply(opText, fs[2:], Mask{Keep: 4})
	if !strings.HasSuffix(got, "Karte **** **** **** 1111.") {
		t.Errorf("got %q", got)
	}
	got, _ = Apply(opText, fs[:1], Mask{Char: '#'})
	if !strings.HasPrefix(got, "Ich heiße ##### ##########,") {
		t.Errorf("got %q", got)
	}
}

// TestHash_LinkableWithinATenantOnly: one key gives one tag per value
// and entity, another key another tag.
func TestHash_LinkableWithinATenantOnly(t *testing.T) {
	fs := analyzed(t)
	a := Hash{MAC: NewHMAC([]byte("tenant-a key 0123456789abcdef012"))}
	b := Hash{MAC: NewHMAC([]byte("tenant-b key 0123456789abcdef012"))}
	x1, _ := Apply(opText, fs, a)
	x2, _ := Apply(opText, fs, a)
	y, _ := Apply(opText, fs, b)
	if x1 != x2 {
		t.Errorf("same key, different results: %q %q", x1, x2)
	}
	if x1 == y {
		t.Errorf("two keys, same result %q", x1)
	}
	if strings.Contains(x1, "erika") || !strings.Contains(x1, "<EMAIL:") {
		t.Errorf("got %q", x1)
	}
	if _, err := Apply(opText, fs, Hash{}); err == nil {
		t.Error("hash without key accepted")
	}
}

// TestSeal_OpensOnlyWithTheKey: sealed text hides the values, Unseal
// restores the original exactly, and another key or an altered tag fails.
func TestSeal_OpensOnlyWithTheKey(t *testing.T) {
	fs := analyzed(t)
	s := newGCMSealer(t)
	sealed, err := Apply(opText, fs, Seal{Sealer: s})
	if err != nil {
		t.Fatal(err)
	}
	for _, v := range []string{"Erika", "erika@", "4111"} {
		if strings.Contains(sealed, v) {
			t.Errorf("sealed text holds %q: %s", v, sealed)
		}
	}
	back, err := Unseal(sealed, s)
	if err != nil || back != opText {
		t.Fatalf("unseal: %q, %v", back, err)
	}
	if _, err := Unseal(sealed, newGCMSealer(t)); err == nil {
		t.Error("another key opened the text")
	}
	i := strings.Index(sealed, sealedMark) + len(sealedMark) + 5
	altered := sealed[:i] + string(sealed[i]^1) + sealed[i+1:]
	if _, err := Unseal(altered, s); err == nil {
		t.Error("altered tag opened")
	}
	// A sealed e-mail moved into a card tag does not open there.
	moved := strings.Replace(sealed, "<EMAIL:", "<CREDIT_CARD:", 1)
	if _, err := Unseal(moved, s); err == nil {
		t.Error("tag opened under another entity")
	}
}

func TestApply_RefusesOverlappingFindings(t *testing.T) {
	fs := []Finding{{Type: Email, Start: 0, End: 5}, {Type: Phone, Start: 3, End: 8}}
	if _, err := Apply("0123456789", fs, Tag{}); err == nil {
		t.Error("overlap accepted")
	}
	if _, err := Apply("0123", []Finding{{Type: Email, Start: 2, End: 9}}, Tag{}); err == nil {
		t.Error("finding past the end accepted")
	}
}
