package keyring

import (
	"bytes"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path/filepath"
	"runtime"

	"github.com/lethe-privacy/lethe"
)

// maxKeyFileSize bounds what OpenKeyFile reads: a key file is 64 hex
// characters and a newline; anything much larger is not a key file.
const maxKeyFileSize = 1024

// CreateKeyFile writes a new random master key to path as one line of 64
// lower-case hex characters, readable by its owner only (0600). It fails
// when the file exists: overwriting a master key would make every tenant
// key unreadable. The key is written to a temporary file in the same
// folder, synced, moved into place without replacing anything, and the
// folder is synced, so that a crash leaves either no key file or a whole one.
func CreateKeyFile(path string) (*FileKEK, error) {
	key := make([]byte, KEKSize)
	// crypto/rand: the operating system's CSPRNG; it does not fail on
	// supported platforms (Go 1.24+).
	rand.Read(key)
	k, err := NewFileKEK(key)
	if err != nil {
		return nil, err
	}
	line := make([]byte, 0, 2*KEKSize+1)
	line = hex.AppendEncode(line, key)
	line = append(line, '\n')
	if err := writeNewFile(path, line); err != nil {
		return nil, fmt.Errorf("create key file: %w", err)
	}
	return k, nil
}

// writeNewFile writes data to path atomically and durably, failing with an
// error wrapping fs.ErrExist when path exists.
func writeNewFile(path string, data []byte) error {
	dir := filepath.Dir(path)
	// os.CreateTemp creates the file with mode 0600: the key is never
	// readable by others, not even for a moment.
	tmp, err := os.CreateTemp(dir, "."+filepath.Base(path)+".tmp-*")
	if err != nil {
		return err
	}
	tmpName := tmp.Name()
	defer func() {
		if tmp != nil {
			tmp.Close()
		}
		os.Remove(tmpName) // a no-op once published
	}()
	if _, err := tmp.Write(data); err != nil {
		return err
	}
	// On an fsync error we stop and report: a retried fsync can falsely
	// succeed after the kernel dropped the dirty pages.
	if err := tmp.Sync(); err != nil {
		return err
	}
	if err := tmp.Close(); err != nil {
		tmp = nil
		return err
	}
	tmp = nil
	if err := publish(tmpName, path); err != nil {
		return err
	}
	// Drop the temporary name (left by the hard link) before the folder
	// is synced, so that no stray copy of the key survives a crash.
	if err := os.Remove(tmpName); err != nil && !errors.Is(err, fs.ErrNotExist) {
		return err
	}
	return syncDir(dir)
}

// publish gives the synced temp file its final name without ever replacing
// an existing file. A hard link fails atomically when the name exists (a
// plain rename would silently replace a key another process just wrote);
// where the file system has no hard links, it falls back to a check and a
// rename.
func publish(tmpName, path string) error {
	err := os.Link(tmpName, path)
	if err == nil || errors.Is(err, fs.ErrExist) {
		return err
	}
	if _, statErr := os.Lstat(path); statErr == nil {
		return &fs.PathError{Op: "create", Path: path, Err: fs.ErrExist}
	} else if !errors.Is(statErr, fs.ErrNotExist) {
		return statErr
	}
	return os.Rename(tmpName, path)
}

// syncDir makes a new directory entry durable. Windows cannot sync a
// directory and does not need to.
func syncDir(dir string) error {
	if runtime.GOOS == "windows" {
		return nil
	}
	d, err := os.Open(dir)
	if err != nil {
		return err
	}
	defer d.Close()
	return d.Sync()
}

// OpenKeyFile reads a master key written by CreateKeyFile. Its errors say
// what is wrong and how to fix it: a missing file wraps fs.ErrNotExist, a
// file readable by group or others is refused with the chmod that fixes it,
// and a file that is not 64 hex characters wraps lethe.ErrInvalid.
func OpenKeyFile(path string) (*FileKEK, error) {
	f, err := os.Open(path)
	if errors.Is(err, fs.ErrNotExist) {
		return nil, fmt.Errorf("key file %s does not exist: %w", path, err)
	}
	if err != nil {
		return nil, fmt.Errorf("open key file: %w", err)
	}
	defer f.Close()
	fi, err := f.Stat()
	if err != nil {
		return nil, fmt.Errorf("open key file: %w", err)
	}
	if !fi.Mode().IsRegular() {
		return nil, fmt.Errorf("key file %s is not a regular file (%s): %w", path, fi.Mode().Type(), lethe.ErrInvalid)
	}
	// Unix permission bits are the only thing protecting the key on disk;
	// Windows does not report them, so the check applies elsewhere.
	if perm := fi.Mode().Perm(); perm&0o077 != 0 && runtime.GOOS != "windows" {
		return nil, fmt.Errorf("key file %s has mode %04o and is readable by others; "+
			"it must be readable by its owner only: run \"chmod 600 %s\": %w",
			path, perm, path, lethe.ErrInvalid)
	}
	data, err := io.ReadAll(io.LimitReader(f, maxKeyFileSize+1))
	if err != nil {
		return nil, fmt.Errorf("read key file %s: %w", path, err)
	}
	if len(data) > maxKeyFileSize {
		return nil, fmt.Errorf("key file %s is too large to be a key file: %w", path, lethe.ErrInvalid)
	}
	key, err := parseKeyLine(data)
	if err != nil {
		return nil, fmt.Errorf("key file %s: %w", path, err)
	}
	return NewFileKEK(key)
}

// parseKeyLine accepts 64 hex characters (either case), with surrounding
// whitespace such as the trailing newline an editor adds.
func parseKeyLine(b []byte) ([]byte, error) {
	b = bytes.TrimSpace(b)
	if len(b) != 2*KEKSize {
		return nil, fmt.Errorf("want %d hex characters on one line, found %d characters: %w", 2*KEKSize, len(b), lethe.ErrInvalid)
	}
	key := make([]byte, KEKSize)
	if _, err := hex.Decode(key, b); err != nil {
		return nil, fmt.Errorf("not hex: %v: %w", err, lethe.ErrInvalid)
	}
	return key, nil
}

// LoadOrCreateKeyFile opens the key file at path, or creates it when it
// does not exist yet (first start). created reports which happened. Two
// processes starting at once agree on one key: the loser of the race opens
// the winner's file.
func LoadOrCreateKeyFile(path string) (k *FileKEK, created bool, err error) {
	k, err = OpenKeyFile(path)
	if err == nil || !errors.Is(err, fs.ErrNotExist) {
		return k, false, err
	}
	k, err = CreateKeyFile(path)
	if errors.Is(err, fs.ErrExist) {
		k, err = OpenKeyFile(path)
		return k, false, err
	}
	return k, err == nil, err
}
