package keyring

import (
	"bytes"
	"context"
	"errors"
	"io/fs"
	"os"
	"path/filepath"
	"regexp"
	"runtime"
	"strings"
	"sync"
	"testing"

	"github.com/lethe-privacy/lethe"
)

func TestCreateKeyFile_WritesOwnerOnlyHexLine(t *testing.T) {
	dir := t.TempDir()
	path := filepath.Join(dir, "master.key")
	k, err := CreateKeyFile(path)
	if err != nil {
		t.Fatal(err)
	}
	fi, err := os.Stat(path)
	if err != nil {
		t.Fatal(err)
	}
	if runtime.GOOS != "windows" && fi.Mode().Perm() != 0o600 {
		t.Errorf("mode %04o, want 0600", fi.Mode().Perm())
	}
	data, _ := os.ReadFile(path)
	if !regexp.MustCompile(`^[0-9a-f]{64}\n$`).Match(data) {
		t.Errorf("content %q is not one line of 64 hex characters", data)
	}
	again, err := OpenKeyFile(path)
	if err != nil {
		t.Fatal(err)
	}
	if again.ID() != k.ID() {
		t.Errorf("reopened id %s, created id %s", again.ID(), k.ID())
	}
	entries, _ := os.ReadDir(dir)
	if len(entries) != 1 {
		t.Errorf("folder holds %d entries, want only the key file (temp file left behind?)", len(entries))
	}
}

func TestCreateKeyFile_NeverReplacesAnExistingFile(t *testing.T) {
	path := filepath.Join(t.TempDir(), "master.key")
	if _, err := CreateKeyFile(path); err != nil {
		t.Fatal(err)
	}
	before, _ := os.ReadFile(path)
	if _, err := CreateKeyFile(path); !errors.Is(err, fs.ErrExist) {
		t.Fatalf("second create: err = %v, want fs.ErrExist", err)
	}
	after, _ := os.ReadFile(path)
	if !bytes.Equal(before, after) {
		t.Fatal("existing key file was changed")
	}
}

func TestOpenKeyFile(t *testing.T) {
	wantID := testKEK(t, 0).ID() // the fixtures hold the bytes 0x00..0x1f
	tests := []struct {
		fixture string
		mode    os.FileMode
		wantErr error  // nil: opens with wantID
		mention string // text the error must contain
	}{
		{"good.key", 0o600, nil, ""},
		{"good.key", 0o400, nil, ""},
		{"upper-crlf.key", 0o600, nil, ""},
		{"no-newline.key", 0o600, nil, ""},
		{"good.key", 0o640, lethe.ErrInvalid, "chmod 600"},
		{"good.key", 0o644, lethe.ErrInvalid, "mode 0644"},
		{"good.key", 0o604, lethe.ErrInvalid, "chmod 600"},
		{"short.key", 0o600, lethe.ErrInvalid, "64 hex characters"},
		{"long.key", 0o600, lethe.ErrInvalid, "64 hex characters"},
		{"inner-space.key", 0o600, lethe.ErrInvalid, "64 hex characters"},
		{"not-hex.key", 0o600, lethe.ErrInvalid, "not hex"},
		{"empty.key", 0o600, lethe.ErrInvalid, "found 0"},
	}
	for _, tt := range tests {
		t.Run(tt.fixture+"/"+tt.mode.String(), func(t *testing.T) {
			if tt.mode&0o077 != 0 && runtime.GOOS == "windows" {
				t.Skip("Windows reports no Unix permission bits")
			}
			data, err := os.ReadFile(filepath.Join("testdata", "keyfiles", tt.fixture))
			if err != nil {
				t.Fatal(err)
			}
			path := filepath.Join(t.TempDir(), "master.key")
			if err := os.WriteFile(path, data, 0o600); err != nil {
				t.Fatal(err)
			}
			if err := os.Chmod(path, tt.mode); err != nil {
				t.Fatal(err)
			}
			k, err := OpenKeyFile(path)
			if tt.wantErr == nil {
				if err != nil {
					t.Fatal(err)
				}
				if k.ID() != wantID {
					t.Fatalf("id %s, want %s", k.ID(), wantID)
				}
				return
			}
			if !errors.Is(err, tt.wantErr) || !strings.Contains(err.Error(), tt.mention) {
				t.Fatalf("err = %v; want %v mentioning %q", err, tt.wantErr, tt.mention)
			}
		})
	}
}

func TestOpenKeyFile_MissingFileSaysSo(t *testing.T) {
	path := filepath.Join(t.TempDir(), "nothing.key")
	_, err := OpenKeyFile(path)
	if !errors.Is(err, fs.ErrNotExist) || !strings.Contains(err.Error(), path) {
		t.Fatalf("err = %v, want fs.ErrNotExist naming %s", err, path)
	}
}

func TestOpenKeyFile_RefusesAFolder(t *testing.T) {
	dir := filepath.Join(t.TempDir(), "key.d")
	if err := os.Mkdir(dir, 0o700); err != nil {
		t.Fatal(err)
	}
	if _, err := OpenKeyFile(dir); !errors.Is(err, lethe.ErrInvalid) {
		t.Fatalf("err = %v, want ErrInvalid", err)
	}
}

func TestLoadOrCreateKeyFile_CreatesOnceThenLoads(t *testing.T) {
	path := filepath.Join(t.TempDir(), "master.key")
	k1, created, err := LoadOrCreateKeyFile(path)
	if err != nil || !created {
		t.Fatalf("first call: created=%v, err=%v", created, err)
	}
	k2, created, err := LoadOrCreateKeyFile(path)
	if err != nil || created {
		t.Fatalf("second call: created=%v, err=%v", created, err)
	}
	if k1.ID() != k2.ID() {
		t.Fatalf("ids differ: %s, %s", k1.ID(), k2.ID())
	}
}

// Processes starting at the same moment must agree on one master key.
func TestLoadOrCreateKeyFile_ConcurrentStartsAgree(t *testing.T) {
	path := filepath.Join(t.TempDir(), "master.key")
	const n = 8
	ids := make([]string, n)
	var wg sync.WaitGroup
	for i := range n {
		wg.Go(func() {
			k, _, err := LoadOrCreateKeyFile(path)
			if err != nil {
				t.Error(err)
				return
			}
			ids[i] = k.ID()
		})
	}
	wg.Wait()
	for _, id := range ids[1:] {
		if id != ids[0] {
			t.Fatalf("ids differ: %v", ids)
		}
	}
}

func TestFileKEK_WrapUnwrap(t *testing.T) {
	ctx := context.Background()
	kek := testKEK(t, 1)
	dek := bytes.Repeat([]byte{0xab}, TenantKeySize)
	wrapped, id, err := kek.Wrap(ctx, dek)
	if err != nil {
		t.Fatal(err)
	}
	if id != kek.ID() || !regexp.MustCompile(`^file:[0-9a-f]{16}$`).MatchString(id) {
		t.Fatalf("kek id %q", id)
	}
	if len(wrapped) != 1+nonceSize+len(dek)+tagSize || wrapped[0] != wrapFormatV1 {
		t.Fatalf("wrapped key: %d bytes, format %d", len(wrapped), wrapped[0])
	}
	got, err := kek.Unwrap(ctx, wrapped, id)
	if err != nil || !bytes.Equal(got, dek) {
		t.Fatalf("Unwrap = %x, %v", got, err)
	}

	flipped := bytes.Clone(wrapped)
	flipped[len(flipped)-1] ^= 1
	tests := []struct {
		name    string
		kek     *FileKEK
		wrapped []byte
		id      string
		want    error
	}{
		{"other key id", kek, wrapped, "file:0000000000000000", ErrWrongMasterKey},
		{"other key, forged id", testKEK(t, 2), wrapped, testKEK(t, 2).ID(), ErrWrongMasterKey},
		{"altered", kek, flipped, id, ErrWrongMasterKey},
		{"truncated", kek, wrapped[:20], id, lethe.ErrCrypto},
		{"unknown format", kek, append([]byte{2}, wrapped[1:]...), id, lethe.ErrCrypto},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if _, err := tt.kek.Unwrap(ctx, tt.wrapped, tt.id); !errors.Is(err, tt.want) {
				t.Fatalf("err = %v, want %v", err, tt.want)
			}
		})
	}
}

func TestNewFileKEK_RefusesWrongLength(t *testing.T) {
	for _, n := range []int{0, 16, 31, 33, 64} {
		if _, err := NewFileKEK(make([]byte, n)); !errors.Is(err, lethe.ErrInvalid) {
			t.Errorf("%d bytes: err = %v, want ErrInvalid", n, err)
		}
	}
}
