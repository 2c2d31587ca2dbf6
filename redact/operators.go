package redact

import (
	"crypto/hmac"
	"crypto/sha256"
	"encoding/base64"
	"encoding/hex"
	"errors"
	"fmt"
	"strings"
	"unicode/utf8"
)

// Operator turns one finding's value into what replaces it in the text.
type Operator interface {
	Replace(f Finding, value string) (string, error)
}

// Apply returns text with every finding replaced by op. Findings must be
// Analyze's: ordered and not overlapping.
func Apply(text string, findings []Finding, op Operator) (string, error) {
	var b strings.Builder
	b.Grow(len(text))
	prev := 0
	for _, f := range findings {
		if f.Start < prev || f.End > len(text) || f.Start > f.End {
			return "", fmt.Errorf("redact: finding %d..%d out of order or outside the text", f.Start, f.End)
		}
		r, err := op.Replace(f, text[f.Start:f.End])
		if err != nil {
			return "", err
		}
		b.WriteString(text[prev:f.Start])
		b.WriteString(r)
		prev = f.End
	}
	b.WriteString(text[prev:])
	return b.String(), nil
}

// Tag replaces a value by its entity in angle brackets: <EMAIL>.
type Tag struct{}

// Replace implements Operator.
func (Tag) Replace(f Finding, _ string) (string, error) { return "<" + string(f.Type) + ">", nil }

// Mask replaces every character but spaces by Char ('*' when zero),
// keeping the last Keep characters (a card's last four digits).
type Mask struct {
	Char rune
	Keep int
}

// Replace implements Operator.
func (m Mask) Replace(_ Finding, value string) (string, error) {
	c := m.Char
	if c == 0 {
		c = '*'
	}
	n := utf8.RuneCountInString(value)
	var b strings.Builder
	i := 0
	for _, r := range value {
		if i >= n-m.Keep || r == ' ' {
			b.WriteRune(r)
		} else {
			b.WriteRune(c)
		}
		i++
	}
	return b.String(), nil
}

// Hash replaces a value by a keyed hash: <EMAIL:3f9a0c1d2e4b5a69>. The same
// value of the same entity gives the same tag within one tenant, so that a
// review can still see "the same customer wrote twice"; without the key a
// hash cannot be confirmed by hashing guesses (a phone number has few
// enough possible values that an unkeyed hash would be no protection).
type Hash struct {
	// MAC returns HMAC-SHA256 of msg under the tenant's redaction key
	// (keyring.TenantKeys.RedactionMAC); nil makes Replace fail.
	MAC func(msg []byte) []byte
}

// Replace implements Operator.
func (h Hash) Replace(f Finding, value string) (string, error) {
	if h.MAC == nil {
		return "", errors.New("redact: hash operator without a key")
	}
	sum := h.MAC(hashInput(f.Type, value))
	return "<" + string(f.Type) + ":" + hex.EncodeToString(sum[:8]) + ">", nil
}

// hashInput is entity || 0x00 || value, so that two entities with the same
// text hash apart.
func hashInput(t Entity, value string) []byte {
	b := make([]byte, 0, len(t)+1+len(value))
	b = append(b, t...)
	b = append(b, 0)
	return append(b, value...)
}

// NewHMAC returns a MAC function for Hash under a raw key (tests and
// library users who hold their own key).
func NewHMAC(key []byte) func([]byte) []byte {
	k := append([]byte(nil), key...)
	return func(msg []byte) []byte {
		m := hmac.New(sha256.New, k)
		m.Write(msg)
		return m.Sum(nil)
	}
}

// Sealer encrypts and decrypts a value with the tenant's key, bound to the
// entity (keyring.TenantKeys through a small adapter: AES-256-GCM with a
// random nonce, authenticated, unlike an AES-CBC "encrypt" operator).
type Sealer interface {
	Seal(entity Entity, plaintext []byte) ([]byte, error)
	Open(entity Entity, envelope []byte) ([]byte, error)
}

// Seal replaces a value by its sealed envelope: <EMAIL:sealed:...>, base64url
// without padding. Only the tenant's key opens it again (Unseal).
type Seal struct{ Sealer Sealer }

const sealedMark = ":sealed:"

// Replace implements Operator.
func (s Seal) Replace(f Finding, value string) (string, error) {
	if s.Sealer == nil {
		return "", errors.New("redact: seal operator without a key")
	}
	env, err := s.Sealer.Seal(f.Type, []byte(value))
	if err != nil {
		return "", fmt.Errorf("redact: seal %s: %w", f.Type, err)
	}
	return "<" + string(f.Type) + sealedMark + base64.RawURLEncoding.EncodeToString(env) + ">", nil
}

// Unseal returns text with every <TYPE:sealed:...> tag opened again. A tag
// that does not open (another tenant's, altered) is an error: a partial
// restore would look like success.
func Unseal(text string, s Sealer) (string, error) {
	var b strings.Builder
	for {
		i := strings.Index(text, sealedMark)
		if i < 0 {
			b.WriteString(text)
			return b.String(), nil
		}
		open := strings.LastIndexByte(text[:i], '<')
		end := strings.IndexByte(text[i:], '>')
		if open < 0 || end < 0 {
			b.WriteString(text)
			return b.String(), nil
		}
		end += i
		entity := Entity(text[open+1 : i])
		env, err := base64.RawURLEncoding.DecodeString(text[i+len(sealedMark) : end])
		if err != nil {
			return "", fmt.Errorf("redact: unseal %s: %w", entity, err)
		}
		plain, err := s.Open(entity, env)
		if err != nil {
			return "", fmt.Errorf("redact: unseal %s: %w", entity, err)
		}
		b.WriteString(text[:open])
		b.Write(plain)
		text = text[end+1:]
	}
}
