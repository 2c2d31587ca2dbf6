package backup_test

import (
	"context"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/lethe-privacy/lethe"
	"github.com/lethe-privacy/lethe/backup"
	"github.com/lethe-privacy/lethe/sqlite"
)

// drillRecords is the size of the drill's store (issue 16: 100k records).
const drillRecords = 100_000

// fixture writes a store of n records shaped like an order: three sealed
// fields of envelope size, two blind-index entries, a few plain fields.
func fixture(b *testing.B, dir string, n int) string {
	b.Helper()
	path := filepath.Join(dir, "lethe.db")
	st, err := sqlite.Open(context.Background(), path, sqlite.Options{})
	if err != nil {
		b.Fatal(err)
	}
	defer st.Close()
	ctx := context.Background()
	if err := st.CreateTenant(ctx, &lethe.Tenant{ID: "shop", Packs: []string{"erp-marketplace"}}); err != nil {
		b.Fatal(err)
	}
	now := time.Now().UTC()
	env := func(seed, size int) []byte {
		v := make([]byte, size)
		for i := range v {
			v[i] = byte(seed*31 + i*7)
		}
		return v
	}
	for i := 0; i < n; i += 1000 {
		recs := make([]*lethe.Record, 0, 1000)
		for j := i; j < i+1000 && j < n; j++ {
			recs = append(recs, &lethe.Record{Tenant: "shop", Collection: "orders", ID: fmt.Sprintf("A-%07d", j), Origin: "amazon",
				CreatedAt: now, UpdatedAt: now, State: lethe.StateActive,
				Plain:    map[string]any{"plz": "10115", "ort": "Berlin", "total": 42.5},
				Sealed:   map[string][]byte{"name": env(j, 60), "email": env(j+1, 64), "street": env(j+2, 70)},
				Subjects: []lethe.Subject{{Kind: "email", Field: "email", Hash: env(j+3, 16)}, {Kind: "name", Field: "name", Hash: env(j+4, 16)}}})
		}
		if err := st.InsertRecords(ctx, recs); err != nil {
			b.Fatal(err)
		}
	}
	if err := st.Checkpoint(ctx); err != nil {
		b.Fatal(err)
	}
	return path
}

// BenchmarkDrill backs up and restores a 100k-record store, beside a
// copy of the database file (io.Copy and fsync, what "cp; sync" does) in
// the same run. MB/s are of the database's bytes.
func BenchmarkDrill(b *testing.B) {
	data := b.TempDir()
	db := fixture(b, data, drillRecords)
	fi, err := os.Stat(db)
	if err != nil {
		b.Fatal(err)
	}
	size := fi.Size()
	w := kek(b, 1)
	src := []backup.Source{backup.SQLiteSource("lethe.db", db)}
	dest := b.TempDir()
	m, err := backup.Create(context.Background(), backup.Options{Dir: dest, Temp: data, Sources: src, Wrapper: w})
	if err != nil {
		b.Fatal(err)
	}
	b.Logf("store: %d records, %d bytes", drillRecords, size)

	b.Run("copy-baseline", func(b *testing.B) {
		b.SetBytes(size)
		for i := 0; b.Loop(); i++ {
			out := filepath.Join(b.TempDir(), "copy.db")
			if err := copyFile(db, out); err != nil {
				b.Fatal(err)
			}
		}
	})
	b.Run("create", func(b *testing.B) {
		b.SetBytes(size)
		for i := 0; b.Loop(); i++ {
			at := time.Date(2026, 1, 1, 0, 0, i, 0, time.UTC)
			if _, err := backup.Create(context.Background(), backup.Options{Dir: b.TempDir(), Temp: data, Sources: src, Wrapper: w,
				Now: func() time.Time { return at }}); err != nil {
				b.Fatal(err)
			}
		}
	})
	b.Run("verify", func(b *testing.B) {
		b.SetBytes(size)
		for b.Loop() {
			if err := backup.Verify(context.Background(), dest, m, w, nil); err != nil {
				b.Fatal(err)
			}
		}
	})
	b.Run("restore", func(b *testing.B) {
		b.SetBytes(size)
		for b.Loop() {
			if err := backup.Restore(context.Background(), dest, m, w, backup.RestoreOptions{DataDir: b.TempDir()}); err != nil {
				b.Fatal(err)
			}
		}
	})
	// The restore a 24-hour promise (X6) counts: the backup checked,
	// decrypted and written, then the first start's rebuild of the file
	// (VACUUM, after the erasure journal's replay).
	b.Run("restore-and-open", func(b *testing.B) {
		b.SetBytes(size)
		for b.Loop() {
			target := b.TempDir()
			if err := backup.Restore(context.Background(), dest, m, w, backup.RestoreOptions{DataDir: target}); err != nil {
				b.Fatal(err)
			}
			st, err := sqlite.Open(context.Background(), filepath.Join(target, "lethe.db"), sqlite.Options{})
			if err != nil {
				b.Fatal(err)
			}
			if err := st.Vacuum(context.Background()); err != nil {
				b.Fatal(err)
			}
			st.Close()
		}
	})
}

func copyFile(src, dst string) error {
	in, err := os.Open(src)
	if err != nil {
		return err
	}
	defer in.Close()
	out, err := os.Create(dst)
	if err != nil {
		return err
	}
	if _, err := io.Copy(out, in); err != nil {
		out.Close()
		return err
	}
	if err := out.Sync(); err != nil {
		out.Close()
		return err
	}
	return out.Close()
}
