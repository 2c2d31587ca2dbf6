// Package backup makes, checks, restores and prunes encrypted backups of a
// SQLite data folder: a consistent snapshot of the database and its
// manager log (VACUUM INTO, online, while a server writes), the erasure
// journal beside them, each file sealed with AES-256-GCM under a fresh
// backup key that the master key wraps, and a manifest of SHA-256 sums.
// See docs/adr/0016-encrypted-backups-and-the-erasure-journal.md.
package backup

import (
	"context"
	"crypto/rand"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path/filepath"
	"sort"
	"strings"
	"time"

	"github.com/lethe-privacy/lethe"
	"github.com/lethe-privacy/lethe/keyring"
)

// ManifestName is the manifest's file name inside a backup's folder. It is
// written last: a folder without one is a backup that did not finish.
const ManifestName = "manifest.json"

// manifestFormat is the version of the manifest and file format.
const manifestFormat = 1

// Manifest describes one backup.
type Manifest struct {
	Format    int       `json:"format"`
	ID        string    `json:"id"`
	CreatedAt time.Time `json:"created_at"`
	// KEKID names the master key that wrapped the backup key.
	KEKID      string `json:"kek_id"`
	WrappedKey []byte `json:"wrapped_key"`
	Files      []File `json:"files"`
}

// File is one file of a backup.
type File struct {
	// Name is the file's name in the data folder (lethe.db, ...); the
	// backup holds it as Name + ".enc".
	Name string `json:"name"`
	// Size and SHA256 are of the plaintext, checked after decryption.
	Size   int64  `json:"size"`
	SHA256 string `json:"sha256"`
	// EncryptedSHA256 is of the file as stored, checked before it is
	// opened, without the key.
	EncryptedSize   int64  `json:"encrypted_size"`
	EncryptedSHA256 string `json:"encrypted_sha256"`
}

// Size returns the plaintext size of all files.
func (m *Manifest) Size() int64 {
	var n int64
	for _, f := range m.Files {
		n += f.Size
	}
	return n
}

// Source is one file to back up.
type Source struct {
	Name string
	// Snapshot writes a consistent copy of the file to dst (a path that
	// does not exist yet, in a private temporary folder).
	Snapshot func(ctx context.Context, dst string) error
}

// Options configure Create.
type Options struct {
	// Dir is the folder the backups are written to, one folder each.
	Dir string
	// Temp is a private folder for the plaintext snapshots while they are
	// encrypted (the data folder: it is the one place that already holds
	// them); removed files, never left behind.
	Temp    string
	Sources []Source
	Wrapper keyring.Wrapper
	Now     func() time.Time
	// Progress, when set, is called with the plaintext bytes done and the
	// total so far known.
	Progress func(done, total int64)
}

// Create writes a new backup and returns its manifest.
func Create(ctx context.Context, o Options) (*Manifest, error) {
	now := time.Now
	if o.Now != nil {
		now = o.Now
	}
	loc, err := openLocation(ctx, o.Dir)
	if err != nil {
		return nil, err
	}
	defer loc.close()
	t := now().UTC()
	m := &Manifest{Format: manifestFormat, ID: t.Format("20060102T150405.000Z"), CreatedAt: t, KEKID: o.Wrapper.ID()}
	if err := loc.begin(ctx, m.ID); err != nil {
		return nil, err
	}
	ok := false
	defer func() {
		if !ok {
			loc.remove(context.WithoutCancel(ctx), m.ID)
		}
	}()
	key := make([]byte, 32)
	if _, err := rand.Read(key); err != nil {
		return nil, err
	}
	wrapped, kekID, err := o.Wrapper.Wrap(ctx, key)
	if err != nil {
		return nil, fmt.Errorf("wrap backup key: %w", err)
	}
	m.WrappedKey, m.KEKID = wrapped, kekID
	tmp, err := os.MkdirTemp(o.Temp, ".lethe-backup-")
	if err != nil {
		return nil, fmt.Errorf("backup: temporary folder: %w", err)
	}
	defer os.RemoveAll(tmp)
	var done, total int64
	for _, s := range o.Sources {
		snap := filepath.Join(tmp, s.Name)
		if err := s.Snapshot(ctx, snap); err != nil {
			return nil, fmt.Errorf("backup: snapshot of %s: %w", s.Name, err)
		}
		if fi, err := os.Stat(snap); err == nil {
			total += fi.Size()
		}
		f, err := sealFile(ctx, loc, snap, m.ID, s.Name, key, func(n int64) {
			done += n
			if o.Progress != nil {
				o.Progress(done, total)
			}
		})
		os.Remove(snap)
		if err != nil {
			return nil, fmt.Errorf("backup: %s: %w", s.Name, err)
		}
		m.Files = append(m.Files, *f)
	}
	if err := writeManifest(ctx, loc, m); err != nil {
		return nil, err
	}
	if err := loc.finish(ctx, m.ID); err != nil {
		return nil, err
	}
	ok = true
	return m, nil
}

// sealFile encrypts the snapshot at src into ID/name.enc.
func sealFile(ctx context.Context, loc location, src, id, name string, key []byte, progress func(int64)) (*File, error) {
	in, err := os.Open(src)
	if err != nil {
		return nil, err
	}
	defer in.Close()
	aead, err := fileAEAD(key, id, name)
	if err != nil {
		return nil, err
	}
	out, err := loc.create(ctx, id, name+".enc")
	if err != nil {
		return nil, err
	}
	plainSum, encSum := sha256.New(), sha256.New()
	enc := &countWriter{w: io.MultiWriter(out, encSum)}
	size, err := encrypt(enc, io.TeeReader(in, plainSum), aead, progress)
	if err != nil {
		out.Abort()
		return nil, err
	}
	return &File{Name: name, Size: size, SHA256: hex.EncodeToString(plainSum.Sum(nil)),
		EncryptedSize: enc.n, EncryptedSHA256: hex.EncodeToString(encSum.Sum(nil))}, out.Commit()
}

// writeManifest writes m last: a backup without one is unfinished.
func writeManifest(ctx context.Context, loc location, m *Manifest) error {
	b, err := json.MarshalIndent(m, "", "  ")
	if err != nil {
		return err
	}
	out, err := loc.create(ctx, m.ID, ManifestName)
	if err != nil {
		return err
	}
	if _, err := out.Write(append(b, '\n')); err != nil {
		out.Abort()
		return err
	}
	return out.Commit()
}

type countWriter struct {
	w io.Writer
	n int64
}

func (c *countWriter) Write(p []byte) (int, error) {
	n, err := c.w.Write(p)
	c.n += int64(n)
	return n, err
}

// List returns the finished backups in dir (a folder or a bucket URL,
// as Options.Dir), oldest first. Backups without a readable manifest are
// skipped.
func List(dir string) ([]*Manifest, error) {
	ctx := context.Background() // bounded by the bucket client's own timeouts
	loc, err := openLocation(ctx, dir)
	if err != nil {
		return nil, err
	}
	defer loc.close()
	return list(ctx, loc)
}

func list(ctx context.Context, loc location) ([]*Manifest, error) {
	ids, err := loc.ids(ctx)
	if err != nil {
		return nil, err
	}
	var out []*Manifest
	for _, id := range ids {
		m, err := readManifest(ctx, loc, id)
		if err != nil {
			continue
		}
		out = append(out, m)
	}
	sort.Slice(out, func(i, j int) bool { return out[i].CreatedAt.Before(out[j].CreatedAt) })
	return out, nil
}

// Find reads the manifest of backup id in dir; ErrNotFound when there is
// none.
func Find(dir, id string) (*Manifest, error) {
	if id == "" || id != filepath.Base(id) || strings.HasPrefix(id, ".") {
		return nil, fmt.Errorf("%w: backup id %q", lethe.ErrInvalid, id)
	}
	ctx := context.Background()
	loc, err := openLocation(ctx, dir)
	if err != nil {
		return nil, err
	}
	defer loc.close()
	m, err := readManifest(ctx, loc, id)
	if errors.Is(err, fs.ErrNotExist) {
		return nil, fmt.Errorf("%w: no backup %s in %s", lethe.ErrNotFound, id, loc)
	}
	return m, err
}

// maxManifest bounds what is read as a manifest.
const maxManifest = 1 << 20

func readManifest(ctx context.Context, loc location, id string) (*Manifest, error) {
	r, err := loc.open(ctx, id, ManifestName)
	if err != nil {
		return nil, err
	}
	b, err := io.ReadAll(io.LimitReader(r, maxManifest))
	r.Close()
	if err != nil {
		return nil, err
	}
	var m Manifest
	if err := json.Unmarshal(b, &m); err != nil {
		return nil, fmt.Errorf("%w: manifest of %s: %v", ErrCorrupt, id, err)
	}
	if m.Format != manifestFormat || m.ID != id {
		return nil, fmt.Errorf("%w: manifest of %s: format %d, id %q", ErrCorrupt, id, m.Format, m.ID)
	}
	for _, f := range m.Files {
		if f.Name == "" || f.Name != filepath.Base(f.Name) || strings.HasPrefix(f.Name, ".") {
			return nil, fmt.Errorf("%w: manifest of %s names file %q", ErrCorrupt, id, f.Name)
		}
	}
	return &m, nil
}

func writeJSON(path string, v any) error {
	b, err := json.MarshalIndent(v, "", "  ")
	if err != nil {
		return err
	}
	tmp := path + ".tmp"
	f, err := os.OpenFile(tmp, os.O_CREATE|os.O_TRUNC|os.O_WRONLY, 0o600)
	if err != nil {
		return err
	}
	if _, err := f.Write(append(b, '\n')); err != nil {
		f.Close()
		return err
	}
	if err := f.Sync(); err != nil {
		f.Close()
		return err
	}
	if err := f.Close(); err != nil {
		return err
	}
	return os.Rename(tmp, path)
}

func syncDir(dir string) error {
	d, err := os.Open(dir)
	if err != nil {
		return err
	}
	defer d.Close()
	return d.Sync()
}
