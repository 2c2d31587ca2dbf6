package keyring

import (
	"bytes"
	"context"
	"errors"
	"os"
	"path/filepath"
	"regexp"
	"runtime"
	"testing"

	"github.com/lethe-privacy/lethe"
)

// TestFileMaster_RotateKeepsOldVersionsAndAnotherProcessSeesIt: a key file
// written before versions existed opens as version one; a rotation appends
// a line (the file stays 0600), keys wrapped before still open, and a
// second FileMaster on the same file (the running server) wraps with the
// new version from its next wrap on.
func TestFileMaster_RotateKeepsOldVersionsAndAnotherProcessSeesIt(t *testing.T) {
	ctx := context.Background()
	path := filepath.Join(t.TempDir(), "master.key")
	old, err := CreateKeyFile(path)
	if err != nil {
		t.Fatal(err)
	}
	m, err := OpenFileMaster(path)
	if err != nil {
		t.Fatal(err)
	}
	server, err := OpenFileMaster(path)
	if err != nil {
		t.Fatal(err)
	}
	if m.ID() != old.ID() {
		t.Fatalf("one-line key file: id %s, want %s", m.ID(), old.ID())
	}
	dek := bytes.Repeat([]byte{3}, 32)
	w1, id1, err := server.Wrap(ctx, dek)
	if err != nil {
		t.Fatal(err)
	}
	id2, err := m.Rotate(ctx)
	if err != nil {
		t.Fatal(err)
	}
	data, _ := os.ReadFile(path)
	if !regexp.MustCompile(`^[0-9a-f]{64}\n[0-9a-f]{64}\n$`).Match(data) {
		t.Fatalf("rotated file: %q", data)
	}
	if fi, _ := os.Stat(path); runtime.GOOS != "windows" && fi.Mode().Perm() != 0o600 {
		t.Fatalf("rotated file mode %04o", fi.Mode().Perm())
	}
	if entries, _ := os.ReadDir(filepath.Dir(path)); len(entries) != 1 {
		t.Fatalf("folder holds %d entries after rotation (temp or lock file left?)", len(entries))
	}
	_, idS, err := server.Wrap(ctx, dek)
	if err != nil || idS != id2 {
		t.Fatalf("the other process wraps with %s (%v), want the new version %s", idS, err, id2)
	}
	w2, idR, err := Rewrap(ctx, m, w1, id1)
	if err != nil || idR != id2 {
		t.Fatal(idR, err)
	}
	if got, err := server.Unwrap(ctx, w2, idR); err != nil || !bytes.Equal(got, dek) {
		t.Fatal(err)
	}
	if err := m.Destroy(ctx, id2); !errors.Is(err, lethe.ErrConflict) {
		t.Fatalf("destroy of the current version: %v", err)
	}
	if err := m.Destroy(ctx, id1); err != nil {
		t.Fatal(err)
	}
	if err := m.Destroy(ctx, id1); !errors.Is(err, lethe.ErrNotFound) {
		t.Fatalf("second destroy: %v, want ErrNotFound", err)
	}
	if _, err := server.Unwrap(ctx, w1, id1); !errors.Is(err, ErrWrongMasterKey) {
		t.Fatalf("unwrap under a destroyed version: %v", err)
	}
	if vs, _ := m.Versions(ctx); len(vs) != 1 || vs[0] != id2 {
		t.Fatalf("versions: %v", vs)
	}
}

func TestFileMaster_RotationRefusedWhileAnotherRuns(t *testing.T) {
	path := filepath.Join(t.TempDir(), "master.key")
	if _, err := CreateKeyFile(path); err != nil {
		t.Fatal(err)
	}
	m, err := OpenFileMaster(path)
	if err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(path+".lock", nil, 0o600); err != nil {
		t.Fatal(err)
	}
	before, _ := os.ReadFile(path)
	if _, err := m.Rotate(context.Background()); !errors.Is(err, lethe.ErrConflict) {
		t.Fatalf("rotate with a lock file present: %v", err)
	}
	if after, _ := os.ReadFile(path); !bytes.Equal(before, after) {
		t.Fatal("key file changed by a refused rotation")
	}
}

func TestOpenMaster_FileURLForms(t *testing.T) {
	dir := t.TempDir()
	path := filepath.Join(dir, "master.key")
	k, err := CreateKeyFile(path)
	if err != nil {
		t.Fatal(err)
	}
	for _, raw := range []string{path, "file://" + path, "file:" + path} {
		m, created, err := OpenMaster(context.Background(), raw, MasterOptions{})
		if err != nil || created || m.ID() != k.ID() {
			t.Errorf("%s: %v, created %v", raw, err, created)
		}
	}
	if _, _, err := OpenMaster(context.Background(), "file://"+filepath.Join(dir, "none"), MasterOptions{}); err == nil {
		t.Error("missing key file opened without Create")
	}
	m, created, err := OpenMaster(context.Background(), "file://"+filepath.Join(dir, "new.key"), MasterOptions{Create: true})
	if err != nil || !created || m == nil {
		t.Errorf("create: %v, created %v", err, created)
	}
}
