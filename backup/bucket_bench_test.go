package backup_test

import (
	"context"
	"os"
	"testing"
	"time"

	"github.com/lethe-privacy/lethe/backup"
	"github.com/lethe-privacy/lethe/backup/s3test"
)

// bucketRecords is the store size of BenchmarkBucket: a fifth of the
// drill's, since every run holds the backups in the fake's memory.
const bucketRecords = 20000

// BenchmarkBucket backs up to, verifies from and restores from an
// S3-compatible bucket on loopback (gofakes3, in memory), beside the same
// operations on a folder in the same run. MB/s are of the database's
// bytes. The bucket's figures bound the client's cost (S3 protocol,
// signing, checksums, HTTP), not a real S3's network.
func BenchmarkBucket(b *testing.B) {
	s3 := s3test.Start(b, "bench")
	data := b.TempDir()
	db := fixture(b, data, bucketRecords)
	fi, err := os.Stat(db)
	if err != nil {
		b.Fatal(err)
	}
	size := fi.Size()
	w := kek(b, 1)
	src := []backup.Source{backup.SQLiteSource("lethe.db", db)}
	folder := b.TempDir()
	for _, where := range []struct{ name, dir string }{{"folder", folder}, {"bucket", s3.URL("bench")}} {
		m, err := backup.Create(context.Background(), backup.Options{Dir: where.dir, Temp: data, Sources: src, Wrapper: w})
		if err != nil {
			b.Fatal(err)
		}
		b.Run(where.name+"/create", func(b *testing.B) {
			b.SetBytes(size)
			for i := 0; b.Loop(); i++ {
				at := time.Date(2026, 1, 1, 0, 0, i, 0, time.UTC)
				m, err := backup.Create(context.Background(), backup.Options{Dir: where.dir, Temp: data, Sources: src, Wrapper: w,
					Now: func() time.Time { return at }})
				if err != nil {
					b.Fatal(err)
				}
				b.StopTimer()
				if _, err := backup.Prune(where.dir, at.Add(time.Hour), time.Minute, false); err != nil || m == nil {
					b.Fatal(err)
				}
				b.StartTimer()
			}
		})
		b.Run(where.name+"/verify", func(b *testing.B) {
			b.SetBytes(size)
			for b.Loop() {
				if err := backup.Verify(context.Background(), where.dir, m, w, nil); err != nil {
					b.Fatal(err)
				}
			}
		})
		b.Run(where.name+"/restore", func(b *testing.B) {
			b.SetBytes(size)
			for b.Loop() {
				if err := backup.Restore(context.Background(), where.dir, m, w, backup.RestoreOptions{DataDir: b.TempDir()}); err != nil {
					b.Fatal(err)
				}
			}
		})
	}
}
