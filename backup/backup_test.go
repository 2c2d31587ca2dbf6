package backup_test

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/lethe-privacy/lethe"
	"github.com/lethe-privacy/lethe/backup"
	"github.com/lethe-privacy/lethe/keyring"
	"github.com/lethe-privacy/lethe/sqlite"
)

func kek(t testing.TB, b byte) *keyring.FileKEK {
	t.Helper()
	k, err := keyring.NewFileKEK(bytes.Repeat([]byte{b}, keyring.KEKSize))
	if err != nil {
		t.Fatal(err)
	}
	return k
}

// seed opens a store in a data folder and writes n records of one tenant.
func seed(t testing.TB, dir string, n int) *sqlite.Store {
	t.Helper()
	st, err := sqlite.Open(context.Background(), filepath.Join(dir, "lethe.db"), sqlite.Options{})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { st.Close() })
	ctx := context.Background()
	if err := st.CreateTenant(ctx, &lethe.Tenant{ID: "shop", Packs: []string{"erp-marketplace"}}); err != nil && !errors.Is(err, lethe.ErrConflict) {
		t.Fatal(err)
	}
	insert(t, st, 0, n)
	return st
}

func insert(t testing.TB, st lethe.Store, from, n int) {
	t.Helper()
	now := time.Now().UTC()
	for i := from; i < from+n; i += 1000 {
		var recs []*lethe.Record
		for j := i; j < from+n && j < i+1000; j++ {
			recs = append(recs, &lethe.Record{Tenant: "shop", Collection: "orders", ID: fmt.Sprintf("o-%06d", j),
				CreatedAt: now, UpdatedAt: now, State: lethe.StateActive,
				Plain:  map[string]any{"ort": "Berlin"},
				Sealed: map[string][]byte{"name": bytes.Repeat([]byte{byte(j)}, 48)}})
		}
		if err := st.InsertRecords(context.Background(), recs); err != nil {
			t.Fatal(err)
		}
	}
}

func sources(dir string) []backup.Source {
	db := filepath.Join(dir, "lethe.db")
	return []backup.Source{
		backup.SQLiteSource("lethe.db", db),
		backup.SQLiteSource("lethe-manager-log.db", sqlite.ManagerLogPath(db)),
	}
}

func count(t testing.TB, path string) int {
	t.Helper()
	st, err := sqlite.Open(context.Background(), path, sqlite.Options{})
	if err != nil {
		t.Fatal(err)
	}
	defer st.Close()
	n := 0
	after := ""
	for {
		recs, err := st.ScanRecords(context.Background(), "shop", "orders", after, 1000)
		if err != nil {
			t.Fatal(err)
		}
		if len(recs) == 0 {
			return n
		}
		n += len(recs)
		after = recs[len(recs)-1].ID
	}
}

// A backup taken while a writer inserts holds a consistent database that
// restores, and lists, verifies and refuses the wrong master key.
func TestCreateWhileWritingThenRestore(t *testing.T) {
	data, dest := t.TempDir(), t.TempDir()
	st := seed(t, data, 3000)
	var stop atomic.Bool
	var wg sync.WaitGroup
	wg.Add(1)
	go func() { // the online part: writes go on during the snapshot
		defer wg.Done()
		for i := 0; !stop.Load() && i < 50; i++ {
			insert(t, st, 10000+i*100, 100)
		}
	}()
	var calls int
	m, err := backup.Create(context.Background(), backup.Options{Dir: dest, Temp: data, Sources: sources(data), Wrapper: kek(t, 1),
		Progress: func(done, total int64) { calls++ }})
	stop.Store(true)
	wg.Wait()
	if err != nil {
		t.Fatalf("Create: %v", err)
	}
	if calls == 0 {
		t.Error("no progress reported")
	}
	if len(m.Files) != 2 || m.Files[0].Size == 0 {
		t.Fatalf("manifest files: %+v", m.Files)
	}
	// The stored files are not the database in the clear.
	enc, err := os.ReadFile(filepath.Join(dest, m.ID, "lethe.db.enc"))
	if err != nil {
		t.Fatal(err)
	}
	if bytes.Contains(enc, []byte("SQLite format 3")) || bytes.Contains(enc, []byte("o-000001")) {
		t.Error("backup file holds plaintext")
	}
	list, err := backup.List(dest)
	if err != nil || len(list) != 1 || list[0].ID != m.ID {
		t.Fatalf("List: %v %v", list, err)
	}
	if err := backup.Verify(context.Background(), dest, m, kek(t, 1), nil); err != nil {
		t.Fatalf("Verify: %v", err)
	}
	if err := backup.Verify(context.Background(), dest, m, kek(t, 2), nil); !errors.Is(err, keyring.ErrWrongMasterKey) {
		t.Fatalf("Verify with another master key: %v", err)
	}
	target := t.TempDir()
	if err := backup.Restore(context.Background(), dest, m, kek(t, 1), backup.RestoreOptions{DataDir: target}); err != nil {
		t.Fatalf("Restore: %v", err)
	}
	n := count(t, filepath.Join(target, "lethe.db"))
	if n < 3000 || (n-3000)%100 != 0 {
		t.Errorf("restored %d records: want 3000 and whole batches of 100 (a consistent snapshot)", n)
	}
	r, err := backup.ReadRestored(target)
	if err != nil || r == nil || r.Backup != m.ID || !r.TakenAt.Equal(m.CreatedAt) {
		t.Errorf("restore marker: %+v %v", r, err)
	}
	// A second restore into the same folder is refused and changes nothing.
	before, _ := os.ReadFile(filepath.Join(target, "lethe.db"))
	err = backup.Restore(context.Background(), dest, m, kek(t, 1), backup.RestoreOptions{DataDir: target})
	if !errors.Is(err, lethe.ErrConflict) {
		t.Fatalf("Restore into a folder with data: %v, want ErrConflict", err)
	}
	after, _ := os.ReadFile(filepath.Join(target, "lethe.db"))
	if !bytes.Equal(before, after) {
		t.Error("refused restore changed the database")
	}
}

// Any change to a stored file, and a cut or swapped file, is found by
// verify, and restore then writes nothing.
func TestVerifyFindsEveryChange(t *testing.T) {
	data, dest := t.TempDir(), t.TempDir()
	seed(t, data, 500)
	m, err := backup.Create(context.Background(), backup.Options{Dir: dest, Temp: data, Sources: sources(data), Wrapper: kek(t, 1)})
	if err != nil {
		t.Fatal(err)
	}
	encPath := filepath.Join(dest, m.ID, "lethe.db.enc")
	orig, err := os.ReadFile(encPath)
	if err != nil {
		t.Fatal(err)
	}
	cases := []struct {
		name   string
		change func(b []byte) []byte
		// manifest, when set, rewrites the manifest's sums too (an
		// attacker who edits both: only decryption can tell).
		manifest bool
	}{
		{"flipped byte", func(b []byte) []byte { b[len(b)/2] ^= 1; return b }, false},
		{"cut short", func(b []byte) []byte { return b[:len(b)-100] }, false},
		{"flipped byte, manifest rewritten", func(b []byte) []byte { b[len(b)/2] ^= 1; return b }, true},
		{"last chunk dropped, manifest rewritten", func(b []byte) []byte { return b[:len(b)/2] }, true},
		{"other file swapped in, manifest rewritten", func([]byte) []byte {
			b, _ := os.ReadFile(filepath.Join(dest, m.ID, "lethe-manager-log.db.enc"))
			return b
		}, true},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			b := c.change(append([]byte(nil), orig...))
			if err := os.WriteFile(encPath, b, 0o600); err != nil {
				t.Fatal(err)
			}
			defer os.WriteFile(encPath, orig, 0o600)
			mm := *m
			if c.manifest {
				mm.Files = append([]backup.File(nil), m.Files...)
				mm.Files[0].EncryptedSize, mm.Files[0].EncryptedSHA256 = sha(b)
			}
			err := backup.Verify(context.Background(), dest, &mm, kek(t, 1), nil)
			if !errors.Is(err, backup.ErrCorrupt) {
				t.Fatalf("Verify: %v, want ErrCorrupt", err)
			}
			target := t.TempDir()
			if err := backup.Restore(context.Background(), dest, &mm, kek(t, 1), backup.RestoreOptions{DataDir: target}); !errors.Is(err, backup.ErrCorrupt) {
				t.Fatalf("Restore: %v, want ErrCorrupt", err)
			}
			if ents, _ := os.ReadDir(target); len(ents) != 0 {
				t.Errorf("failed restore left %d files", len(ents))
			}
		})
	}
	if err := backup.Verify(context.Background(), dest, m, kek(t, 1), nil); err != nil {
		t.Fatalf("Verify of the untouched backup: %v", err)
	}
}

// Backups are pruned once older than the age limit (60 days by default),
// by an injected clock.
func TestPruneAtSixtyDays(t *testing.T) {
	data, dest := t.TempDir(), t.TempDir()
	seed(t, data, 10)
	start := time.Date(2026, 1, 1, 3, 0, 0, 0, time.UTC)
	var ids []string
	for _, age := range []int{0, 1, 2} { // days after start
		at := start.AddDate(0, 0, age)
		m, err := backup.Create(context.Background(), backup.Options{Dir: dest, Temp: data, Sources: sources(data), Wrapper: kek(t, 1),
			Now: func() time.Time { return at }})
		if err != nil {
			t.Fatal(err)
		}
		ids = append(ids, m.ID)
	}
	for _, c := range []struct {
		now  time.Time
		gone []string
	}{
		{start.Add(backup.DefaultMaxAge), nil}, // exactly 60 days: kept
		{start.Add(backup.DefaultMaxAge + time.Millisecond), ids[:1]},
		{start.AddDate(0, 0, 61).Add(time.Hour), ids[1:2]},
	} {
		gone, err := backup.Prune(dest, c.now, backup.DefaultMaxAge, false)
		if err != nil {
			t.Fatal(err)
		}
		var got []string
		for _, m := range gone {
			got = append(got, m.ID)
			if _, err := os.Stat(filepath.Join(dest, m.ID)); !errors.Is(err, os.ErrNotExist) {
				t.Errorf("%s still on disk", m.ID)
			}
		}
		if fmt.Sprint(got) != fmt.Sprint(c.gone) {
			t.Errorf("at %s pruned %v, want %v", c.now, got, c.gone)
		}
	}
	list, _ := backup.List(dest)
	if len(list) != 1 || list[0].ID != ids[2] {
		t.Errorf("left: %v", list)
	}
}
