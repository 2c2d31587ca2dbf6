package keyring

import (
	"context"
	"crypto/rand"
	"crypto/subtle"
	"encoding/json"
	"fmt"

	"github.com/lethe-privacy/lethe"
)

// A probe is a random value wrapped by the master key and kept in the
// store's meta table. Unwrapping it proves, before anything is written,
// that the configured master key is the one the data was made with and
// that its service answers: a master key's id alone cannot (a Vault key
// of the same name on another server has the same id). It protects
// nothing: the value is not a key, and a copy of it opens nothing.
type probe struct {
	KEKID   string `json:"kek_id"`
	Wrapped []byte `json:"wrapped"`
}

// probeSize is the length of the random probe value.
const probeSize = 32

// NewProbe wraps a fresh random value under m, for the meta table.
func NewProbe(ctx context.Context, m Wrapper) ([]byte, error) {
	v := make([]byte, probeSize)
	// crypto/rand never fails on supported platforms (Go 1.24+).
	rand.Read(v)
	wrapped, id, err := m.Wrap(ctx, v)
	if err != nil {
		return nil, fmt.Errorf("master key probe: %w", err)
	}
	return json.Marshal(probe{KEKID: id, Wrapped: wrapped})
}

// CheckProbe unwraps a stored probe: nil when m is the master key that
// wrapped it and its service answered. An unreachable service gives
// lethe.ErrUnavailable, another key ErrWrongMasterKey.
func CheckProbe(ctx context.Context, m Wrapper, stored []byte) error {
	var p probe
	if err := json.Unmarshal(stored, &p); err != nil {
		return fmt.Errorf("master key probe does not parse: %v: %w", err, lethe.ErrCrypto)
	}
	v, err := m.Unwrap(ctx, p.Wrapped, p.KEKID)
	if err != nil {
		return fmt.Errorf("master key check: %w", err)
	}
	if subtle.ConstantTimeEq(int32(len(v)), probeSize) != 1 {
		return fmt.Errorf("%w: master key probe unwrapped to %d bytes", ErrWrongMasterKey, len(v))
	}
	return nil
}

// ProbeKEKID is the master key version that wrapped a stored probe (for
// rewrap: a probe is rewrapped like any tenant key).
func ProbeKEKID(stored []byte) string {
	var p probe
	if json.Unmarshal(stored, &p) != nil {
		return ""
	}
	return p.KEKID
}

// RewrapProbe moves a stored probe to m's current version.
func RewrapProbe(ctx context.Context, m Master, stored []byte) ([]byte, error) {
	var p probe
	if err := json.Unmarshal(stored, &p); err != nil {
		return nil, fmt.Errorf("master key probe does not parse: %v: %w", err, lethe.ErrCrypto)
	}
	w, id, err := Rewrap(ctx, m, p.Wrapped, p.KEKID)
	if err != nil {
		return nil, err
	}
	return json.Marshal(probe{KEKID: id, Wrapped: w})
}
