package backup

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path/filepath"
	"time"

	"github.com/lethe-privacy/lethe"
	"github.com/lethe-privacy/lethe/keyring"
)

// Verify checks every file of a backup against its manifest: the stored
// bytes' SHA-256 first (no key needed), then decryption under the master
// key and the plaintext's size and SHA-256. progress may be nil.
func Verify(ctx context.Context, dir string, m *Manifest, w keyring.Wrapper, progress func(done, total int64)) error {
	return open(ctx, dir, m, w, progress, func(File) (io.Writer, func(bool) error, error) {
		return io.Discard, func(bool) error { return nil }, nil
	})
}

// open checks and decrypts each file of m, handing the plaintext to the
// writer sink returns; sink's finish is called with whether the file
// checked out.
func open(ctx context.Context, dir string, m *Manifest, w keyring.Wrapper, progress func(done, total int64), sink func(File) (io.Writer, func(ok bool) error, error)) error {
	loc, err := openLocation(ctx, dir)
	if err != nil {
		return err
	}
	defer loc.close()
	// Every stored file is checked before anything is decrypted: from a
	// bucket, that reads each object twice, the price of writing nothing
	// from a backup that does not check out.
	for _, f := range m.Files {
		if err := checkStored(ctx, loc, m.ID, f); err != nil {
			return err
		}
	}
	if !keyring.Knows(w, m.KEKID) {
		return fmt.Errorf("%w: backup %s was made under master key %s, this is %s", keyring.ErrWrongMasterKey, m.ID, m.KEKID, w.ID())
	}
	key, err := w.Unwrap(ctx, m.WrappedKey, m.KEKID)
	if err != nil {
		return fmt.Errorf("backup %s: unwrap its key: %w", m.ID, err)
	}
	var done int64
	total := m.Size()
	for _, f := range m.Files {
		if err := ctx.Err(); err != nil {
			return err
		}
		dst, finish, err := sink(f)
		if err != nil {
			return err
		}
		err = openFile(ctx, loc, m.ID, f, key, dst, func(n int64) {
			done += n
			if progress != nil {
				progress(done, total)
			}
		})
		if ferr := finish(err == nil); err == nil {
			err = ferr
		}
		if err != nil {
			return fmt.Errorf("backup %s: %s: %w", m.ID, f.Name, err)
		}
	}
	return nil
}

func checkStored(ctx context.Context, loc location, id string, f File) error {
	in, err := loc.open(ctx, id, f.Name+".enc")
	if err != nil {
		if errors.Is(err, fs.ErrNotExist) {
			return fmt.Errorf("%w: %s.enc is missing", ErrCorrupt, f.Name)
		}
		return err
	}
	defer in.Close()
	h := sha256.New()
	n, err := io.Copy(h, in)
	if err != nil {
		return err
	}
	if n != f.EncryptedSize || hex.EncodeToString(h.Sum(nil)) != f.EncryptedSHA256 {
		return fmt.Errorf("%w: %s.enc does not match the manifest's SHA-256", ErrCorrupt, f.Name)
	}
	return nil
}

func openFile(ctx context.Context, loc location, id string, f File, key []byte, dst io.Writer, progress func(int64)) error {
	in, err := loc.open(ctx, id, f.Name+".enc")
	if err != nil {
		return err
	}
	defer in.Close()
	aead, err := fileAEAD(key, id, f.Name)
	if err != nil {
		return err
	}
	h := sha256.New()
	n, err := decrypt(io.MultiWriter(dst, h), in, aead, progress)
	if err != nil {
		return err
	}
	if n != f.Size || hex.EncodeToString(h.Sum(nil)) != f.SHA256 {
		return fmt.Errorf("%w: decrypted content does not match the manifest", ErrCorrupt)
	}
	return nil
}

// RestoreOptions configure Restore.
type RestoreOptions struct {
	// DataDir is the folder restored into. It must hold no database: only
	// the master key file and the erasure journal may be there.
	DataDir string
	// Keep names the files of a backup not restored when DataDir already
	// holds them (the erasure journal: the one in the folder is the newer).
	Keep map[string]bool
	// Skip names files of the backup not restored at all (the erasure
	// journal when a newer backup's copy is restored instead, RestoreFile).
	Skip     map[string]bool
	Progress func(done, total int64)
	Now      func() time.Time
}

// RestoredName is the marker Restore leaves in the data folder: the next
// start replays the erasure journal before it serves, then removes it.
const RestoredName = "lethe-restored.json"

// Restored is the marker's content.
type Restored struct {
	Backup     string    `json:"backup"`
	TakenAt    time.Time `json:"taken_at"`
	RestoredAt time.Time `json:"restored_at"`
}

// Restore writes the files of backup m into o.DataDir after checking the
// whole backup, and leaves the RestoredName marker. Nothing is written
// when the backup does not check out or the folder holds data.
func Restore(ctx context.Context, dir string, m *Manifest, w keyring.Wrapper, o RestoreOptions) error {
	now := time.Now
	if o.Now != nil {
		now = o.Now
	}
	if err := os.MkdirAll(o.DataDir, 0o700); err != nil {
		return fmt.Errorf("data folder: %w", err)
	}
	var restore []string
	for _, f := range m.Files {
		_, err := os.Stat(filepath.Join(o.DataDir, f.Name))
		switch {
		case o.Skip[f.Name]:
			continue
		case err == nil && o.Keep[f.Name]:
			continue
		case err == nil:
			return fmt.Errorf("%w: %s already holds %s; restore only into a folder without a database (move it away first)", lethe.ErrConflict, o.DataDir, f.Name)
		case !errors.Is(err, fs.ErrNotExist):
			return err
		}
		for _, suffix := range []string{"-wal", "-shm", "-journal"} {
			if _, err := os.Stat(filepath.Join(o.DataDir, f.Name+suffix)); err == nil {
				return fmt.Errorf("%w: %s already holds %s; restore only into a folder without a database", lethe.ErrConflict, o.DataDir, f.Name+suffix)
			}
		}
		restore = append(restore, f.Name)
	}
	// Everything is checked (and decrypted once, to nowhere) before the
	// first byte lands in the data folder: a bad backup changes nothing.
	if err := Verify(ctx, dir, m, w, nil); err != nil {
		return err
	}
	want := map[string]bool{}
	for _, n := range restore {
		want[n] = true
	}
	var placed []string
	err := open(ctx, dir, m, w, o.Progress, func(f File) (io.Writer, func(bool) error, error) {
		if !want[f.Name] {
			return io.Discard, func(bool) error { return nil }, nil
		}
		final := filepath.Join(o.DataDir, f.Name)
		tmp := final + ".restoring"
		out, err := os.OpenFile(tmp, os.O_CREATE|os.O_TRUNC|os.O_WRONLY, 0o600)
		if err != nil {
			return nil, nil, err
		}
		return out, func(ok bool) error {
			if !ok {
				out.Close()
				return os.Remove(tmp)
			}
			if err := out.Sync(); err != nil {
				out.Close()
				return err
			}
			if err := out.Close(); err != nil {
				return err
			}
			placed = append(placed, final)
			return os.Rename(tmp, final)
		}, nil
	})
	if err != nil {
		for _, p := range placed {
			os.Remove(p)
		}
		return err
	}
	if err := writeJSON(filepath.Join(o.DataDir, RestoredName), &Restored{Backup: m.ID, TakenAt: m.CreatedAt, RestoredAt: now().UTC()}); err != nil {
		return err
	}
	return syncDir(o.DataDir)
}

// RestoreFile writes one file of backup m into dataDir, where it must not
// exist yet, after checking the whole backup: the erasure journal of the
// newest backup beside an older backup's database.
func RestoreFile(ctx context.Context, dir string, m *Manifest, w keyring.Wrapper, name, dataDir string) error {
	mm := *m
	mm.Files = nil
	for _, f := range m.Files {
		if f.Name == name {
			mm.Files = append(mm.Files, f)
		}
	}
	if len(mm.Files) == 0 {
		return fmt.Errorf("%w: backup %s holds no %s", lethe.ErrNotFound, m.ID, name)
	}
	if err := Verify(ctx, dir, m, w, nil); err != nil {
		return err
	}
	final := filepath.Join(dataDir, name)
	if _, err := os.Stat(final); err == nil {
		return fmt.Errorf("%w: %s already holds %s", lethe.ErrConflict, dataDir, name)
	}
	tmp := final + ".restoring"
	return open(ctx, dir, &mm, w, nil, func(f File) (io.Writer, func(bool) error, error) {
		out, err := os.OpenFile(tmp, os.O_CREATE|os.O_TRUNC|os.O_WRONLY, 0o600)
		if err != nil {
			return nil, nil, err
		}
		return out, func(ok bool) error {
			if !ok {
				out.Close()
				return os.Remove(tmp)
			}
			if err := out.Sync(); err != nil {
				out.Close()
				return err
			}
			if err := out.Close(); err != nil {
				return err
			}
			return os.Rename(tmp, final)
		}, nil
	})
}

// ReadRestored reads the restore marker of a data folder; nil, nil when
// there is none.
func ReadRestored(dataDir string) (*Restored, error) {
	b, err := os.ReadFile(filepath.Join(dataDir, RestoredName))
	if errors.Is(err, fs.ErrNotExist) {
		return nil, nil
	}
	if err != nil {
		return nil, err
	}
	var r Restored
	if err := json.Unmarshal(b, &r); err != nil {
		return nil, fmt.Errorf("%s: %w", RestoredName, err)
	}
	return &r, nil
}

// DefaultMaxAge is how long backups are kept unless told otherwise: 60
// days (C10).
const DefaultMaxAge = 60 * 24 * time.Hour

// Prune deletes the backups in dir created more than maxAge before now
// and returns their manifests. Unfinished backups (no manifest) older than
// maxAge by their folder's time go too.
func Prune(dir string, now time.Time, maxAge time.Duration, dryRun bool) ([]*Manifest, error) {
	if maxAge <= 0 {
		return nil, fmt.Errorf("%w: a backup age limit must be positive", lethe.ErrInvalid)
	}
	ctx := context.Background()
	loc, err := openLocation(ctx, dir)
	if err != nil {
		return nil, err
	}
	defer loc.close()
	all, err := list(ctx, loc)
	if err != nil {
		return nil, err
	}
	cut := now.Add(-maxAge)
	var gone []*Manifest
	for _, m := range all {
		if !m.CreatedAt.Before(cut) {
			continue
		}
		if !dryRun {
			if err := loc.remove(ctx, m.ID); err != nil {
				return gone, fmt.Errorf("prune %s: %w", m.ID, err)
			}
		}
		gone = append(gone, m)
	}
	return gone, nil
}
