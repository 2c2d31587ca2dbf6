package keyring

import (
	"bytes"
	"context"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path/filepath"
	"runtime"
	"slices"
	"sync"
	"time"

	"github.com/lethe-privacy/lethe"
)

// maxKeyFileVersions bounds the versions one key file holds: a rotation a
// day for years stays far below it, and rewrap lets old ones go.
const maxKeyFileVersions = 1000

// FileMaster is the key file as a versioned master key: one line of 64 hex
// characters per version, oldest first, the last line current. A file
// written by CreateKeyFile is a FileMaster of one version, so existing
// key files keep working unchanged. It implements Master.
//
// Another process (lethe keys rotate --master) may rotate the file while a
// server uses it; the server then wraps with the new version from its next
// wrap on, since Wrap and an unknown kekID re-read the file when it
// changed. A wrap is rare (a tenant's creation, a data key rotation), so
// the stat it costs does not matter.
type FileMaster struct {
	path string

	mu       sync.Mutex
	versions []*FileKEK // oldest first; the last is current
	mod      time.Time
	size     int64
}

var _ Master = (*FileMaster)(nil)

// OpenFileMaster reads a key file. Its errors are OpenKeyFile's: a missing
// file wraps fs.ErrNotExist, a file others may read and a malformed one
// wrap lethe.ErrInvalid.
func OpenFileMaster(path string) (*FileMaster, error) {
	m := &FileMaster{path: path}
	if err := m.reload(); err != nil {
		return nil, err
	}
	return m, nil
}

// LoadOrCreateFileMaster opens the key file at path or creates it with a
// first version (a new data folder); created says which happened.
func LoadOrCreateFileMaster(path string) (*FileMaster, bool, error) {
	_, created, err := LoadOrCreateKeyFile(path)
	if err != nil {
		return nil, false, err
	}
	m, err := OpenFileMaster(path)
	return m, created, err
}

// NewFileMaster is a master key of the given versions held in memory only
// (tests, benchmarks): Rotate and Destroy change memory, not a file.
func NewFileMaster(keys ...[]byte) (*FileMaster, error) {
	m := &FileMaster{}
	for _, k := range keys {
		v, err := NewFileKEK(k)
		if err != nil {
			return nil, err
		}
		m.versions = append(m.versions, v)
	}
	if len(m.versions) == 0 {
		return nil, fmt.Errorf("master key: no versions: %w", lethe.ErrInvalid)
	}
	return m, nil
}

// reload reads the file again when its size or modification time changed.
func (m *FileMaster) reload() error {
	m.mu.Lock()
	defer m.mu.Unlock()
	return m.reloadLocked(false)
}

func (m *FileMaster) reloadLocked(force bool) error {
	if m.path == "" {
		return nil
	}
	f, err := os.Open(m.path)
	if errors.Is(err, fs.ErrNotExist) {
		return fmt.Errorf("key file %s does not exist: %w", m.path, err)
	}
	if err != nil {
		return fmt.Errorf("open key file: %w", err)
	}
	defer f.Close()
	fi, err := f.Stat()
	if err != nil {
		return fmt.Errorf("open key file: %w", err)
	}
	if !force && m.versions != nil && fi.ModTime().Equal(m.mod) && fi.Size() == m.size {
		return nil
	}
	if !fi.Mode().IsRegular() {
		return fmt.Errorf("key file %s is not a regular file (%s): %w", m.path, fi.Mode().Type(), lethe.ErrInvalid)
	}
	if perm := fi.Mode().Perm(); perm&0o077 != 0 && runtime.GOOS != "windows" {
		return fmt.Errorf("key file %s has mode %04o and is readable by others; "+
			"it must be readable by its owner only: run \"chmod 600 %s\": %w",
			m.path, perm, m.path, lethe.ErrInvalid)
	}
	limit := int64(maxKeyFileVersions * (2*KEKSize + 2))
	data, err := io.ReadAll(io.LimitReader(f, limit+1))
	if err != nil {
		return fmt.Errorf("read key file %s: %w", m.path, err)
	}
	if int64(len(data)) > limit {
		return fmt.Errorf("key file %s is too large to be a key file: %w", m.path, lethe.ErrInvalid)
	}
	var versions []*FileKEK
	for i, line := range bytes.Split(data, []byte("\n")) {
		if len(bytes.TrimSpace(line)) == 0 {
			continue
		}
		key, err := parseKeyLine(line)
		if err != nil {
			return fmt.Errorf("key file %s line %d: %w", m.path, i+1, err)
		}
		v, err := NewFileKEK(key)
		clear(key)
		if err != nil {
			return err
		}
		versions = append(versions, v)
	}
	if len(versions) == 0 {
		return fmt.Errorf("key file %s holds no key: %w", m.path, lethe.ErrInvalid)
	}
	m.versions, m.mod, m.size = versions, fi.ModTime(), fi.Size()
	return nil
}

// ID is the current version's id.
func (m *FileMaster) ID() string {
	m.mu.Lock()
	defer m.mu.Unlock()
	return m.versions[len(m.versions)-1].ID()
}

// Describe names the file, never the key.
func (m *FileMaster) Describe() string {
	if m.path == "" {
		return "key in memory"
	}
	return "key file " + m.path
}

// String keeps a logged FileMaster from printing key material.
func (m *FileMaster) String() string { return "FileMaster(" + m.Describe() + ")" }

// GoString keeps %#v from printing key schedules.
func (m *FileMaster) GoString() string { return m.String() }

// Wrap wraps with the current version, read afresh if the file changed.
func (m *FileMaster) Wrap(ctx context.Context, dek []byte) ([]byte, string, error) {
	if err := m.reload(); err != nil {
		return nil, "", err
	}
	m.mu.Lock()
	cur := m.versions[len(m.versions)-1]
	m.mu.Unlock()
	return cur.Wrap(ctx, dek)
}

// Unwrap opens a key wrapped by any version this file holds. It reads the
// file again when it changed, so that a version destroyed by another
// process stops opening here too (an unwrap is as rare as a wrap: once
// per tenant and cache lifetime).
func (m *FileMaster) Unwrap(ctx context.Context, wrapped []byte, kekID string) ([]byte, error) {
	if err := m.reload(); err != nil {
		return nil, err
	}
	v := m.version(kekID)
	if v == nil {
		return nil, fmt.Errorf("%w: key was wrapped by %q, which %s does not hold (it holds %v)", ErrWrongMasterKey, kekID, m.Describe(), m.ids())
	}
	return v.Unwrap(ctx, wrapped, kekID)
}

func (m *FileMaster) version(id string) *FileKEK {
	m.mu.Lock()
	defer m.mu.Unlock()
	for _, v := range m.versions {
		if v.ID() == id {
			return v
		}
	}
	return nil
}

func (m *FileMaster) ids() []string {
	m.mu.Lock()
	defer m.mu.Unlock()
	out := make([]string, len(m.versions))
	for i, v := range m.versions {
		out[i] = v.ID()
	}
	return out
}

// Knows reports whether the file holds the version kekID names.
func (m *FileMaster) Knows(kekID string) bool { return m.version(kekID) != nil }

// Versions lists the version ids, oldest first.
func (m *FileMaster) Versions(context.Context) ([]string, error) {
	if err := m.reload(); err != nil {
		return nil, err
	}
	return m.ids(), nil
}

// Rotate appends a fresh random key to the file and makes it current. The
// new file replaces the old one in one rename, after a sync, so a crash
// leaves the old file or the new one, never a torn one; a lock file keeps
// two rotations from losing each other's key.
func (m *FileMaster) Rotate(context.Context) (string, error) {
	key := make([]byte, KEKSize)
	// crypto/rand: the operating system's CSPRNG; it does not fail on
	// supported platforms (Go 1.24+).
	rand.Read(key)
	defer clear(key)
	v, err := NewFileKEK(key)
	if err != nil {
		return "", err
	}
	err = m.rewrite(func(es []keyEntry) ([]keyEntry, error) {
		if len(es) >= maxKeyFileVersions {
			return nil, fmt.Errorf("key file holds %d versions: rewrap and destroy old ones first: %w", len(es), lethe.ErrConflict)
		}
		return append(es, keyEntry{line: hex.AppendEncode(nil, key), kek: v}), nil
	})
	if err != nil {
		return "", fmt.Errorf("rotate master key: %w", err)
	}
	return v.ID(), nil
}

// Destroy removes an old version's line from the file. The current
// version is refused, and so is an id the file does not hold.
func (m *FileMaster) Destroy(_ context.Context, kekID string) error {
	err := m.rewrite(func(es []keyEntry) ([]keyEntry, error) {
		i := slices.IndexFunc(es, func(e keyEntry) bool { return e.kek.ID() == kekID })
		switch {
		case i < 0:
			return nil, fmt.Errorf("%s holds no such version: %w", m.Describe(), lethe.ErrNotFound)
		case i == len(es)-1:
			return nil, fmt.Errorf("it is the current version; rotate first: %w", lethe.ErrConflict)
		}
		return slices.Delete(es, i, i+1), nil
	})
	if err != nil {
		return fmt.Errorf("destroy master key version %s: %w", kekID, err)
	}
	return nil
}

// keyEntry is one version: its line in the file (nil in memory) and key.
type keyEntry struct {
	line []byte
	kek  *FileKEK
}

// rewrite changes the versions under the lock: in memory for a
// FileMaster without a file, else in the file, which is then read again.
func (m *FileMaster) rewrite(change func([]keyEntry) ([]keyEntry, error)) error {
	m.mu.Lock()
	defer m.mu.Unlock()
	if m.path == "" {
		es := make([]keyEntry, len(m.versions))
		for i, v := range m.versions {
			es[i] = keyEntry{kek: v}
		}
		es, err := change(es)
		if err != nil {
			return err
		}
		m.versions = m.versions[:0:0]
		for _, e := range es {
			m.versions = append(m.versions, e.kek)
		}
		return nil
	}
	lock := m.path + ".lock"
	lf, err := os.OpenFile(lock, os.O_CREATE|os.O_EXCL|os.O_WRONLY, 0o600)
	if errors.Is(err, fs.ErrExist) {
		return fmt.Errorf("%s exists: another rotation is running (remove the file if none is): %w", lock, lethe.ErrConflict)
	}
	if err != nil {
		return err
	}
	lf.Close()
	defer os.Remove(lock)
	if err := m.reloadLocked(true); err != nil {
		return err
	}
	data, err := os.ReadFile(m.path)
	if err != nil {
		return err
	}
	var es []keyEntry
	for _, l := range bytes.Split(data, []byte("\n")) {
		if l = bytes.TrimSpace(l); len(l) == 0 {
			continue
		}
		key, err := parseKeyLine(l)
		if err != nil {
			return err
		}
		v, err := NewFileKEK(key)
		clear(key)
		if err != nil {
			return err
		}
		es = append(es, keyEntry{line: l, kek: v})
	}
	es, err = change(es)
	if err != nil {
		return err
	}
	var out []byte
	for _, e := range es {
		out = append(append(out, e.line...), '\n')
	}
	if err := replaceFile(m.path, out); err != nil {
		return err
	}
	return m.reloadLocked(true)
}

// replaceFile writes data to a temporary file beside path, syncs it,
// renames it over path and syncs the folder.
func replaceFile(path string, data []byte) error {
	dir := filepath.Dir(path)
	tmp, err := os.CreateTemp(dir, "."+filepath.Base(path)+".tmp-*")
	if err != nil {
		return err
	}
	name := tmp.Name()
	defer os.Remove(name) // a no-op once renamed
	if _, err := tmp.Write(data); err != nil {
		tmp.Close()
		return err
	}
	if err := tmp.Sync(); err != nil {
		tmp.Close()
		return err
	}
	if err := tmp.Close(); err != nil {
		return err
	}
	if err := os.Rename(name, path); err != nil {
		return err
	}
	return syncDir(dir)
}
