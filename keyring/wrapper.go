package keyring

import (
	"context"
	"errors"
)

// Wrapper wraps and unwraps tenant keys with a master key (KEK). The key
// file (FileKEK) implements it, and so will every KMS adapter; the rest of
// the keyring never sees the master key itself.
type Wrapper interface {
	// Wrap encrypts a tenant key and names the master key that did it.
	Wrap(ctx context.Context, dek []byte) (wrapped []byte, kekID string, err error)
	// Unwrap reverses Wrap. A kekID that is not this master key's, or a
	// wrapped key that fails to open, gives an error wrapping
	// ErrWrongMasterKey.
	Unwrap(ctx context.Context, wrapped []byte, kekID string) ([]byte, error)
	// ID is a stable, non-secret name of the master key, stored beside
	// each wrapped key so that a wrong master key is reported as such.
	ID() string
}

// ErrWrongMasterKey means a tenant key was wrapped by another master key
// than the one configured, or its wrapped form does not open under it.
// Lethe refuses to start rather than serve with it.
var ErrWrongMasterKey = errors.New("wrong master key")
