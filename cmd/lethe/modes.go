package main

import (
	"errors"
	"fmt"
	"io/fs"
	"log/slog"
	"os"
	"runtime"
	"strings"

	"github.com/lethe-privacy/lethe/sqlite"
)

// dirMode is the mode of the data folder: it holds the database, the
// manager log and by default the master key, none of them for other local
// users. The files in it are sqlite.FileMode (0600).
const dirMode fs.FileMode = 0o700

// makeDataDir creates the data folder owner-only. The chmod makes the
// mode independent of the umask; a folder that exists already keeps its
// mode here and is tightened by tightenData.
func makeDataDir(dir string) error {
	_, err := os.Stat(dir)
	existed := err == nil
	if err := os.MkdirAll(dir, dirMode); err != nil {
		return err
	}
	if existed {
		return nil
	}
	return os.Chmod(dir, dirMode)
}

// tightenData makes the data folder and the store's files in it
// owner-only when group or others may read them (a folder made by hand,
// a copy restored from a backup, an older version's manager log), and
// warns once, naming the paths. The master key file is not changed here:
// keyring.OpenKeyFile refuses one that others could read, since the key
// may already have been copied.
func tightenData(log *slog.Logger, dir, dbPath string) error {
	if runtime.GOOS == "windows" {
		return nil // no Unix permission bits to check
	}
	var fixed []string
	tighten := func(path string, want fs.FileMode) error {
		fi, err := os.Stat(path)
		if errors.Is(err, fs.ErrNotExist) {
			return nil
		}
		if err != nil {
			return err
		}
		if perm := fi.Mode().Perm(); perm&0o077 != 0 {
			if err := os.Chmod(path, want); err != nil {
				return err
			}
			fixed = append(fixed, fmt.Sprintf("%s (was %04o)", path, perm))
		}
		return nil
	}
	if err := tighten(dir, dirMode); err != nil {
		return fmt.Errorf("data folder: %w", err)
	}
	for _, p := range sqlite.Files(dbPath) {
		if err := tighten(p, sqlite.FileMode); err != nil {
			return fmt.Errorf("data folder: %w", err)
		}
	}
	if len(fixed) > 0 {
		log.Warn("data readable by other users; made owner-only", "paths", strings.Join(fixed, ", "))
	}
	return nil
}
