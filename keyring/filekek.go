package keyring

import (
	"context"
	"crypto/aes"
	"crypto/cipher"
	"crypto/hmac"
	"crypto/rand"
	"crypto/sha256"
	"encoding/hex"
	"fmt"

	"github.com/lethe-privacy/lethe"
)

// KEKSize is the length of a master key: 32 bytes, an AES-256 key.
const KEKSize = 32

// wrapFormatV1 is the first byte of a key wrapped by a FileKEK; see
// docs/format.md ("Wrapped tenant key").
const wrapFormatV1 = 1

// wrapAD is the GCM associated data of a wrapped tenant key. It separates
// wrapped keys from every other use of the master key: the master key seals
// nothing else, and if it ever does, that use gets its own label.
const wrapAD = "lethe dek v1"

// kekIDLabel is the HMAC message whose MAC under the master key names it.
// A MAC, not a hash of the key, so the id tells nothing about the key.
const kekIDLabel = "lethe kek id v1"

// FileKEK is a master key kept in a file on the server's disk: the default
// when no KMS is configured. It implements Wrapper.
type FileKEK struct {
	aead cipher.AEAD
	id   string
}

var _ Wrapper = (*FileKEK)(nil)

// NewFileKEK builds a master key from 32 raw bytes (tests, and the key file
// loaders below). The bytes are copied into the AES key schedule; the
// caller's slice is not kept.
func NewFileKEK(key []byte) (*FileKEK, error) {
	if len(key) != KEKSize {
		return nil, fmt.Errorf("master key: %d bytes, want %d: %w", len(key), KEKSize, lethe.ErrInvalid)
	}
	block, err := aes.NewCipher(key)
	if err != nil {
		return nil, fmt.Errorf("master key: %w", err)
	}
	// Standard 96-bit nonces, chosen at random for every wrap: a master key
	// wraps a handful of keys per tenant and rotation, far below the 2^32
	// random-nonce limit of NIST SP 800-38D.
	aead, err := cipher.NewGCM(block)
	if err != nil {
		return nil, fmt.Errorf("master key: %w", err)
	}
	mac := hmac.New(sha256.New, key)
	mac.Write([]byte(kekIDLabel))
	id := "file:" + hex.EncodeToString(mac.Sum(nil)[:8])
	return &FileKEK{aead: aead, id: id}, nil
}

// ID returns "file:" and 16 hex characters of HMAC-SHA256(key, "lethe kek
// id v1"): stable for the key, and useless to someone who wants the key.
func (k *FileKEK) ID() string { return k.id }

// String names the key by its id only, so that logging a FileKEK by mistake
// never prints key material.
func (k *FileKEK) String() string { return "FileKEK(" + k.id + ")" }

// GoString keeps %#v from printing the key schedule.
func (k *FileKEK) GoString() string { return k.String() }

// Wrap seals a tenant key under the master key:
// version byte 1 || 12-byte random nonce || AES-256-GCM(dek) || tag.
func (k *FileKEK) Wrap(_ context.Context, dek []byte) ([]byte, string, error) {
	out := make([]byte, 1+nonceSize, 1+nonceSize+len(dek)+tagSize)
	out[0] = wrapFormatV1
	// crypto/rand never fails on supported platforms (Go 1.24+); a random
	// nonce needs no state, so it survives restores and several instances.
	rand.Read(out[1 : 1+nonceSize])
	out = k.aead.Seal(out, out[1:1+nonceSize], dek, []byte(wrapAD))
	return out, k.id, nil
}

// Unwrap opens a key wrapped by Wrap. A key wrapped by another master key
// (by its id) or one that fails to open is reported as ErrWrongMasterKey;
// the second case also matches lethe.ErrCrypto, since damage looks the same.
func (k *FileKEK) Unwrap(_ context.Context, wrapped []byte, kekID string) ([]byte, error) {
	if kekID != k.id {
		return nil, fmt.Errorf("%w: key was wrapped by %q, the configured master key is %q", ErrWrongMasterKey, kekID, k.id)
	}
	if len(wrapped) < 1+nonceSize+tagSize {
		return nil, fmt.Errorf("unwrap: %d bytes is too short: %w", len(wrapped), lethe.ErrCrypto)
	}
	if wrapped[0] != wrapFormatV1 {
		return nil, fmt.Errorf("unwrap: unknown wrapped-key format %d: %w", wrapped[0], lethe.ErrCrypto)
	}
	dek, err := k.aead.Open(nil, wrapped[1:1+nonceSize], wrapped[1+nonceSize:], []byte(wrapAD))
	if err != nil {
		return nil, fmt.Errorf("unwrap: %w (or the wrapped key is damaged): %w", ErrWrongMasterKey, lethe.ErrCrypto)
	}
	return dek, nil
}
