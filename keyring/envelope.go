package keyring

import (
	"crypto/cipher"
	"encoding/binary"
	"errors"
	"fmt"
	"math"

	"github.com/lethe-privacy/lethe"
)

// Envelope layout, version 1 (docs/format.md, "Field envelope"):
//
//	offset 0   1 byte   format version (1)
//	offset 1   4 bytes  data key version, big-endian
//	offset 5  12 bytes  GCM nonce, random
//	offset 17  n bytes  AES-256-GCM ciphertext, then its 16-byte tag
const (
	envelopeV1  = 1
	headerSize  = 1 + 4
	nonceSize   = 12 // the standard GCM nonce; other sizes go through GHASH
	tagSize     = 16 // full-length tag; truncated tags weaken GCM sharply
	overheadV1  = headerSize + nonceSize + tagSize
	maxADString = math.MaxUint32
)

// maxPlaintext is the GCM limit on one message (NIST SP 800-38D: 2^39-256
// bits); the standard library panics beyond it, so Seal checks first.
const maxPlaintext = (1<<32 - 2) * 16

// Overhead is how many bytes an envelope adds to its plaintext.
const Overhead = overheadV1

// ErrUnknownKeyVersion means an envelope names a data key version this
// process does not hold. Another instance may have rotated since the keys
// were loaded: Keyring.Refresh loads the new version. Errors carrying it
// also match lethe.ErrCrypto.
var ErrUnknownKeyVersion = errors.New("unknown data key version")

// AD is where a sealed value lives. It is bound to the ciphertext as GCM
// associated data, so an envelope copied to another tenant, collection,
// record or field fails to open there.
type AD struct{ Tenant, Collection, Record, Field string }

// appendAD builds the GCM associated data: the envelope header (format and
// key version, so that a rewritten header fails too) followed by the four
// AD strings, each as a 4-byte big-endian length and its bytes. Length
// prefixes keep the encoding unambiguous: ("ab","c") and ("a","bc") differ.
func appendAD(dst []byte, header []byte, ad AD) ([]byte, error) {
	dst = append(dst, header...)
	for _, s := range [...]string{ad.Tenant, ad.Collection, ad.Record, ad.Field} {
		if uint64(len(s)) > maxADString {
			return nil, fmt.Errorf("associated data: string of %d bytes: %w", len(s), lethe.ErrInvalid)
		}
		dst = binary.BigEndian.AppendUint32(dst, uint32(len(s)))
		dst = append(dst, s...)
	}
	return dst, nil
}

func adSize(ad AD) int {
	return headerSize + 16 + len(ad.Tenant) + len(ad.Collection) + len(ad.Record) + len(ad.Field)
}

// sealEnvelope seals plaintext under aead (data key version) with the given
// nonce, which must be fresh and random; Seal draws it from crypto/rand.
func sealEnvelope(aead cipher.AEAD, version uint32, nonce, plaintext []byte, ad AD) ([]byte, error) {
	if uint64(len(plaintext)) > maxPlaintext {
		return nil, fmt.Errorf("seal: %d bytes exceed the GCM message limit: %w", len(plaintext), lethe.ErrInvalid)
	}
	out := make([]byte, headerSize+nonceSize, overheadV1+len(plaintext))
	out[0] = envelopeV1
	binary.BigEndian.PutUint32(out[1:headerSize], version)
	copy(out[headerSize:], nonce)
	adBytes, err := appendAD(make([]byte, 0, adSize(ad)), out[:headerSize], ad)
	if err != nil {
		return nil, err
	}
	return aead.Seal(out, out[headerSize:headerSize+nonceSize], plaintext, adBytes), nil
}

// parseHeader checks an envelope's length and format and returns its data
// key version. It only slices within bounds, so arbitrary input cannot
// make it panic.
func parseHeader(env []byte) (uint32, error) {
	if len(env) < overheadV1 {
		return 0, fmt.Errorf("open: envelope of %d bytes is shorter than %d: %w", len(env), overheadV1, lethe.ErrCrypto)
	}
	if env[0] != envelopeV1 {
		return 0, fmt.Errorf("open: unknown envelope format %d: %w", env[0], lethe.ErrCrypto)
	}
	return binary.BigEndian.Uint32(env[1:headerSize]), nil
}

// openEnvelope opens an envelope whose header parseHeader accepted.
func openEnvelope(aead cipher.AEAD, env []byte, ad AD) ([]byte, error) {
	adBytes, err := appendAD(make([]byte, 0, adSize(ad)), env[:headerSize], ad)
	if err != nil {
		return nil, fmt.Errorf("open: %w: %w", lethe.ErrCrypto, err)
	}
	pt, err := aead.Open(nil, env[headerSize:headerSize+nonceSize], env[headerSize+nonceSize:], adBytes)
	if err != nil {
		// One message for every cause (wrong key, wrong place, altered
		// bytes): GCM cannot tell them apart, and neither should a caller.
		return nil, fmt.Errorf("open %s/%s/%s: %w", ad.Collection, ad.Record, ad.Field, lethe.ErrCrypto)
	}
	return pt, nil
}
