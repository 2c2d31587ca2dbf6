package sqlite

import (
	"errors"
	"fmt"
	"io/fs"
	"os"
	"runtime"
)

// FileMode is the mode of every file the store keeps: the database files
// hold sealed PII, blind indexes and the manager log (who read whose
// data), none of which is for other local users.
const FileMode fs.FileMode = 0o600

// Files lists the files the store at path keeps, whether they exist or
// not: the database, the manager log, and the write-ahead log and
// shared-memory index of each.
func Files(path string) []string {
	var out []string
	for _, db := range []string{path, ManagerLogPath(path)} {
		out = append(out, db, db+"-wal", db+"-shm")
	}
	return out
}

// createPrivate creates the database file at path owner-only when it does
// not exist yet. SQLite would create it 0644 less the umask, and gives its
// -wal and -shm files the database file's mode, so the file must exist
// with the right mode before the driver first opens it. The explicit
// chmod makes the mode independent of the umask.
func createPrivate(path string) error {
	f, err := os.OpenFile(path, os.O_CREATE|os.O_EXCL|os.O_WRONLY, FileMode)
	if errors.Is(err, fs.ErrExist) {
		return nil
	}
	if err != nil {
		return fmt.Errorf("create database file: %w", err)
	}
	errClose := f.Close()
	if err := os.Chmod(path, FileMode); err != nil {
		return fmt.Errorf("create database file: %w", err)
	}
	return errClose
}

// checkPrivate makes each existing file of paths owner-only. It runs after
// the driver has opened a file, for the -wal and -shm files it created:
// they follow the database file's mode, which may have been wider when
// they were first made.
func checkPrivate(paths ...string) error {
	if runtime.GOOS == "windows" {
		return nil // no Unix permission bits to check
	}
	for _, p := range paths {
		fi, err := os.Stat(p)
		if errors.Is(err, fs.ErrNotExist) {
			continue
		}
		if err != nil {
			return err
		}
		if fi.Mode().Perm() != FileMode {
			if err := os.Chmod(p, FileMode); err != nil {
				return err
			}
		}
	}
	return nil
}
