package keyring

import (
	"context"
	"fmt"
	"net/url"
	"strings"

	"github.com/lethe-privacy/lethe"
)

// Master is a master-key provider: a Wrapper whose key may exist in
// several versions (a key file with rotated keys, a Vault transit key).
// Every wrapped key names the version that wrapped it (its kekID), so a
// rewrap knows what is left to move and a destroy knows what still needs
// a version.
type Master interface {
	Wrapper
	// Knows reports whether kekID names a version of this master key
	// that it can still unwrap with. It asks no server: a start checks the
	// id the data was created with against it before anything else.
	Knows(kekID string) bool
	// Rotate creates a new version and makes it the one Wrap uses from
	// now on; it returns the new version's id.
	Rotate(ctx context.Context) (string, error)
	// Versions lists the ids of every version that still unwraps, oldest
	// first; the last one is the current (ID).
	Versions(ctx context.Context) ([]string, error)
	// Destroy removes an old version for good. The current version is
	// refused. Callers check first that no wrapped key uses it.
	Destroy(ctx context.Context, kekID string) error
	// Describe names the provider and key for messages and /readyz,
	// never with a secret (no token, no key).
	Describe() string
}

// Knows reports whether w can unwrap keys wrapped under kekID: its own
// id, or for a Master any version it still holds (a key rotated since the
// data, a journal or a backup was made).
func Knows(w Wrapper, kekID string) bool {
	if m, ok := w.(Master); ok {
		return m.Knows(kekID)
	}
	return kekID == w.ID()
}

// Rewrapper is a Master that moves a wrapped key to its current version
// without the plaintext key passing through this process (Vault's
// transit rewrap). Masters without it are rewrapped by Unwrap and Wrap.
type Rewrapper interface {
	Rewrap(ctx context.Context, wrapped []byte, kekID string) ([]byte, string, error)
}

// Rewrap moves one wrapped key to m's current version: through the
// provider's own rewrap when it has one, else by unwrapping and wrapping
// again in memory.
func Rewrap(ctx context.Context, m Master, wrapped []byte, kekID string) ([]byte, string, error) {
	if rw, ok := m.(Rewrapper); ok {
		return rw.Rewrap(ctx, wrapped, kekID)
	}
	dek, err := m.Unwrap(ctx, wrapped, kekID)
	if err != nil {
		return nil, "", err
	}
	defer clear(dek)
	return m.Wrap(ctx, dek)
}

// MasterOptions is what OpenMaster needs beside the URL. The caller reads
// it from its configuration (environment, flags): the keyring reads none.
type MasterOptions struct {
	// Create makes a new key file when a file:// URL names none (a new
	// data folder); an existing database never gets a new key.
	Create bool
	// VaultToken authenticates to Vault ($VAULT_TOKEN). Empty: AppRole
	// with VaultRoleID and VaultSecretID.
	VaultToken    string
	VaultRoleID   string
	VaultSecretID string
	// VaultNamespace is sent as X-Vault-Namespace (Vault Enterprise,
	// OpenBao namespaces); empty for none.
	VaultNamespace string
}

// OpenMaster opens the master key a --master-key URL names:
//
//	file:///abs/path/master.key, file:relative/master.key, or a bare path
//	vault://HOST:PORT/MOUNT/KEY[?ca_cert=FILE]   Vault or OpenBao transit over TLS
//	vault+http://127.0.0.1:8200/MOUNT/KEY        plain HTTP, loopback only
//	awskms://KEY_ID?region=R[&endpoint=URL]      AWS KMS (OpenCloudKMS)
//	gcpkms://..., azurekeyvault://...            with -tags cloudkms
//
// It only opens: it does not prove the key is the one the data was made
// with (Knows, and an unwrap of a stored key, do that). A cloud scheme
// whose driver is not compiled in is refused with a message naming the
// build tag.
func OpenMaster(ctx context.Context, raw string, opts MasterOptions) (Master, bool, error) {
	scheme, rest, ok := strings.Cut(raw, "://")
	if !ok {
		if p, isFile := strings.CutPrefix(raw, "file:"); isFile {
			return openFileURL(p, opts)
		}
		return openFileURL(raw, opts) // a bare path
	}
	switch scheme {
	case "file":
		return openFileURL(rest, opts)
	case "vault", "vault+http":
		u, err := url.Parse(raw)
		if err != nil {
			return nil, false, fmt.Errorf("master key URL: %v: %w", err, lethe.ErrInvalid)
		}
		m, err := OpenTransit(ctx, u, opts)
		return m, false, err
	case "awskms", "gcpkms", "azurekeyvault":
		m, err := OpenCloudKMS(ctx, raw, opts)
		return m, false, err
	}
	return nil, false, fmt.Errorf("master key URL: unknown scheme %q (supported: file://, vault://, vault+http://, awskms://; gcpkms:// and azurekeyvault:// with -tags %s): %w", scheme, cloudBuildTag, lethe.ErrInvalid)
}

func openFileURL(path string, opts MasterOptions) (Master, bool, error) {
	if path == "" {
		return nil, false, fmt.Errorf("master key URL: file:// without a path: %w", lethe.ErrInvalid)
	}
	if opts.Create {
		return LoadOrCreateFileMaster(path)
	}
	m, err := OpenFileMaster(path)
	return m, false, err
}
