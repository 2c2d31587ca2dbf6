//go:build unix

package sqlite_test

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"syscall"
	"testing"

	"github.com/lethe-privacy/lethe/sqlite"
)

// TestOpen_FilesAreOwnerOnlyWhateverTheUmask opens a new store under a
// permissive umask and checks the mode of every file it keeps, its WAL and
// shared-memory files included; and that an existing database file of
// mode 0644 gets owner-only -wal and -shm files all the same. Not
// parallel: the umask is the process's.
func TestOpen_FilesAreOwnerOnlyWhateverTheUmask(t *testing.T) {
	for _, umask := range []int{0o022, 0o000} {
		t.Run(fmt.Sprintf("umask-%04o", umask), func(t *testing.T) {
			old := syscall.Umask(umask)
			defer syscall.Umask(old)
			path := filepath.Join(t.TempDir(), "lethe.db")
			st, err := sqlite.Open(context.Background(), path, sqlite.Options{})
			if err != nil {
				t.Fatal(err)
			}
			checkModes(t, sqlite.Files(path), 6)
			if err := st.Close(); err != nil {
				t.Fatal(err)
			}

			// A database file another tool left 0644, without its WAL.
			for _, p := range sqlite.Files(path)[1:] {
				os.Remove(p)
			}
			if err := os.Chmod(path, 0o644); err != nil {
				t.Fatal(err)
			}
			st, err = sqlite.Open(context.Background(), path, sqlite.Options{})
			if err != nil {
				t.Fatal(err)
			}
			defer st.Close()
			checkModes(t, sqlite.Files(path)[1:], 5)
		})
	}
}

// checkModes fails unless want of paths exist, each of mode 0600.
func checkModes(t *testing.T, paths []string, want int) {
	t.Helper()
	found := 0
	for _, p := range paths {
		fi, err := os.Stat(p)
		if os.IsNotExist(err) {
			continue
		}
		if err != nil {
			t.Fatal(err)
		}
		found++
		if fi.Mode().Perm() != 0o600 {
			t.Errorf("%s: mode %04o, want 0600", filepath.Base(p), fi.Mode().Perm())
		}
	}
	if found != want {
		t.Errorf("found %d of the store's files, want %d", found, want)
	}
}
